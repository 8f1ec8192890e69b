"""Every runnable block of the guides is run, so a recipe that drifts from
the code fails here, and the recipes work as written.

The guides are README.md, docs/*.md, scenes/README.md and
examples/pd/README.md. A fenced block's language tag says what it is:

- ``sh``: commands, run line by line (continuation lines joined, ``#``
  comments dropped, ``a && b`` as two commands) with bash, in one temporary
  folder per document and in the order written, so earlier commands make
  the files later ones use. HOME is a folder of its own, SDL's video and
  audio drivers are the dummy ones, the models are the real ones (or, for a
  document that fetches them, only what ``installation models fetch`` gets
  from a mirror on loopback). Every command must exit 0. What the test
  changes in a command is in ADAPTED, what it cannot run in NOT_RUN, each
  with the reason; anything else must start as AS_WRITTEN says.
- ``toml``: a mapper's project.toml is read by the project reader; a
  package's pyproject.toml is installed (a dist-info folder on the path)
  and its scenes listed; anything else is a profile, or part of one, read
  as ``installation config show`` reads it (unknown keys and wrong types
  fail), its [scenes], [mapping] and [nodes] tables then read by their
  owners as ``installation doctor`` and ``run`` read them.
- ``python``: a block with a ``def test_...`` is run by pytest; a block
  without an import is a piece of a bigger block of its document, shown
  again, and must be found in it; any other block is a module, imported
  from a file in the document's folder.
- ``json``: a take header, read by the take reader.
- ``text`` or ``console``: not run (usage with ``[--optional]`` parts,
  program output). A block with no tag is a diagram, and must not look like
  a command line.

Files a recipe assumes the reader already has are made by FIXTURES. One
test per block (``docs/mapping.md:10``); a block runs the blocks before it
in its document first, if they have not run yet.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from helpers import (LineReader, OscDump, base_env, free_udp_port, media_file, need_tool,
                     wait_for_udp_listener)

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")),
             "scenes/README.md", "examples/pd/README.md"]
TIMEOUT = 180  # seconds a command may take: a bound against a hang only


# -- the tables: what the test changes, cannot run, provides --------------------------------

#: (regular expression searched in a command, the function below that changes
#: it, why). Every entry must still match a command of some document.
ADAPTED = [
    (r"^installation (run|preview)\b(?!.*--seconds)", "for_a_second",
     "they run until stopped: --seconds 1 when the command gives no --seconds"),
    (r"display\.screen=1", "one_screen",
     "the dummy video driver has one screen: screen 0 instead of 1"),
    (r"10\.0\.0\.5:9001", "heartbeat_to_oscdump",
     "the monitoring laptop is an oscdump on this machine, which must get the heartbeat"),
    (r"^pd -nogui ", "pd_in_background",
     "runs until stopped: started on a free port (others may hold 12000), checked to "
     "listen (and print, when verbose), left running for the oscsend lines after it"),
    (r"^oscsend ", "send_to_listener",
     "sent to the patch started above (on its free port), which must print the message"),
]

#: (regular expression, why it cannot run in a test). Every entry must still
#: match a command of some document.
NOT_RUN = [
    (r"^pip install ", "the project and its test extras are installed (.ci/run installs them)"),
    (r"^python -m pytest", "the test suite this test is part of"),
    (r"^systemctl --user ", "needs a systemd user session"),
    (r"^loginctl ", "needs a systemd login session, and changes the machine"),
    (r"^installation calibrate 0 ", "needs camera 0 and a person clicking in the window"),
    (r"^installation node 0 ", "needs camera 0 and a piece listening at 192.168.1.10"),
]

#: Commands run as written (after any ADAPTED change); any other is an error.
AS_WRITTEN = r"^(installation|mkdir|cp|chmod|python3 -c) "


#: (file, the function below that makes it, the documents that assume it,
#: why). Made in the document's folder before its first block.
FIXTURES = [
    ("show.toml", "show_profile", ["docs/running.md", "docs/calibration.md"],
     "the reader's profile: profiles/dev-take.toml (the demo take, no camera), "
     "its take's path made absolute"),
    ("left.png", "lab_picture", ["docs/calibration.md"],
     "the camera's picture: the first frame of lab_one_person_cam01.mp4, the "
     "picture the guide's points were read from"),
    ("rehearsal.mp4", "lab_clip", ["docs/mapping.md"],
     "a clip of the rehearsal: lab_one_person_cam01.mp4 (arms down, one arm "
     "raised, arms out at the times the recipe records)"),
    ("mytake.jsonl.gz", "demo_take", ["docs/scenes.md"],
     "a take of the reader's own: a copy of the demo take"),
    ("examples", "checkout_folder", ["docs/scenes.md", "examples/pd/README.md"],
     "the guides are read in a checkout: its examples/ folder"),
    ("mapper", "mapper_project", ["examples/pd/README.md"],
     "the mapper project the reader made (docs/mapping.md): an untrained one"),
]

#: The model files a mirror of Google's storage serves in place of one the
#: models folder lacks (same operators; the official file is not kept offline).
STAND_INS = {"image_embedder": "imagenet_dev_mobilenet_v2.tflite"}

#: Documents whose commands find the models only where `installation models
#: fetch` puts them (INSTALLATION_MODELS unset); the others see the real ones.
FETCHES_MODELS = {"README.md"}


# -- the changes of ADAPTED ----------------------------------------------------------------


def for_a_second(command, ws):
    return command + " --seconds 1"


def one_screen(command, ws):
    return command.replace("display.screen=1", "display.screen=0")


def heartbeat_to_oscdump(command, ws):
    dump = ws.oscdump()
    ws.after.append(lambda: dump.wait(r"(^|\s)/installation/status\s"))
    return command.replace("10.0.0.5:9001", f"127.0.0.1:{dump.port}")


def pd_in_background(command, ws):
    """Start the patch on a free port, check that it listens (and prints when
    verbose), and leave it running for the document's later commands."""
    need_tool("pd")
    named = re.search(r"installation-port (\d+)", command)
    port = ws.port(int(named.group(1)) if named else 12000)  # 12000: the patch's own
    if named:
        command = command.replace(named.group(0), f"installation-port {port}")
    else:
        assert " -open " in command, f"`{command}`: where does the patch's port go?"
        command = command.replace(" -open ", f' -send "installation-port {port}" -open ')
    ws.stop_listener(port)  # the doc's earlier patch on that port
    process = subprocess.Popen(["bash", "-c", "exec " + command], cwd=ws.folder, env=ws.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    printout = LineReader(process.stdout)
    ws.listeners[port] = (process, printout)
    if "installation-verbose 1" in command:
        printout.wait(rf"^synth: listen on port {port}$")
    else:
        wait_for_udp_listener(process, port)
    assert not [line for line in printout.lines if "listen failed" in line], printout.lines
    return None  # started here


def send_to_listener(command, ws):
    """oscsend to the (verbose) patch the document started on that port,
    which must print the message."""
    need_tool("oscsend")
    _, host, port, address, _types, *values = shlex.split(command)
    listener = ws.listeners.get(ws.ports.get(int(port)))
    assert listener, f"nothing the document started listens on port {port} for `{command}`"
    printed = "osc: " + " ".join([*address.strip("/").split("/"), *values])
    ws.after.append(lambda: listener[1].wait("^" + re.escape(printed) + "$"))
    return f"oscsend {host} {ws.ports[int(port)]} " + command.split(f" {port} ", 1)[1]


# -- the files of FIXTURES -----------------------------------------------------------------


def show_profile(path):
    from installation.assets import DEMO_TAKE, asset_path

    text = (ROOT / "profiles" / "dev-take.toml").read_text()
    relative = '"../assets/demo_take.jsonl.gz"'
    assert relative in text, "profiles/dev-take.toml changed: update the show.toml fixture"
    path.write_text(text.replace(relative, json.dumps(str(asset_path(DEMO_TAKE)))))


def lab_picture(path):
    import cv2

    video = cv2.VideoCapture(str(media_file("lab_one_person_cam01.mp4")))
    ok, image = video.read()
    video.release()
    assert ok and cv2.imwrite(str(path), image)


def lab_clip(path):
    path.symlink_to(media_file("lab_one_person_cam01.mp4"))


def demo_take(path):
    from installation.assets import DEMO_TAKE, asset_path

    shutil.copy(asset_path(DEMO_TAKE), path)


def checkout_folder(path):
    path.symlink_to(ROOT / path.name)


def mapper_project(path):
    path.mkdir()
    (path / "project.toml").write_text('format = "installation-mapper"\nversion = 1\n'
                                       'features = ["pose", "arms"]\n\n'
                                       '[outputs.lift]\ntype = "regressor"\n')


# -- the blocks ----------------------------------------------------------------------------


FENCE = re.compile(r"^( *)```(\S*)\n(.*?)^\1```[ \t]*$", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    tag: str
    text: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def blocks_of(doc: str) -> list[Block]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return [Block(doc, text.count("\n", 0, m.start()) + 1, m.group(2), textwrap.dedent(m.group(3)))
            for m in FENCE.finditer(text)]


BLOCKS = [block for doc in DOCUMENTS for block in blocks_of(doc)]


def without_comment(line: str) -> str:
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def commands(block: Block) -> list[str]:
    """An sh block's commands: continuation lines joined, comments dropped,
    ``a && b`` as two commands."""
    found = []
    for line in re.sub(r"\\\n\s*", " ", block.text).splitlines():
        found += [part.strip() for part in without_comment(line).split(" && ") if part.strip()]
    return found


def not_run(command: str) -> str | None:
    return next((why for pattern, why in NOT_RUN if re.search(pattern, command)), None)


def has_rule(command: str) -> bool:
    return bool(not_run(command) or re.match(AS_WRITTEN, command)
                or any(re.search(pattern, command) for pattern, _, _ in ADAPTED))


# -- running a document --------------------------------------------------------------------


@contextlib.contextmanager
def working_directory(folder: Path):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


class Workspace:
    """One document's folder, environment and the programs its commands left
    running; its blocks run in order, each once."""

    def __init__(self, doc: str, folder: Path, models: Path, mirror: str):
        self.doc, self.folder = doc, folder
        self.blocks = [block for block in BLOCKS if block.doc == doc]
        self.done: dict[Block, BaseException | None] = {}
        self.listeners: dict[int, tuple] = {}  # port -> (process, printout)
        self.ports: dict[int, int] = {}  # a port the document names -> the free port used
        self.dumps: list[OscDump] = []
        self.after: list = []  # checks once the current command has succeeded
        (folder / "home").mkdir()
        self.env = base_env(HOME=folder / "home", SDL_VIDEODRIVER="dummy",
                            INSTALLATION_MODELS_URL=mirror)
        for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
            self.env.pop(name, None)
        if doc not in FETCHES_MODELS:
            self.env["INSTALLATION_MODELS"] = str(models)
        for name, make, docs, _ in FIXTURES:
            if doc in docs:
                globals()[make](folder / name)

    def port(self, named: int) -> int:
        return self.ports.setdefault(named, free_udp_port())

    def oscdump(self) -> OscDump:
        self.dumps.append(OscDump())
        return self.dumps[-1]

    def stop_listener(self, port: int) -> None:
        process, _ = self.listeners.pop(port, (None, None))
        if process is not None:
            process.terminate()
            process.wait(timeout=10)

    def close(self) -> None:
        for port in list(self.listeners):
            self.stop_listener(port)
        for dump in self.dumps:
            dump.stop()
        self.dumps = []

    def run_through(self, block: Block) -> None:
        """Run the document's blocks up to ``block``, those not run yet."""
        for earlier in self.blocks[:self.blocks.index(block) + 1]:
            if earlier in self.done:
                if self.done[earlier] is not None:
                    pytest.fail(f"{block} needs {earlier} first, which failed")
                continue
            try:
                self.run(earlier)
            except BaseException as error:
                self.done[earlier] = error
                raise
            self.done[earlier] = None
        if block == self.blocks[-1]:
            self.close()

    def run(self, block: Block) -> None:
        if block.tag == "sh":
            for command in commands(block):
                self.command(command, block)
        elif block.tag == "toml":
            check_toml(block, self)
        elif block.tag == "python":
            run_python(block, self)
        elif block.tag == "json":
            check_take_header(block, self)
        elif block.tag == "":
            assert not re.match(r"(installation |\$ )", block.text), \
                f"{block} looks like a command line: tag it sh (run) or text/console (not run)"
        else:
            assert block.tag in ("text", "console"), \
                f"{block}: unknown tag {block.tag!r}: use sh, toml, python, json, text or console"

    def command(self, command: str, block: Block) -> None:
        assert has_rule(command), \
            f"{block}: no rule for `{command}`: add one to ADAPTED or NOT_RUN, or to AS_WRITTEN"
        if not_run(command):
            return
        for pattern, change, _ in ADAPTED:
            if re.search(pattern, command):
                command = globals()[change](command, self)
                if command is None:  # the change ran it
                    return
        self.shell(command, block)

    def shell(self, command: str, block: Block) -> None:
        checks, self.after = self.after, []
        done = subprocess.run(["bash", "-c", command], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=TIMEOUT)
        assert done.returncode == 0, (f"{block}: `{command}` exited {done.returncode}\n"
                                      f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        for check in checks:
            check()


def check_toml(block: Block, ws: Workspace) -> None:
    data = tomllib.loads(block.text)
    if data.get("format") == "installation-mapper":  # a mapper project's project.toml
        from installation.mapping import Project

        folder = ws.folder / f"project_{block.line}"
        folder.mkdir()
        (folder / "project.toml").write_text(block.text)
        Project.load(folder)
    elif "project" in data:  # a package's pyproject.toml
        check_entry_points(data, block, ws)
    else:  # a profile, or part of one
        path = ws.folder / f"profile_{block.line}.toml"
        path.write_text(block.text)
        with working_directory(ws.folder):
            check_profile(path)


def check_profile(path: Path) -> None:
    """Read as `installation config show` reads it; then its [scenes],
    [mapping] and [nodes] tables by their owners, as `doctor` and `run` do."""
    from installation.app.mapping_table import load_mapper
    from installation.capture.nodes import NodesSource
    from installation.profile import load_profile, profile_as_toml
    from installation.scenes.discovery import scenes_for_profile

    profile = load_profile(path)
    profile_as_toml(profile)
    if profile.table("scenes"):
        scenes_for_profile(profile)
    if profile.table("mapping"):
        load_mapper(profile).close()
    if profile.table("nodes"):
        NodesSource(profile.source.nodes, profile.table("nodes"), str(path)).close()


def check_entry_points(data: dict, block: Block, ws: Workspace) -> None:
    """Install the package the block declares, as pip would (a dist-info
    folder on the path), its modules copies of the example scenes they name,
    and check that `installation scenes list` finds each scene."""
    site = ws.folder / f"site_{block.line}"
    info = site / "my_package-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-package\nVersion: 1.0\n")
    groups = data["project"]["entry-points"]
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in entries.items())
        for group, entries in groups.items()))
    for target in groups["installation.scenes"].values():
        module = target.split(":")[0].split(".")
        folder = site.joinpath(*module[:-1])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").touch()
        shutil.copy(ROOT / "examples" / "scenes" / f"{module[-1]}.py", folder / f"{module[-1]}.py")
    empty = ws.folder / f"elsewhere_{block.line}"  # no scenes/ folder of its own
    empty.mkdir()
    listing = subprocess.run(["installation", "scenes", "list"], cwd=empty, capture_output=True,
                             text=True, timeout=TIMEOUT, env={**ws.env, "PYTHONPATH": str(site)})
    assert listing.returncode == 0, f"{block}\n{listing.stdout}\n{listing.stderr}"
    for name in groups["installation.scenes"]:
        assert re.search(rf"^{name}\s.*entry point", listing.stdout, re.MULTILINE), \
            f"{block}: {name} is not listed as an installed scene:\n{listing.stdout}"


