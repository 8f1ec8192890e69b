"""Finding scenes (a folder, entry points), reporting broken files, and hot reload."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from installation.app.loop import FakeClock
from installation.scenes.config import ScenesConfig, read_scenes_table
from installation.scenes.director import Director
from installation.scenes.discovery import (SceneLoadError, default_scenes_folder, discover_scenes,
                                           load_scene_file, scene_files)
from installation.scenes.reload import SceneReloader
from scenekit import colour_at, line_of, make_loop, scene_source, write

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "scenes"
    folder.mkdir()
    write(folder / "tint.py", scene_source("tint", (200, 0, 0)))
    write(folder / "_helpers.py", "raise RuntimeError('helpers are not scenes')\n")
    return folder


# -- the folder ---------------------------------------------------------------------------


def test_a_folder_scene_is_found_with_its_settings(folder):
    catalog = discover_scenes(folder, entry_points=False)
    assert catalog.names() == ["tint"]
    assert catalog.names(include_fallback=True) == ["fallback", "tint"]
    info = catalog.get("tint")
    assert info.file == (folder / "tint.py").resolve()
    assert info.origin == "folder"
    assert info.doc == "A tinted stage.  Preview: installation preview tint"
    assert [(s.name, s.default, s.type_name, s.help) for s in info.settings.values()] == [
        ("strength", 1.0, "float", "how much colour"), ("label", "x", "str", "")]
    assert not catalog.problems


def test_broken_files_are_reported_and_the_others_still_found(folder):
    write(folder / "nameerror.py", "from installation import Scene\n\nx = 1\ny = missing + 1\n")
    write(folder / "syntax.py", "from installation import Scene\nclass A(Scene:\n    pass\n")
    write(folder / "two.py", scene_source("one", (0, 0, 0)) + "\n\n"
          + scene_source("two", (0, 0, 0), cls="Other").split("\n\n\n", 1)[1])
    write(folder / "noname.py", "from installation import Scene\n\nclass A(Scene):\n"
                                "    def draw(self, surface): pass\n")
    write(folder / "nodefault.py", scene_source("nodefault", (0, 0, 0)).replace(
        "strength: float = 1.0", "strength: float"))
    write(folder / "empty.py", '"""Nothing here."""\n')
    write(folder / "zcopy.py", scene_source("tint", (0, 0, 0)))  # after tint.py: ignored
    catalog = discover_scenes(folder, entry_points=False)
    assert catalog.names() == ["tint"]
    problems = {Path(p.file).name: p for p in catalog.problems}
    assert set(problems) == {"nameerror.py", "syntax.py", "two.py", "noname.py", "nodefault.py",
                             "empty.py", "zcopy.py"}
    assert (problems["nameerror.py"].line, problems["nameerror.py"].error) == (
        4, "NameError: name 'missing' is not defined")
    assert problems["syntax.py"].line == 2 and problems["syntax.py"].error.startswith("SyntaxError")
    assert "one scene per file" in problems["two.py"].error
    assert problems["noname.py"].error == "A has no name" and problems["noname.py"].line == 3
    assert problems["nodefault.py"].error == "setting 'strength' has no default"
    assert problems["nodefault.py"].line == 8  # the def __init__ line
    assert problems["empty.py"].error == "no Scene subclass in this file"
    assert "already used by" in problems["zcopy.py"].error
    assert str(problems["nameerror.py"]) == \
        f"{folder.resolve() / 'nameerror.py'}:4: NameError: name 'missing' is not defined"
    # Asking for a broken scene by name says why it is missing.
    with pytest.raises(Exception, match=r"scene 'nameerror' could not be loaded: .*nameerror.py:4"):
        catalog.get("nameerror")


def test_load_scene_file_error_has_file_and_line(folder):
    with pytest.raises(SceneLoadError) as info:
        load_scene_file(write(folder / "bad.py", "import math\n\n\nmath.nope()\n"))
    assert info.value.where == f"{(folder / 'bad.py').resolve()}:4"
    assert "AttributeError" in info.value.what


def test_the_builtin_scenes_folder_is_the_projects_scenes_folder():
    """Installed (even from a wheel) it is the package installation._scenes,
    which pyproject.toml maps to the top-level scenes/ folder."""
    folder = default_scenes_folder()
    assert folder.resolve() == (ROOT / "scenes").resolve()
    assert [p.name for p in scene_files(folder)] == \
        sorted(p.name for p in (ROOT / "scenes").glob("*.py") if not p.name.startswith("_"))
    text = (ROOT / "pyproject.toml").read_text()
    assert '"installation._scenes" = "scenes"' in text


# -- the search: the artist's folders, then the built-ins ---------------------------------


def put(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write(path, text)


def _profile(folder: Path, table: dict | None = None) -> ScenesConfig:
    """The [scenes] table of a profile saved as ``folder``/show.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    return read_scenes_table(table or {}, str(folder / "show.toml"), folder)


