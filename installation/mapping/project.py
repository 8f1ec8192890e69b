"""A mapper project: named inputs, named outputs, examples, trained models.

A project is a folder::

    project.toml        what it is: features or inputs, outputs and settings
    examples.csv        classifier and regressor examples (see dataset.py)
    gestures.csv        DTW gesture templates
    models/             trained models (skops) and manifest.json

``Project.load`` only reads: a project written by another version, a
damaged or untrusted file gives a MappingError naming the file and what to
do, and no file is changed. ``save`` writes each file atomically, the model
manifest last, and takes in what another process wrote meanwhile (see
folder.py, which holds the reading and saving).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from installation.mapping.dataset import Examples, Templates
from installation.mapping.dtw import GestureModel, fit_gestures
from installation.mapping.folder import (EXAMPLES_FILE, FORMAT, GESTURES_FILE,  # noqa: F401
                                         MANIFEST_FILE, MODELS_DIR, PROJECT_FILE, VERSION,
                                         ProjectFolder)
from installation.mapping.spec import (GestureOutput, MappingError, OutputSpec,
                                       RegressorOutput, check_name, close_hint, output_from_table,
                                       output_to_table)
from installation.mapping.store import ModelFileError
from installation.mapping.train import TrainReport, Trained, fit_output

log = logging.getLogger("installation.mapping")


class Project(ProjectFolder):
    """Inputs, outputs, examples and models.

    ``features`` names the feature groups whose columns are the inputs (see
    installation.features); or, for inputs that arrive by OSC, ``inputs``
    names them and ``features`` is empty.
    """

    def __init__(self, outputs, *, features=(), inputs=(), path=None, where: str | None = None):
        from installation.features import columns_of, expand

        self.path = Path(path) if path is not None else None
        where = where or (str(self.path / PROJECT_FILE) if self.path else "project")
        self.features = expand(features, where) if features else ()
        if self.features and inputs:
            raise MappingError("a project takes its inputs from features or names them, not both",
                               where, "remove 'inputs' or 'features'")
        self.inputs = columns_of(self.features) if self.features else tuple(inputs)
        if not self.inputs:
            raise MappingError("the project has no inputs", where,
                               'add features = ["pose", ...] or inputs = ["inputs-1", ...]')
        for name in self.inputs:
            check_name(name, "input", where)
        if len(set(self.inputs)) != len(self.inputs):
            raise MappingError("input names repeat", where, "give each input its own name")
        self.outputs: dict[str, OutputSpec] = {}
        files: dict[str, str] = {}
        for spec in outputs:
            check_name(spec.name, "output", where)
            if spec.name in self.outputs:
                raise MappingError(f"output {spec.name!r} is defined twice", where)
            # Outputs name model files, and some file systems ignore case.
            other = files.setdefault(spec.name.lower(), spec.name)
            if other != spec.name:
                raise MappingError(f"outputs {other!r} and {spec.name!r} differ only in case",
                                   where, "give each output a name of its own")
            self.outputs[spec.name] = spec
        if not self.outputs:
            raise MappingError("the project has no outputs", where,
                               "add an [outputs.NAME] table with a type")
        self.columns = {name: spec.resolve_inputs(self.inputs, where)
                        for name, spec in self.outputs.items()}
        # Index arrays for outputs that use some inputs only (precomputed:
        # predict runs on every frame).
        self._index = {name: np.array(cols) for name, cols in self.columns.items()
                       if len(cols) != len(self.inputs)}
        # Changes are kept only where they are saved (see save).
        track = self.path is not None
        self.examples = Examples(self.inputs, self.learned, track=track)
        self.templates = Templates(self.inputs, track=track)
        self.trained_: dict[str, Trained] = {}
        self.gestures_: dict[str, GestureModel] = {}
        #: Problems with the model files met by ``load(path, models="skip")``.
        self.model_problems: list[ModelFileError] = []
        self._unsaved_models: set[str] = set()
        # What the files held when last read or written: digests of
        # examples.csv and gestures.csv, their takes, the manifest's digest.
        self._synced: tuple = (None, None)
        self._synced_takes: set[int] = set()
        self._synced_manifest: bytes | None = None
        self._rewrite_manifest = False

    # -- what it is -----------------------------------------------------------------

    @property
    def learned(self) -> tuple[str, ...]:
        """Classifier and regressor outputs (those examples.csv holds)."""
        return tuple(n for n, s in self.outputs.items() if not isinstance(s, GestureOutput))

    @property
    def dtw(self) -> tuple[str, ...]:
        return tuple(n for n, s in self.outputs.items() if isinstance(s, GestureOutput))

    def is_trained(self, name: str) -> bool:
        return name in self.trained_ or name in self.gestures_

    def signature(self, name: str) -> dict:
        """What a trained model depends on; a change means "train again"."""
        spec = self.outputs[name]
        sig = {"type": spec.type, "inputs": [self.inputs[i] for i in self.columns[name]]}
        if not isinstance(spec, GestureOutput):
            sig.update(model=spec.model, params=json.loads(json.dumps(spec.params)))
        else:
            sig.update(threshold=spec.threshold, downsample=spec.downsample)
        return sig

    def renamed(self, inputs=None, outputs=None) -> "Project":
        """The same project with new input or output names (Wekinator's
        setInputNames / setOutputNames); only while it has no examples."""
        import dataclasses

        if len(self.examples) or len(self.templates) or self.trained_ or self.gestures_:
            raise MappingError("names can change only while the project has no examples",
                               str(self.path or "project"),
                               "delete all examples first, or start a new project")
        if inputs is not None:
            if self.features:
                raise MappingError("inputs come from features; their names are fixed",
                                   str(self.path or "project"))
            if len(inputs) != len(self.inputs):
                raise MappingError(f"got {len(inputs)} input names, the project has "
                                   f"{len(self.inputs)} inputs", "setInputNames")
        specs = list(self.outputs.values())
        if outputs is not None:
            if len(outputs) != len(specs):
                raise MappingError(f"got {len(outputs)} output names, the project has "
                                   f"{len(specs)} outputs", "setOutputNames")
            specs = [dataclasses.replace(spec, name=check_name(name, "output", "setOutputNames"))
                     for spec, name in zip(specs, outputs)]
        if inputs is not None:
            # Patterns naming old inputs would point at nothing.
            specs = [dataclasses.replace(spec, inputs=()) if spec.inputs else spec
                     for spec in specs]
        project = Project(specs, features=self.features,
                          inputs=() if self.features else (inputs or self.inputs),
                          path=self.path)
        # The files are the same files: what they held is known.
        project._synced, project._synced_takes = self._synced, self._synced_takes
        project._synced_manifest = self._synced_manifest
        return project

    # -- TOML -----------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict, where: str, path=None) -> "Project":
        known = ("format", "version", "features", "inputs", "outputs")
        for key in data:
            if key not in known:
                raise MappingError(f"unknown key {key!r}", where, close_hint(key, known))
        if data.get("format") != FORMAT:
            raise MappingError(f"not a mapper project: format is {data.get('format')!r}, "
                               f"expected {FORMAT!r}", where,
                               "give the folder of a project made by `installation project new`")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise MappingError(f"bad project version {version!r}", where,
                               "the file was edited by hand: version = 1")
        if version > VERSION:
            raise MappingError(f"project version {version} is newer than this installation "
                               f"supports ({VERSION})", where, "upgrade installation")
        features, inputs = data.get("features", []), data.get("inputs", [])
        for key, value in (("features", features), ("inputs", inputs)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise MappingError(f"'{key}' must be a list of names, got {value!r}", where)
        outputs = data.get("outputs", {})
        if not isinstance(outputs, dict):
            raise MappingError("'outputs' must be tables [outputs.NAME]", where)
        specs = [output_from_table(name, table, where) for name, table in outputs.items()]
        return cls(specs, features=features, inputs=inputs, path=path, where=where)

    def to_dict(self) -> dict:
        data: dict = {"format": FORMAT, "version": VERSION}
        if self.features:
            data["features"] = list(self.features)
        else:
            data["inputs"] = list(self.inputs)
        data["outputs"] = {name: output_to_table(spec) for name, spec in self.outputs.items()}
        return data

    # -- examples -------------------------------------------------------------------

    def next_take(self) -> int:
        takes = self.examples.takes() | self.templates.takes()
        return max(takes, default=0) + 1

    def check_inputs(self, x, where: str = "inputs") -> np.ndarray:
        """``x`` as a float64 vector of the project's inputs, or MappingError."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (len(self.inputs),):
            raise MappingError(f"got {x.size} input values, the project has {len(self.inputs)}",
                               where, "send one value per input, in order")
        if not np.isfinite(x).all():
            bad = self.inputs[int(np.flatnonzero(~np.isfinite(x))[0])]
            raise MappingError(f"input {bad!r} is not a finite number", where,
                               "NaN and infinity are never recorded or run")
        return x

    def add_example(self, take: int, x, values: dict) -> None:
        """One example: inputs and the values of the outputs it teaches."""
        x = self.check_inputs(x, "example")
        y = np.full(len(self.learned), np.nan)
        for name, value in values.items():
            if name not in self.outputs:
                raise MappingError(f"unknown output {name!r}", "example",
                                   close_hint(name, self.outputs))
            if name in self.learned:
                y[self.learned.index(name)] = self.outputs[name].check_value(value, "example")
        if np.isnan(y).all():
            return
        self.examples.add(take, x, y)

    def add_template(self, take: int, output: str, gesture, frames) -> None:
        spec = self.outputs.get(output)
        if not isinstance(spec, GestureOutput):
            raise MappingError(f"{output!r} is not a dtw output", "gesture",
                               close_hint(output, self.dtw) if self.dtw else
                               "the project has no dtw output")
        gesture = int(spec.check_value(gesture, "gesture"))
        frames = np.asarray(frames, dtype=np.float64)
        if len(frames) < spec.min_length:
            raise MappingError(f"gesture of {len(frames)} frames is shorter than min_length "
                               f"({spec.min_length})", output, "perform it again, a bit longer")
        for x in frames:
            self.check_inputs(x, "gesture")
        self.templates.add(take, output, gesture, frames)

    def delete_all(self) -> int:
        return self.examples.clear() + self.templates.clear()

    def delete_output(self, name: str) -> int:
        if name not in self.outputs:
            raise MappingError(f"unknown output {name!r}", "delete", close_hint(name, self.outputs))
        if name in self.dtw:
            return self.templates.delete_output(name)
        return self.examples.delete_output(name)

    def delete_take(self, take: int) -> int:
        return self.examples.delete_take(take) + self.templates.delete_take(take)

    def counts(self, name: str) -> dict[float, int]:
        """Examples per value (classifier), per gesture (dtw), or {value: n}."""
        if name in self.dtw:
            counts: dict[float, int] = {}
            for t in self.templates.of(name):
                counts[float(t.gesture)] = counts.get(float(t.gesture), 0) + 1
            return counts
        return self.examples.counts(name)

    # -- training -------------------------------------------------------------------

    def train(self, names=None, *, progress: bool = False, on_output=None) -> list[TrainReport]:
        """Train the given outputs (all by default); one report each. An
        output that cannot be trained keeps its previous model."""
        from tqdm import tqdm

        names = list(self.outputs) if names is None else list(names)
        for name in names:
            if name not in self.outputs:
                raise MappingError(f"unknown output {name!r}", "train",
                                   close_hint(name, self.outputs))
        reports = []
        # The bar appears only when training takes more than a moment.
        bar = tqdm(names, desc="training", unit="output", delay=0.5, disable=not progress,
                   leave=False)
        for name in bar:
            bar.set_postfix_str(name)
            if on_output is not None:
                on_output(name)
            start = time.monotonic()
            try:
                report = self._train_one(name)
            except MappingError as error:
                report = TrainReport(name, 0, error=error.what)
            reports.append(TrainReport(**{**report.__dict__,
                                          "seconds": time.monotonic() - start}))
        bar.close()
        return reports

    def _train_one(self, name: str) -> TrainReport:
        spec = self.outputs[name]
        if isinstance(spec, GestureOutput):
            model = self._fit_dtw(name)
            # Rebinding (not updating) the dict: a frame being run on
            # another thread keeps iterating the one it has.
            self.gestures_ = {**self.gestures_, name: model}
            self._unsaved_models.add(name)
            return TrainReport(name, len(model.templates), model.score, "leave-one-out accuracy")
        X, y = self.examples.for_output(name)
        X = X[:, self.columns[name]]
        trained = fit_output(spec, X, y, self.signature(name))
        self.trained_ = {**self.trained_, name: trained}
        self._unsaved_models.add(name)
        return TrainReport(name, len(y), trained.score, trained.score_name)

    def _fit_dtw(self, name: str) -> GestureModel:
        return fit_gestures(self.outputs[name], self.columns[name], self.templates.of(name))

    # -- running --------------------------------------------------------------------

    def predict(self, x) -> dict[str, float]:
        """The trained classifier and regressor outputs for one input vector."""
        x = self.check_inputs(x)
        out = {}
        for name, trained in self.trained_.items():
            value = trained.predict(x[self._index[name]] if name in self._index else x)
            spec = self.outputs[name]
            if isinstance(spec, RegressorOutput):
                value = spec.apply_limits(value)
            out[name] = value
        return out

