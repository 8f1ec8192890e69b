"""Profiles: typed tables, every mistake named with file, line and close match."""
import pytest

from installation.profile import ProfileError, load_profile, profile_as_toml

GOOD = """\
[source]
spec = "clip.mp4"
mirror = true

[tracking]
max_people = 3
zone = [0.1, 0.0, 0.9, 1.0]

[tracking.smoothing]
beta = 4

[display]
fullscreen = true
width = 1920
height = 1080

[hours]
every_day = "10:00-18:00"
mon = "closed"

[logging]
folder = "logs"
level = "warning"

[osc]
listen_port = 9001
status_to = ["127.0.0.1:9000", "10.0.0.5:7000"]
status_every = 2

[scenes.poetry]
order = 3
"""


def write(tmp_path, text, name="piece.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_profile_loads_into_typed_settings(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"")
    profile = load_profile(write(tmp_path, GOOD))
    assert profile.source.spec == str((tmp_path / "clip.mp4").resolve())  # relative to the file
    assert profile.source.mirror is True
    assert profile.tracking.max_people == 3
    assert profile.smoothing.beta == 4.0 and isinstance(profile.smoothing.beta, float)
    assert profile.display.fullscreen and profile.display.width == 1920
    assert profile.zone == (0.1, 0.0, 0.9, 1.0)
    assert profile.logging.level == "warning"
    assert profile.logging.folder == str(tmp_path / "logs")  # relative to the profile
    assert profile.osc.listen_port == 9001 and profile.osc.listen_host == "0.0.0.0"
    assert profile.osc.status_to == ("127.0.0.1:9000", "10.0.0.5:7000")
    assert profile.osc.status_every == 2.0
    assert profile.source.backoff_max == 4.0  # a returning camera is found within 5 s
    assert profile.display.closed_colour == (0, 0, 0) and profile.display.kiosk is False
    assert profile.table("scenes") == {"poetry": {"order": 3}}
    import datetime as dt
    assert not profile.hours.is_open(dt.datetime(2026, 11, 23, 12))  # a Monday
    assert profile.hours.is_open(dt.datetime(2026, 11, 24, 12))


def test_settings_are_frozen(tmp_path):
    profile = load_profile(write(tmp_path, GOOD))
    with pytest.raises(Exception):
        profile.display.width = 5


@pytest.mark.parametrize("text, words", [
    ("[source]\nspek = 0\n", ":2 [source] spek: unknown key 'spek' (did you mean 'spec'?)"),
    ("[display]\n\nfulscreen = true\n", ":3 [display] fulscreen: unknown key"),
    ("[tracking]\nmax_people = 'two'\n", ":2 [tracking] max_people: expected int, got 'two'"),
    ("[tracking]\nhands = 1\n", "hands: expected bool, got 1"),
    ("[tracking]\nmax_people = 40\n", "max_people must be between 1 and 10"),
    ("[tracking]\nzone = [0.5, 0, 0.2, 1]\n", "[tracking] zone: expected [x0, y0, x1, y1]"),
    ("[sorce]\nspec = 0\n", "unknown table [sorce] (did you mean [source]?)"),
    ("[hours]\nmon = '9-5'\n", "cannot read opening hours '9-5'"),
    ("[logging]\nlevel = 'loud'\n", "level must be debug, info, warning or error"),
    ("[source\nspec = 0\n", "not valid TOML"),
    ("[display]\nfps = 0\n", "must be positive"),
    ("[display]\nscreen = -1\n", "screen counts from 0"),
    ("[display]\nclosed_colour = 'black'\n", ":2 [display] closed_colour: expected a colour"),
    ("[display]\nkiosk = 1\n", ":2 [display] kiosk: expected bool, got 1"),
    ("[source]\nbackoff_max = 0.2\n", "backoff_max at least backoff_start"),
    ("[source]\nbackoff_start = 'slow'\n", ":2 [source] backoff_start: expected float"),
    ("[osc]\nlisten_prot = 9000\n", ":2 [osc] listen_prot: unknown key 'listen_prot' "
                                    "(did you mean 'listen_port'?)"),
    ("[osc]\n\nlisten_port = 0\n", ":3 [osc] listen_port: expected a port number from 1 to 65535"),
    ("[osc]\nlisten_port = '9000'\n", "expected a port number from 1 to 65535, got '9000'"),
    ("[osc]\nstatus_to = ['host']\n", ":2 [osc] status_to: no port in 'host'"),
    ("[osc]\nstatus_to = [9000]\n", "[osc] status_to: expected a list of \"host:port\""),
    ("[osc]\nstatus_every = -5\n", "status_every must be above 0 seconds"),
    # Rotation limits: 0 or less would let one log file fill the disk.
    ("[logging]\nmax_mb = 0\n", ":2 [logging] max_mb: max_mb must be at least 0.01, got 0"),
    ("[logging]\nfolder = 'logs'\nmax_mb = -1\n", ":3 [logging] max_mb: max_mb must be at least 0.01"),
    ("[logging]\n\nkeep = 0\n", ":3 [logging] keep: keep must be from 1 to 1000, got 0"),
    ("[logging]\nkeep = 10000000\n", ":2 [logging] keep: keep must be from 1 to 1000"),
    # NaN and infinity are valid TOML floats, never usable settings.
    ("[source]\nstall_timeout = nan\n", ":2 [source] stall_timeout: expected a number, got nan"),
    ("[osc]\nstatus_every = inf\n", ":2 [osc] status_every: expected a number, got inf"),
    ("[logging]\nmax_mb = inf\n", ":2 [logging] max_mb: expected a number, got inf"),
    ("[tracking.smoothing]\nbeta = -inf\n", ":2 [tracking.smoothing] beta: expected a number"),
    ("[tracking]\nzone = [0, 0, nan, 1]\n", ":2 [tracking] zone: expected a number, got nan"),
    ("[scenes.poetry]\nspeed = nan\n", ":2 [scenes.poetry] speed: expected a number, got nan"),
    ("[mapping]\nproject = 'P'\nx = {a = [1, inf]}\n", ":3 [mapping] x: expected a number"),
    # Sizes and times a window, a camera or a sleep can take.
    ("[display]\nwidth = 100000\n", ":2 [display] width: width must be at most 16384 pixels"),
    ("[source]\nwidth = -5\n", ":2 [source] width: width must be from 1 to 16384 pixels"),
    ("[source]\nfps = 0\n", ":2 [source] fps: fps must be above 0"),
    ("[osc]\nstatus_every = 1e300\n", ":2 [osc] status_every: status_every must be at most 86400"),
    # Top-level keys of the wrong shape.
    ("source = 3\n", ":1 source: [source] must be a table, got 3"),
    ("scenes = 'x'\n", ":1 scenes: [scenes] must be a table, got 'x'"),
    ("hours = [1]\n", ":1 hours: [hours] must be a table"),
    ("[[display]]\nwidth = 3\n", ":1 display: [display] must be a table, got [{'width': 3}]"),
    ("[tracking]\nsmoothing = 3\n", ":2 [tracking] smoothing: [tracking.smoothing] must be a table"),
    ("[source]\nspec = \"a\\u0000b\"\n", ":2 [source] spec: a path cannot contain a NUL character"),
])
def test_mistakes_name_file_line_key_and_fix(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    message = str(error.value)
    assert str(path) in message
    assert words in message


@pytest.mark.parametrize("setting", ["source.stall_timeout=nan", "display.closed_colour=[1, inf, 3]"])
def test_set_refuses_non_finite_numbers(tmp_path, setting):
    with pytest.raises(ProfileError) as error:
        load_profile(write(tmp_path, GOOD), [setting])
    assert str(error.value).startswith(f"--set {setting}: expected a number")


def test_config_show_of_a_bad_profile_is_one_line(tmp_path, capsys):
    from installation.cli import main

    path = write(tmp_path, "[logging]\nmax_mb = 0\n")
    assert main(["config", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[logging] max_mb: max_mb must be at least 0.01" in err


def test_missing_profile(tmp_path):
    with pytest.raises(ProfileError, match="no such profile"):
        load_profile(tmp_path / "nope.toml")


def test_set_overrides_values_and_is_checked(tmp_path):
    path = write(tmp_path, GOOD)
    profile = load_profile(path, ["source.mirror=false", "display.width=800",
                                  "source.spec=camera.mp4", "tracking.smoothing.enabled=false"])
    assert profile.source.mirror is False and profile.display.width == 800
    assert profile.source.spec == "camera.mp4" and profile.smoothing.enabled is False
    with pytest.raises(ProfileError, match="did you mean 'width'"):
        load_profile(path, ["display.widht=800"])
    with pytest.raises(ProfileError, match="section.key=value"):
        load_profile(path, ["mirror"])


def test_resolved_profile_prints_as_toml_that_loads_again(tmp_path):
    profile = load_profile(write(tmp_path, GOOD))
    text = profile_as_toml(profile)
    again = load_profile(write(tmp_path, text.replace("# ", "#"), "again.toml"))
    assert again.source == profile.source and again.display == profile.display
    assert again.tracking == profile.tracking and again.smoothing == profile.smoothing
    assert again.hours == profile.hours and again.zone == profile.zone
    assert again.osc == profile.osc and again.logging == profile.logging


def test_closed_colour_takes_a_list_or_hex(tmp_path):
    profile = load_profile(write(tmp_path, "[display]\nclosed_colour = '#102030'\n"))
    assert profile.display.closed_colour == (16, 32, 48)
    profile = load_profile(write(tmp_path, "[display]\nclosed_colour = [5, 6, 7]\n"))
    assert profile.display.closed_colour == (5, 6, 7)


def test_a_profile_nested_thousands_deep_is_one_line(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ProfileError, match="nested too deeply to be a profile"):
        load_profile(path)


def test_config_show_fills_in_every_director_default_of_scenes(tmp_path, capsys):
    """`config show` prints the [scenes] keys a profile leaves out with the
    director's defaults (read from the code: they may change), and a key
    with no default says what happens without it; what the file sets wins."""
    import dataclasses

    from installation.cli import main
    from installation.mapping.toml import loads
    from installation.scenes.config import DirectorSettings, read_scenes_table

    (tmp_path / "mine").mkdir()
    path = write(tmp_path, '[scenes]\ncrossfade = 2.5\nfolder = "mine"\n\n'
                           '[scenes.poetry]\nfont_size = 48\n')
    assert main(["config", "show", str(path)]) == 0
    out = capsys.readouterr().out
    shown = loads(out)["scenes"]
    defaults = DirectorSettings()
    for field in dataclasses.fields(DirectorSettings):
        default = getattr(defaults, field.name)
        if field.name == "crossfade":
            assert shown["crossfade"] == 2.5
        elif field.name == "folder":
            assert shown["folder"] == str(tmp_path / "mine")  # made absolute
        elif default is None or default in ((), {}):
            assert f"# {field.name} = (not set: " in out, field.name
        else:
            assert shown[field.name] == default, field.name
    assert "# playlist = (not set: every scene, in alphabetical order)" in out
    assert shown["poetry"] == {"font_size": 48}
    # What is printed reads back as the same [scenes] table.
    again = read_scenes_table(shown, "shown", tmp_path)
    assert again.director == dataclasses.replace(defaults, crossfade=2.5,
                                                 folder=str(tmp_path / "mine"))
    # A profile without [scenes] shows the defaults too.
    assert main(["config", "show", str(write(tmp_path, "[source]\nspec = 0\n", "bare.toml"))]) == 0
    assert loads(capsys.readouterr().out)["scenes"]["timer"] == defaults.timer


def test_config_show_checks_nodes_as_run_does_and_hides_their_keys(tmp_path, capsys):
    from installation.cli import main

    path = tmp_path / "show.toml"
    path.write_text('[source]\nnodes = ["0.0.0.0:9100"]\n'
                    '[nodes.left]\nkey = "a secret of twenty bytes"\n[nodes.right]\nmian = true\n')
    assert main(["config", "show", str(path)]) == 2
    assert "[nodes.right]: unknown key 'mian' (did you mean 'main'?)" in capsys.readouterr().err
    path.write_text('[source]\nnodes = ["0.0.0.0:9100"]\n'
                    '[nodes.left]\nkey = "a secret of twenty bytes"\n')
    assert main(["config", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "a secret" not in out and 'key = "(hidden)"' in out