def test_scenes_beside_the_profile_then_in_the_working_directory_then_the_builtins(tmp_path):
    show, here = tmp_path / "show", tmp_path / "here"
    put(show / "scenes" / "tint.py", scene_source("tint", (200, 0, 0)))
    put(here / "scenes" / "tint.py", scene_source("tint", (0, 200, 0)))  # shadowed by show's
    put(here / "scenes" / "later.py", scene_source("later", (0, 0, 200)))
    catalog = discover_scenes(_profile(show), cwd=here, entry_points=False)
    assert [(f.path, f.why, f.user, f.skipped) for f in catalog.searched] == [
        (show / "scenes", "beside show.toml", True, ""),
        (here / "scenes", "in the working directory", True, ""),
        (default_scenes_folder(), "built-in", False, "")]
    assert catalog.get("tint").file == (show / "scenes" / "tint.py").resolve()
    assert catalog.get("later").file == (here / "scenes" / "later.py").resolve()
    assert set(discover_scenes().names()) < set(catalog.names())  # the built-ins too
    assert not catalog.problems
    assert catalog.folder == show / "scenes"  # hot reload watches the first of them
    # Without a profile (preview, scenes list): the working directory's, then the built-ins.
    alone = discover_scenes(ScenesConfig(), cwd=here, entry_points=False)
    assert [f.why for f in alone.searched] == ["in the working directory", "built-in"]
    assert alone.get("tint").file == (here / "scenes" / "tint.py").resolve()


def test_absent_folders_are_listed_as_absent_and_a_folder_met_twice_is_searched_once(tmp_path):
    catalog = discover_scenes(_profile(tmp_path), cwd=tmp_path, entry_points=False)
    assert [(f.why, f.skipped) for f in catalog.searched] == [
        ("beside show.toml", "absent"), ("in the working directory", "the same folder as above"),
        ("built-in", "")]
    assert catalog.names() == discover_scenes(entry_points=False).names()
    assert not catalog.problems  # no folder of one's own is no problem
    put(tmp_path / "scenes" / "tint.py", scene_source("tint", (1, 2, 3)))
    catalog = discover_scenes(_profile(tmp_path), cwd=tmp_path, entry_points=False)
    assert [f.skipped for f in catalog.searched] == ["", "the same folder as above", ""]
    assert "tint" in catalog and not catalog.problems


def test_the_checkouts_own_scenes_folder_is_the_builtin_one_not_loaded_twice(tmp_path):
    """Run from the project checkout, ./scenes is the built-in folder; so is a
    link to it beside a profile."""
    (tmp_path / "scenes").symlink_to(default_scenes_folder())
    catalog = discover_scenes(_profile(tmp_path), cwd=ROOT, entry_points=False)
    assert [(f.why, f.user, f.skipped) for f in catalog.searched] == [
        ("beside show.toml", False, "the built-in folder: searched once, below"),
        ("in the working directory", False, "the built-in folder: searched once, below"),
        ("built-in", False, "")]
    assert not catalog.problems  # no "name already used": each file loaded once
    assert catalog.names() == discover_scenes(entry_points=False).names()
    assert catalog.user_folders == ()


def test_a_checkouts_scenes_folder_is_known_by_its_pyproject(tmp_path):
    """Installed from a wheel and run inside a checkout, ./scenes is another
    copy of the built-ins: the one installed is used, not both."""
    from installation.scenes.search import is_builtin_folder

    put(tmp_path / "scenes" / "mirror.py", (ROOT / "scenes" / "mirror.py").read_text())
    assert not is_builtin_folder(tmp_path / "scenes", default_scenes_folder())
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    assert is_builtin_folder(tmp_path / "scenes", default_scenes_folder())
    catalog = discover_scenes(ScenesConfig(), cwd=tmp_path, entry_points=False)
    assert catalog.get("mirror").file.parent == default_scenes_folder().resolve()


