"""`installation doctor`: a pass/fail table, exit 1 when something is wrong."""
import socket

from installation.assets import DEMO_TAKE, asset_path
from installation.cli import main


def _profile(tmp_path, text):
    path = tmp_path / "piece.toml"
    path.write_text(text)
    return str(path)


def _rows(out):
    return {line.split()[0]: line.split()[1] for line in out.splitlines()
            if line and line.split()[0] in ("profile", "source", "models", "mapping", "scenes",
                                             "display", "osc", "disk")}


def test_good_take_profile_passes(tmp_path, capsys):
    profile = _profile(tmp_path, f'[source]\nspec = "{asset_path(DEMO_TAKE)}"\n')
    assert main(["doctor", profile]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert rows["source"] == "PASS" and "230 frames" in out
    assert rows["models"] == "SKIP" and rows["disk"] == "PASS"
    assert "all checks passed" in out


def test_real_clip_and_models_pass(tmp_path, capsys, use_models, media):
    profile = _profile(tmp_path, f'[source]\nspec = "{media / "lab_one_person_cam01.mp4"}"\n')
    assert main(["doctor", profile]) == 0
    out = capsys.readouterr().out
    assert _rows(out)["models"] == "PASS" and "pose_landmarker_full.task" in out


def test_broken_setup_fails_each_check_it_should(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INSTALLATION_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    port = busy.getsockname()[1]
    try:
        profile = _profile(tmp_path, f"""
[source]
spec = "97"
[display]
screen = 5
[osc]
listen_host = "127.0.0.1"
listen_port = {port}
""")
        assert main(["doctor", profile]) == 1
    finally:
        busy.close()
    out = capsys.readouterr().out
    rows = _rows(out)
    assert rows["source"] == "FAIL" and "no camera at index 97" in out
    assert rows["display"] == "FAIL" and "screen 5 asked" in out
    assert rows["osc"] == "FAIL" and f"127.0.0.1:{port}" in out
    # The camera is missing, so models are checked for it and missing too.
    assert rows["models"] == "FAIL" and "pose_landmarker_full.task not found" in out
    assert "check(s) failed" in out


def test_broken_profile_is_one_line(tmp_path, capsys):
    profile = _profile(tmp_path, "[display]\nwidht = 3\n")
    assert main(["doctor", profile]) == 2
    assert "did you mean 'width'" in capsys.readouterr().err


def test_osc_status_destinations_are_checked(tmp_path, capsys):
    take = asset_path(DEMO_TAKE)
    good = _profile(tmp_path, f'[source]\nspec = "{take}"\n[osc]\nstatus_to = ["127.0.0.1:9001"]\n')
    assert main(["doctor", good]) == 0
    out = capsys.readouterr().out
    assert _rows(out)["osc"] == "PASS" and "status every 5 s to 127.0.0.1:9001" in out
    bad = _profile(tmp_path, f'[source]\nspec = "{take}"\n[osc]\n'
                             'status_to = ["no-such-host.invalid:9001"]\n')
    assert main(["doctor", bad]) == 1
    out = capsys.readouterr().out
    assert _rows(out)["osc"] == "FAIL" and "cannot resolve host 'no-such-host.invalid'" in out


def test_scenes_row_says_every_scene_plays_in_order_without_a_playlist(tmp_path, capsys):
    take = asset_path(DEMO_TAKE)
    profile = _profile(tmp_path, f'[source]\nspec = "{take}"\n')
    assert main(["doctor", profile]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith("scenes"))
    assert "default scene" not in row
    assert "no playlist: every scene plays, in alphabetical order" in row
    names = row.split(": ", 2)[-1].split(")")[0].split(", ")
    assert len(names) > 1 and names == sorted(names)
    # With a playlist, its scenes are named in its order, and nothing else is claimed.
    listed = _profile(tmp_path, f'[source]\nspec = "{take}"\n'
                                '[scenes]\nplaylist = ["poetry", "mirror"]\n')
    assert main(["doctor", listed]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith("scenes"))
    assert "2 scene(s): poetry, mirror" in row and "no playlist" not in row