def contains(big: str, piece: str) -> bool:
    """True if ``piece`` is a run of ``big``'s lines (each side dedented)."""
    want = textwrap.dedent(piece).strip("\n").splitlines()
    lines = big.splitlines()
    return any(textwrap.dedent("\n".join(lines[i:i + len(want)])).splitlines() == want
               for i in range(len(lines) - len(want) + 1))


def run_python(block: Block, ws: Workspace) -> None:
    if re.search(r"^def test_", block.text, re.MULTILINE):  # a test of the reader's own suite
        path = ws.folder / f"test_block_{block.line}.py"
        path.write_text(block.text)
        python = shlex.quote(sys.executable)
        ws.shell(f"{python} -m pytest -q -p no:cacheprovider {path.name}", block)
    elif not re.search(r"^(import|from) ", block.text, re.MULTILINE):  # a piece of a bigger block
        assert any(contains(other.text, block.text) for other in ws.blocks
                   if other.tag == "python" and other != block), \
            f"{block} is no longer a part of any other python block of {block.doc}"
    else:  # a module
        (ws.folder / f"block_{block.line}.py").write_text(block.text)
        ws.shell(f"{shlex.quote(sys.executable)} -c 'import block_{block.line}'", block)


def check_take_header(block: Block, ws: Workspace) -> None:
    from installation.takes.io import read_take

    header = json.loads(block.text)
    assert header.get("format") == "installation-take", f"{block}: a json block is a take header"
    path = ws.folder / f"take_{block.line}.jsonl"
    path.write_text(json.dumps(header) + "\n" + json.dumps({"t": 0.0, "people": []}) + "\n")
    read, frames = read_take(path)
    assert len(list(frames)) == 1
    assert set(header) == set(read.to_json()), f"{block}: the header's fields are {read.to_json()}"