def test_a_scene_of_ones_own_shadows_the_builtin_with_one_log_line(tmp_path, caplog):
    put(tmp_path / "scenes" / "mirror.py", scene_source("mirror", (10, 20, 30)))
    with caplog.at_level("INFO", logger="installation.scenes"):
        catalog = discover_scenes(ScenesConfig(), cwd=tmp_path, entry_points=False)
    mine = (tmp_path / "scenes" / "mirror.py").resolve()
    assert catalog.get("mirror").file == mine
    assert not catalog.problems
    said = [r.getMessage() for r in caplog.records if "shadows" in r.getMessage()]
    builtin = default_scenes_folder() / "mirror.py"
    assert said in ([f"scene 'mirror': {mine} shadows the built-in {builtin}"],
                    [f"scene 'mirror': {mine} shadows the built-in {os.path.relpath(builtin)}"])
    # Saved again, it stays the one on stage.
    reloader = SceneReloader(catalog, interval=0)
    put(tmp_path / "scenes" / "mirror.py", scene_source("mirror", (30, 20, 10)))
    assert reloader.poll(1.0) == ["mirror"]
    assert catalog.get("mirror").file == mine and not catalog.problems


def test_a_profiles_scenes_folder_replaces_the_builtins_as_before(tmp_path):
    """``[scenes] folder`` names the one folder (and installed packages):
    neither the built-ins nor ./scenes are searched."""
    put(tmp_path / "mine" / "tint.py", scene_source("tint", (1, 2, 3)))
    put(tmp_path / "scenes" / "later.py", scene_source("later", (1, 2, 3)))
    config = _profile(tmp_path, {"folder": "mine"})
    catalog = discover_scenes(config, cwd=tmp_path, entry_points=False)
    assert catalog.names() == ["tint"]
    assert [(f.path, f.why, f.skipped) for f in catalog.searched] == [
        ((tmp_path / "mine").resolve(), f"[scenes] folder of {tmp_path / 'show.toml'}", ""),
        (default_scenes_folder(), "built-in", "not searched: the folder above replaces it")]
    assert catalog.folder == (tmp_path / "mine").resolve()


def test_run_doctor_preview_and_the_scenes_command_share_one_search():
    """Each command finds its scenes through discover_scenes given a
    ScenesConfig (the profile's, or an empty one), never a folder of its own."""
    import inspect

    from installation.commands import preview, run, scenes
    from installation.scenes import discovery

    assert "discover_scenes(config)" in inspect.getsource(run)
    assert "discover_scenes(ScenesConfig())" in inspect.getsource(preview)
    assert "discover_scenes(config or ScenesConfig())" in inspect.getsource(scenes)
    assert "discover_scenes(config, cwd=cwd)" in inspect.getsource(discovery.catalog_for_profile)


# -- entry points -------------------------------------------------------------------------


def make_dist(site: Path, dist: str, entry_points: dict[str, str], files: dict[str, str]) -> None:
    """A tiny installed distribution: its files and a dist-info with entry_points.txt."""
    for name, text in files.items():
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[installation.scenes]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))


def test_entry_point_scenes_are_discovered(tmp_path, monkeypatch, folder):
    site = tmp_path / "site"
    make_dist(site, "ripple_pack", {
        "ripples": "ripple_pack.ripples:Ripples",  # a class
        "waves": "ripple_pack.waves",  # a module with one scene
        "broken": "ripple_pack.broken:Broken",
        "missing": "ripple_pack.nowhere:Thing",
    }, {
        "ripple_pack/__init__.py": "",
        "ripple_pack/ripples.py": '''
            """Rings from wrists."""
            from installation import Scene

            class Ripples(Scene):
                name = "ripples"
                def __init__(self, speed: float = 120.0):
                    self.speed = speed
                def draw(self, surface):
                    surface.fill((0, 0, 90))
            ''',
        "ripple_pack/waves.py": '''
            from installation import Scene

            class Waves(Scene):
                """Waves."""
                name = "waves"
                def draw(self, surface):
                    surface.fill((0, 90, 0))
            ''',
        "ripple_pack/broken.py": "from installation import Scene\n\nraise ImportError('no numpy today')\n",
    })
    monkeypatch.syspath_prepend(str(site))
    catalog = discover_scenes(folder)
    assert {"ripples", "waves", "tint"} <= set(catalog.names())
    ripples = catalog.get("ripples")
    assert ripples.origin == "entry point 'ripples' in ripple_pack"
    assert ripples.file == site / "ripple_pack" / "ripples.py"
    assert ripples.doc == "Rings from wrists."
    assert list(ripples.settings) == ["speed"]
    assert catalog.get("waves").doc == "Waves."
    problems = [str(p) for p in catalog.problems]
    assert f"{site / 'ripple_pack' / 'broken.py'}:3: ImportError: no numpy today " \
           "(from entry point 'broken' in ripple_pack)" in problems, problems
    assert "entry point 'missing' in ripple_pack: ModuleNotFoundError: " \
           "No module named 'ripple_pack.nowhere'" in problems, problems
    # An entry-point scene plays like any other.
    loop = make_loop(catalog=catalog, table={"playlist": ["ripples"]})
    with loop.run_test() as pilot:
        pilot.step(2)
        assert colour_at(pilot) == (0, 0, 90)


