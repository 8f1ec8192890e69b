"""Scene settings (the constructor's keywords) and the profile's [scenes] table."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from installation.cli import main
from installation.scenes.config import DirectorSettings, read_scenes_table
from installation.scenes.discovery import discover_scenes
from installation.scenes.settings import SceneError, check_settings, scene_settings
from scenekit import make_catalog, scene_source, solid, write



class Palette:
    """Not a scene: settings work on any class with the rule."""

    def __init__(self, speed: float = 1.0,   # pixels per second
                 count: int = 3,
                 colour=(255, 0, 0),
                 mood: Literal["dusk", "dawn"] = "dusk",
                 font: str | None = None,
                 points: list[float] = [],
                 mirrored=True,
                 anything=None):
        self.speed, self.count, self.colour, self.mood = speed, count, colour, mood
        self.font = font  # a font file, or None for pygame's
        self.points, self.mirrored, self.anything = points, mirrored, anything


def test_settings_types_come_from_annotations_or_defaults():
    settings = scene_settings(Palette)
    assert {n: s.type_name for n, s in settings.items()} == {
        "speed": "float", "count": "int", "colour": "tuple[int, int, int]",
        "mood": "'dusk' or 'dawn'", "font": "str", "points": "list[float]", "mirrored": "bool",
        "anything": "any value"}
    assert settings["font"].annotation == "str | None"
    assert settings["anything"].annotation == "any value"
    assert settings["speed"].help == "pixels per second"
    assert settings["font"].help == "a font file, or None for pygame's"
    assert settings["count"].help == ""  # a comment on a line storing several says nothing


def test_good_values_are_converted():
    assert check_settings(Palette, {"speed": 2, "colour": [1, 2, 3], "points": [1, 2.5],
                                    "mood": "dawn", "font": "a.ttf", "anything": [1]}, "t") == {
        "speed": 2.0, "colour": (1, 2, 3), "points": [1.0, 2.5], "mood": "dawn", "font": "a.ttf",
        "anything": [1]}
    assert isinstance(check_settings(Palette, {"speed": 2}, "t")["speed"], float)


@pytest.mark.parametrize("table, message", [
    ({"sped": 1}, "show.toml [scenes.palette]: unknown key 'sped' (did you mean 'speed'? "),
    ({"speed": "fast"}, "'speed' must be float, got 'fast' (the default is 1.0)"),
    ({"count": 1.5}, "'count' must be int, got 1.5"),
    ({"count": True}, "'count' must be int, got True"),
    ({"mirrored": 1}, "'mirrored' must be bool, got 1"),
    ({"colour": [1, 2]}, "'colour' must be tuple[int, int, int], got [1, 2] (expected 3 items, got 2)"),
    ({"colour": [1, 2, "x"]}, "(item 2 is 'x', expected int)"),
    ({"mood": "dawm"}, "'mood' must be 'dusk' or 'dawn', got 'dawm' (did you mean 'dawn'?)"),
    ({"font": 3}, "'font' must be str, got 3"),
])
def test_bad_values_name_the_file_table_and_key(table, message):
    with pytest.raises(SceneError) as info:
        check_settings(Palette, table, "show.toml [scenes.palette]", scene_name="palette")
    assert message in info.value.message
    assert info.value.message.startswith("show.toml [scenes.palette]: ")


def test_unknown_key_lists_the_settings_and_where_they_are_defined():
    with pytest.raises(SceneError) as info:
        check_settings(Palette, {"colur": 1}, "show.toml [scenes.palette]", scene_name="palette")
    assert "did you mean 'colour'? the settings of palette: speed, count, colour" in info.value.fix
    assert "test_scene_settings.py:" in info.value.fix


@pytest.mark.parametrize("init, problem", [
    ("def __init__(self, speed):", "setting 'speed' has no default"),
    ("def __init__(self, *args):", "settings must be named keyword arguments, not *args"),
    ("def __init__(self, **kw):", "settings must be named keyword arguments, not **kw"),
])
def test_a_constructor_that_breaks_the_rule_is_refused(init, problem):
    namespace = {}
    exec(f"class Bad:\n    {init}\n        pass\n", namespace)
    with pytest.raises(SceneError, match=problem.replace("*", r"\*")):
        scene_settings(namespace["Bad"])


# -- the [scenes] table -------------------------------------------------------------------


def catalog():
    return make_catalog(solid("poetry", (1, 1, 1)), solid("dream", (2, 2, 2)))


def test_the_scenes_table_is_read():
    config = read_scenes_table({"playlist": ["poetry", "dream"], "timer": 120, "crossfade": 2,
                                "attract": "dream", "attract_after": 20, "switch_output": "g",
                                "switch_map": {"1": "poetry", "2.0": "dream"},
                                "poetry": {"shade": 0.5}}, "show.toml")
    d = config.director
    assert d == DirectorSettings(playlist=("poetry", "dream"), timer=120.0, crossfade=2.0,
                                 attract="dream", attract_after=20.0, switch_output="g",
                                 switch_map={1: "poetry", 2: "dream"})
    assert config.tables == {"poetry": {"shade": 0.5}}
    assert config.check(catalog()) == {"poetry": {"shade": 0.5}}


@pytest.mark.parametrize("table, message", [
    ({"playlst": ["poetry"]}, "show.toml [scenes]: unknown key 'playlst' (did you mean 'playlist'?"),
    ({"timer": "soon"}, "show.toml [scenes]: 'timer' must be float, got 'soon'"),
    ({"timer": -1}, "'timer' must be 0 or more seconds"),
    ({"playlist": ["poetry", "dreem"]},
     "show.toml [scenes] playlist: no scene named 'dreem' (did you mean 'dream'?"),
    ({"attract": "poem"}, "show.toml [scenes] attract: no scene named 'poem' (did you mean 'poetry'?"),
    ({"switch_map": {"1": "poetry"}}, "'switch_map' is set but 'switch_output' is not"),
    ({"switch_output": "g", "switch_map": {"one": "poetry"}}, "'switch_map' key 'one' is not a class value"),
    ({"switch_output": "g", "switch_map": {"1": "poetri"}},
     "show.toml [scenes] switch_map 1: no scene named 'poetri' (did you mean 'poetry'?"),
    ({"poetry": {"shades": 1}},
     "show.toml [scenes.poetry]: unknown key 'shades' (did you mean 'shade'?"),
    ({"poetry": {"shade": "dark"}}, "show.toml [scenes.poetry]: 'shade' must be float, got 'dark'"),
    ({"poetri": {"shade": 1}}, "show.toml [scenes.poetri]: no scene named 'poetri' (did you mean 'poetry'?"),
    ({"crosfade": {"a": 1}}, "show.toml [scenes]: unknown key 'crosfade' (did you mean 'crossfade'?"),
])
def test_scenes_table_mistakes(table, message):
    with pytest.raises(SceneError) as info:
        read_scenes_table(table, "show.toml").check(catalog())
    assert message in info.value.message


def test_a_folder_is_relative_to_the_profile(tmp_path):
    (tmp_path / "mine").mkdir()
    config = read_scenes_table({"folder": "mine"}, "p.toml", base=tmp_path)
    assert config.folder == (tmp_path / "mine").resolve()
    with pytest.raises(SceneError, match="scenes folder .*nope does not exist"):
        read_scenes_table({"folder": "nope"}, "p.toml", base=tmp_path)


# -- through the command line -------------------------------------------------------------


@pytest.fixture
def show(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    write(folder / "tint.py", scene_source("tint", (200, 0, 0)))
    return tmp_path


@pytest.mark.parametrize("text, expected", [
    ('[scenes.tint]\nstrenght = 2\n',
     "[scenes.tint]: unknown key 'strenght' (did you mean 'strength'? the settings of tint: "
     "strength, label; defined at "),
    ('[scenes.tint]\nstrength = "lots"\n',
     "[scenes.tint]: 'strength' must be float, got 'lots' (the default is 1.0)"),
    ('[scenes]\nplaylist = ["tnt"]\n',
     "[scenes] playlist: no scene named 'tnt' (did you mean 'tint'?"),
])
def test_run_with_a_bad_scenes_table_is_a_one_line_error(show, text, expected, capsys):
    profile = show / "show.toml"
    profile.write_text('[scenes]\nfolder = "scenes"\n' + text.replace("[scenes]\n", ""))
    assert main(["run", str(profile), "--seconds", "1"]) == 2
    captured = capsys.readouterr()
    (line,) = [line for line in captured.err.splitlines() if line.strip()]
    assert line.startswith(f"installation: error: {profile}")
    assert expected in line


@pytest.mark.parametrize("text, expected", [
    ("drift = 1e308", "'drift' must be between 0 and 10, got 1e+308 (the default is 1.0)"),
    ("seed = -1", "'seed' must be between 0 and 4.29497e+09, got -1 (the default is None)"),
    ("size = 4", "'size' must be between 16 and 1024, got 4"),
])
def test_a_built_in_scenes_limits_are_checked_as_the_profile_is_read(tmp_path, text, expected,
                                                                    capsys):
    profile = tmp_path / "show.toml"
    profile.write_text(f"[scenes.dream]\n{text}\n")
    assert main(["run", str(profile), "--seconds", "1"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"installation: error: {profile} [scenes.dream]") and expected in line


def test_settings_of_a_discovered_scene_reach_it(show):
    catalog = discover_scenes(show / "scenes", entry_points=False)
    config = read_scenes_table({"tint": {"strength": 3, "label": "hi"}}, "show.toml")
    assert config.check(catalog) == {"tint": {"strength": 3.0, "label": "hi"}}


def test_scenes_for_profile_checks_and_lists_the_playlist(show):
    from installation.profile import load_profile
    from installation.scenes.discovery import scenes_for_profile

    profile = show / "show.toml"
    profile.write_text('[scenes]\nfolder = "scenes"\n\n[scenes.tint]\nstrength = 2\n')
    assert scenes_for_profile(load_profile(profile)) == ["tint"]
    profile.write_text('[scenes]\nfolder = "scenes"\nplaylist = ["tint", "tint"]\n')
    assert scenes_for_profile(load_profile(profile)) == ["tint", "tint"]
    profile.write_text('[scenes]\nfolder = "scenes"\n\n[scenes.tint]\nstrength = "x"\n')
    with pytest.raises(SceneError, match=r"\[scenes.tint\]: 'strength' must be float"):
        scenes_for_profile(load_profile(profile))


PROFILES = Path(__file__).resolve().parents[1] / "profiles"


@pytest.mark.parametrize("name", sorted(p.name for p in PROFILES.glob("*.toml")))
def test_example_profiles_name_real_scenes(name):
    """Every scene a shipped profile names (its playlist, its attract scene)
    is a scene file in scenes/; what it plays is that playlist, or else every
    built-in scene."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    from installation.profile import load_profile
    from installation.scenes.discovery import scenes_for_profile

    table = tomllib.loads((PROFILES / name).read_text(encoding="utf-8")).get("scenes", {})
    builtin = {p.stem for p in (PROFILES.parent / "scenes").glob("*.py") if not p.name.startswith("_")}
    named = [*table.get("playlist", ()), *([table["attract"]] if "attract" in table else [])]
    assert set(named) <= builtin, f"{name} names scenes that are not in scenes/"
    played = scenes_for_profile(load_profile(PROFILES / name))
    assert played == (list(table["playlist"]) if "playlist" in table
                      else discover_scenes().names())
    assert played and set(played) <= builtin
