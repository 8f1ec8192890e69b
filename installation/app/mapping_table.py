"""The profile's ``[mapping]`` table: which mapper project the piece runs,
and where its OSC goes::

    [mapping]
    project = "mapper"                  # the project folder, relative to the profile
    control = "127.0.0.1:6448"          # optional: Wekinator control messages in
    send = ["127.0.0.1:12000"]          # optional: /wek/outputs out, while running
    send_features = ["127.0.0.1:6448"]  # optional: features as /wek/inputs (a real Wekinator)
    send_landmarks = ["127.0.0.1:9000"] # optional: landmarks under /installation/...
    run = true                          # start running at once when trained

:func:`load_mapper` checks it and makes the training session it describes
(``installation run`` and ``installation doctor`` use it).
"""
from __future__ import annotations

from pathlib import Path

from installation.app.training import TrainingSession
from installation.errors import InstallationError, did_you_mean
from installation.mapping.project import Project

MAPPING_KEYS = ("project", "control", "send", "send_features", "send_landmarks", "run")


def load_mapper(profile) -> TrainingSession | None:
    """The session the profile's ``[mapping]`` table describes (None without one)."""
    from installation.osc import (LandmarkSender, OscReceiver, WekinatorInputs, WekinatorOutputs,
                                  parse_destination)

    table = profile.table("mapping")
    if not table:
        return None
    where = f"{profile.path or 'profile'} [mapping]"
    for key in table:
        if key not in MAPPING_KEYS:
            raise InstallationError(f"unknown key '{key}'", where, did_you_mean(
                key, MAPPING_KEYS, otherwise=f"valid keys: {', '.join(MAPPING_KEYS)}"))
    folder = table.get("project")
    if not isinstance(folder, str) or not folder:
        raise InstallationError("'project' must name the mapper project folder", where,
                                'add project = "path/to/project" (relative to the profile)')
    path = Path(folder)
    if not path.is_absolute() and profile.path is not None:
        path = Path(profile.path).parent / path
    run = table.get("run", True)
    if not isinstance(run, bool):
        raise InstallationError(f"'run' must be true or false, got {run!r}", where)

    def destinations(key: str, default_port: int):
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InstallationError(f"'{key}' must be a list of \"host:port\"", where,
                                    f'write it like {key} = ["127.0.0.1:{default_port}"]')
        return [parse_destination(v, default_port, f"{where} {key}") for v in value]

    send = destinations("send", 12000)
    features = destinations("send_features", 6448)
    landmarks = destinations("send_landmarks", 9000)
    control = table.get("control")
    receiver = None
    if control is not None:
        if not isinstance(control, str):
            raise InstallationError(f"'control' must be \"host:port\", got {control!r}", where)
        host, port = parse_destination(control, 6448, f"{where} control")
        receiver = OscReceiver(host, port, name="mapper control")
    project = Project.load(path)
    return TrainingSession(
        project, run=run, receiver=receiver,
        osc_out=WekinatorOutputs(send) if send else None,
        feature_out=WekinatorInputs(features) if features else None,
        landmark_out=LandmarkSender(landmarks) if landmarks else None)