# -- hot reload ---------------------------------------------------------------------------


def test_hot_reload_picks_up_an_edit_and_survives_a_syntax_error(folder, caplog):
    catalog = discover_scenes(folder, entry_points=False)
    reloader = SceneReloader(catalog, interval=0.5)
    loop = make_loop(catalog=catalog, reloader=reloader, table={"playlist": ["tint"]})
    path = folder / "tint.py"
    with loop.run_test() as pilot:
        pilot.step(2)
        assert colour_at(pilot) == (200, 0, 0)
        first = loop.director.stage.scene

        write(path, scene_source("tint", (0, 0, 200)))
        pilot.advance(1.0)  # "within a second"
        assert colour_at(pilot) == (0, 0, 200)
        assert loop.director.stage.scene is not first
        assert type(loop.director.stage.scene) is not type(first)
        assert reloader.reloads == 1

        broken = scene_source("tint", (0, 200, 0)).replace("def draw(self, surface):",
                                                           "def draw(self, surface)")
        write(path, broken)
        pilot.advance(1.0)
        # The previous version keeps running; the error is on the overlay.
        assert loop.director.current == "tint"
        assert colour_at(pilot) == (0, 0, 200)
        (problem,) = reloader.problems
        assert problem.startswith(f"{path.resolve()}:{line_of(broken, 'def draw')}: SyntaxError")
        bottom = colour_at(pilot, 20, pilot.screen.get_height() - 12)
        assert bottom != (0, 0, 200)  # the technician overlay covers the corner
        assert "previous version keeps running" in caplog.text

        write(path, scene_source("tint", (0, 200, 0)))
        pilot.advance(1.0)
        assert colour_at(pilot) == (0, 200, 0)
        assert reloader.problems == []
        assert colour_at(pilot, 20, pilot.screen.get_height() - 12) == (0, 200, 0)
        assert reloader.reloads == 2
        assert not loop.director.faults


def test_reload_brings_back_a_scene_that_failed(folder):
    path = write(folder / "tint.py", scene_source("tint", (200, 0, 0), extra='''
        def update(self, frame, outputs, dt):
            raise ValueError("not yet")
        '''))
    catalog = discover_scenes(folder, entry_points=False)
    loop = make_loop(catalog=catalog, reloader=SceneReloader(catalog, interval=0.5),
                     table={"playlist": ["tint"]})
    with loop.run_test() as pilot:
        pilot.step(2)
        assert loop.director.current == "fallback"
        write(path, scene_source("tint", (200, 0, 0)))
        pilot.advance(1.0)
        assert loop.director.current == "tint"  # fixed and saved: back on at once
        assert colour_at(pilot) == (200, 0, 0)


def test_reload_that_no_longer_takes_the_profiles_settings_keeps_the_old_version(folder):
    catalog = discover_scenes(folder, entry_points=False)
    config = read_scenes_table({"playlist": ["tint"], "tint": {"label": "hello"}}, "show.toml")
    director = Director(catalog, config, clock=FakeClock().now)
    reloader = SceneReloader(catalog, interval=0)
    director.start((64, 36), 0.0)
    write(folder / "tint.py", scene_source("tint", (1, 2, 3)).replace("label", "caption"))
    director.reloaded(reloader.poll(1.0), 1.0)
    assert director.problems["tint"].startswith("show.toml [scenes.tint]: unknown key 'label'")
    assert director.stage.scene.label == "hello"  # the old version, still on


def test_a_new_file_is_picked_up(folder):
    catalog = discover_scenes(folder, entry_points=False)
    reloader = SceneReloader(catalog, interval=0)
    write(folder / "later.py", scene_source("later", (9, 9, 9)))
    assert reloader.poll(1.0) == ["later"]
    assert "later" in catalog


def test_the_fixture_scene_is_the_tutorials_example():
    """tests/fixtures/scenes/ripples.py links to examples/scenes/ripples.py (the
    tutorial of docs/scenes.md), so the tests that use the fixture run the very
    file the guide shows; a copy could drift from it again."""
    fixture = ROOT / "tests" / "fixtures" / "scenes" / "ripples.py"
    example = ROOT / "examples" / "scenes" / "ripples.py"
    assert fixture.is_symlink() and fixture.resolve() == example.resolve()
    assert load_scene_file(fixture).file == example.resolve()