# -- fixtures ------------------------------------------------------------------------------


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, models_dir):
    """A mirror of Google's model storage on loopback, for
    INSTALLATION_MODELS_URL: the real model files at the paths `models fetch`
    asks for."""
    from installation.models import ALL_MODELS

    root = tmp_path_factory.mktemp("mirror")
    for bundle in ALL_MODELS.values():
        real = models_dir / STAND_INS.get(bundle.name, bundle.filename)
        if real.is_file():
            place = root / urlparse(bundle.url).path.lstrip("/")
            place.parent.mkdir(parents=True, exist_ok=True)
            place.symlink_to(real)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/mediapipe-models"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory, models_dir, mirror):
    made: dict[str, Workspace] = {}

    def workspace(doc: str) -> Workspace:
        if doc not in made:
            folder = tmp_path_factory.mktemp(re.sub(r"\W", "_", doc))
            made[doc] = Workspace(doc, folder, models_dir, mirror)
        return made[doc]

    yield workspace
    for ws in made.values():
        ws.close()


# -- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_block(block, workspaces):
    workspaces(block.doc).run_through(block)


def test_every_command_has_a_rule():
    missing = [f"{block}: {command}" for block in BLOCKS if block.tag == "sh"
               for command in commands(block) if not has_rule(command)]
    assert not missing, "add a rule to ADAPTED, NOT_RUN or AS_WRITTEN for:\n" + "\n".join(missing)


def test_every_table_entry_still_has_its_command():
    every = [command for block in BLOCKS if block.tag == "sh" for command in commands(block)]
    stale = [pattern for pattern, *_ in [*ADAPTED, *NOT_RUN]
             if not any(re.search(pattern, command) for command in every)]
    assert not stale, f"no command of any document matches {stale}: remove the entries"


def test_every_fixture_is_still_named_by_its_documents():
    stale = [f"{name} in {doc}" for name, _, docs, _ in FIXTURES for doc in docs
             if name not in (ROOT / doc).read_text(encoding="utf-8")]
    assert not stale, f"fixtures no document uses: {stale}"
