"""`installation calibrate SOURCE --node NAME`: a camera's floor calibration.

Show the camera's picture; click four or more marked floor points and type
where each is on the floor (x y in metres, Enter). The technician marks four or more points on the floor with tape, measures
where each lies (metres, in one frame for the whole room), then clicks each
in the camera's picture and types its position. The result is written as
the ``[nodes.NAME]`` table of the profile (``points`` and ``homography``);
the rest of the file is kept as it was, comments and all. Without
``--profile`` the table is printed.

For scripts, and machines with no screen: ``--points "u,v,x,y;..."`` gives
the points without a window, u, v in pixels of the camera's picture
(``--normalised``: 0..1 of it, and then no SOURCE is needed).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from installation.commands.options import description, window_size
from installation.errors import InstallationError
from installation.room.floor import FloorCalibration

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def add_parser(commands) -> None:
    calibrate = commands.add_parser(
        "calibrate", help="map a camera's picture to the floor, from four marked points",
        description=description(__doc__))
    calibrate.add_argument("source", nargs="?",
                           help="camera index, video file, image or stream URL (not needed "
                                "with --normalised --points)")
    calibrate.add_argument("--node", required=True, metavar="NAME",
                           help="the camera's name in the profile ([nodes.NAME])")
    calibrate.add_argument("--profile", metavar="PROFILE",
                           help="write the table into this profile (made if missing)")
    calibrate.add_argument("--points", metavar="U,V,X,Y;...",
                           help="the points without a window: picture u,v in pixels, "
                                "floor x,y in metres, ';' between points")
    calibrate.add_argument("--normalised", action="store_true",
                           help="--points gives u,v as 0..1 of the picture, not pixels")
    calibrate.add_argument("--fit", type=window_size, default=(1280, 800), metavar="WxH",
                           help="scale the picture to fit this size on screen (1280x800)")
    calibrate.set_defaults(handler=calibrate_command)


def calibrate_command(args) -> int:
    if not _NAME.match(args.node):
        raise InstallationError(f"a node name is letters, digits, '-' and '_', got {args.node!r}",
                                where="--node", fix="give a name such as left or cam1")
    if args.points is not None and args.normalised:
        rows = parse_points(args.points, None)  # 0..1 of the picture: no picture needed
    else:
        if args.points is None:
            _need_display()  # before opening the source: a camera can take seconds
        if args.source is None:
            raise InstallationError(
                "no SOURCE given: pixel points and the window need the camera's picture",
                where="calibrate",
                fix="give the camera, a video or an image of it, or give --points as 0..1 "
                    "of the picture with --normalised")
        image = first_picture(args.source)
        if args.points is not None:
            rows = parse_points(args.points, (image.shape[1], image.shape[0]))
        else:
            from installation.app.calibration import pick_points

            rows = pick_points(image, args.fit, f"calibrate {args.node}")
            if rows is None:
                print("left without saving")
                return 1
    rows = np.array(rows, dtype=np.float64)
    try:
        calibration = FloorCalibration.from_points(rows[:, :2], rows[:, 2:])
    except InstallationError as error:
        raise InstallationError(error.what, where="--points" if args.points else "the points",
                                fix=error.fix) from None
    residual = 100 * np.hypot(*(calibration.to_floor(rows[:, :2]) - rows[:, 2:]).T).max()
    table = node_table_toml(args.node, calibration)
    if args.profile:
        write_node_table(Path(args.profile), args.node, calibration)
        print(f"[nodes.{args.node}] written to {args.profile}")
    else:
        print(table, end="")
    if len(rows) > 4:
        # With more than four points the fit is a compromise; a large miss is a
        # mis-click or a mis-measured point.
        print(f"the fit misses the points by up to {residual:.1f} cm")
    return 0


def _need_display() -> None:
    """The window needs a screen; without one SDL would fall back to a
    driver nobody sees, and the command would wait for clicks forever."""
    from installation.app.display import has_display

    if not has_display():
        raise InstallationError(
            "no display to show the picture on (DISPLAY and WAYLAND_DISPLAY are unset)",
            where="calibrate",
            fix='give the points without a window, --points "u,v,x,y;..." with u, v in '
                "pixels of the picture and x, y on the floor in metres, or run it where a "
                "screen is")


def parse_points(text: str, size: tuple[int, int] | None) -> list[tuple[float, ...]]:
    """``"u,v,x,y;..."`` -> rows of (u, v, x, y), u and v normalised (divided
    by ``size`` = (width, height) when given in pixels)."""
    rows = []
    for number, item in enumerate(filter(None, (s.strip() for s in text.split(";"))), 1):
        parts = item.replace(" ", ",").split(",")
        parts = [p for p in parts if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 4 or not np.isfinite(values).all():
            raise InstallationError(f"point {number} is not four numbers u,v,x,y: {item!r}",
                                    where="--points", fix='write "u,v,x,y;u,v,x,y;..."')
        u, v, x, y = values
        if size is not None:
            u, v = u / size[0], v / size[1]
        if not (0 <= u <= 1 and 0 <= v <= 1):
            unit = f"0..{size[0]} x 0..{size[1]} pixels" if size else "0..1 (--normalised)"
            raise InstallationError(f"point {number} lies outside the picture ({item!r})",
                                    where="--points", fix=f"u,v are {unit}")
        rows.append((u, v, x, y))
    if len(rows) < 4:
        raise InstallationError(f"a floor calibration needs at least 4 points, got {len(rows)}",
                                where="--points", fix='write "u,v,x,y;u,v,x,y;..."')
    return rows


def first_picture(spec: str) -> np.ndarray:
    """One RGB picture of ``spec``: an image file, or a frame of a video,
    camera or stream (a camera's tenth, once its exposure has settled)."""
    import cv2

    from installation.capture.images import IMAGE_SUFFIXES
    from installation.capture.sources import TAKE_SUFFIXES, open_source
    from installation.errors import SourceEnded

    if str(spec).lower().endswith(TAKE_SUFFIXES):
        raise InstallationError("a take holds landmarks, not pictures", where=str(spec),
                                fix="give the camera, a video or an image of it")
    if Path(spec).suffix.lower() in IMAGE_SUFFIXES and Path(spec).is_file():
        bgr = cv2.imread(str(spec))
        if bgr is None:
            raise InstallationError("cannot read the image", where=str(spec),
                                    fix="give a JPEG or PNG picture")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    source = open_source(spec)
    frame = None
    with source:
        for _ in range(10 if str(spec).isdigit() else 1):
            try:
                frame = source.read()
            except SourceEnded:
                break
    if frame is None or frame.image is None:
        raise InstallationError("the source gave no picture", where=str(spec),
                                fix="check that the camera or file shows the floor")
    return frame.image


def node_table_toml(name: str, calibration: FloorCalibration) -> str:
    """The ``[nodes.NAME]`` table's text: points one to a line, then the homography."""
    return f"[nodes.{name}]\n" + _keys_toml(calibration)


def _keys_toml(calibration: FloorCalibration) -> str:
    table = calibration.to_profile()
    lines = []
    if "points" in table:
        lines.append("points = [  # u, v in the picture (0..1); x, y on the floor (metres)")
        lines += [f"  [{u:.5f}, {v:.5f}, {x!r}, {y!r}]," for u, v, x, y in table["points"]]
        lines.append("]")
    rows = ", ".join("[" + ", ".join(repr(v) for v in row) + "]" for row in table["homography"])
    lines.append(f"homography = [{rows}]")
    return "\n".join(lines) + "\n"


def write_node_table(path: Path, name: str, calibration: FloorCalibration) -> None:
    """Put ``points`` and ``homography`` into ``[nodes.NAME]`` of the profile
    at ``path``, replacing the old ones and keeping every other line."""
    from installation.files import atomic_write
    from installation.mapping.toml import TOMLDecodeError, loads

    if path.is_dir():
        raise InstallationError("a folder, not a profile file", where=str(path),
                                fix="give the profile's file, e.g. show.toml")
    if not path.parent.is_dir():
        raise InstallationError("no such folder", where=str(path.parent),
                                fix="create it, or give a profile in a folder that exists")
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        loads(text)
    except (TOMLDecodeError, UnicodeDecodeError) as error:
        raise InstallationError(f"not a TOML profile ({error})", where=str(path),
                                fix="correct the profile first, or give another file") from None
    except OSError as error:
        raise InstallationError(f"cannot read it: {error.strerror or error}", where=str(path),
                                fix="check the path and its permissions") from None
    lines = text.splitlines()
    header = re.compile(rf"^\s*\[\s*nodes\s*\.\s*([\"']?){re.escape(name)}\1\s*\]")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    new = _keys_toml(calibration).splitlines()
    if start is None:
        lines += ([""] if lines and lines[-1].strip() else []) + [f"[nodes.{name}]", *new]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")
                    and not _continues(lines, start + 1, i)), len(lines))
        body, at = _without_keys(lines[start + 1:end], ("points", "homography"))
        if at is None:  # after the table's last key, before its blank lines
            at = len(body)
            while at and not body[at - 1].strip():
                at -= 1
        lines[start + 1:end] = body[:at] + new + body[at:]
    result = "\n".join(lines) + "\n"
    try:
        table = loads(result)["nodes"][name]
        FloorCalibration.from_profile(table, f"{path} [nodes.{name}]")
    except (TOMLDecodeError, KeyError, TypeError, InstallationError) as error:
        raise InstallationError(f"cannot write [nodes.{name}] into this profile ({error})",
                                where=str(path), fix=f"edit [nodes.{name}] by hand") from None
    try:
        atomic_write(path, result.encode("utf-8"))
    except OSError as error:
        raise InstallationError(f"cannot write it: {error.strerror or error}", where=str(path),
                                fix="check the folder's permissions and free space") from None


def _continues(lines: list[str], first: int, index: int) -> bool:
    """True when line ``index`` is inside a multi-line array begun after ``first``."""
    depth = 0
    for line in lines[first:index]:
        code = line.split("#", 1)[0]
        depth += code.count("[") - code.count("]")
    return depth > 0


def _without_keys(body: list[str], keys: tuple[str, ...]) -> tuple[list[str], int | None]:
    """``body`` less the lines of ``key = ...`` (a multi-line array included),
    and where the first of them was (None if none was)."""
    out, depth, skipping, first = [], 0, False, None
    pattern = re.compile(rf"^\s*({'|'.join(keys)})\s*=")
    for line in body:
        code = line.split("#", 1)[0]
        if not skipping and pattern.match(line):
            skipping, depth = True, 0
            first = len(out) if first is None else first
        if skipping:
            depth += code.count("[") - code.count("]")
            if depth <= 0:
                skipping = False
            continue
        out.append(line)
    return out, first
