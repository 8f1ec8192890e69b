"""`installation service install`: the unit file a technician enables."""
import configparser

from installation.cli import main

PROFILE = """\
[source]
spec = "demo.jsonl.gz"
"""


def _profile(tmp_path):
    path = tmp_path / "gallery.toml"
    path.write_text(PROFILE)
    return path


def test_install_writes_a_notify_unit_with_watchdog_and_restart(tmp_path, capsys):
    profile = _profile(tmp_path)
    assert main(["service", "install", str(profile), "--dir", str(tmp_path / "units"),
                 "--watchdog", "20"]) == 0
    unit = tmp_path / "units" / "installation-gallery.service"
    parsed = configparser.ConfigParser(strict=False, interpolation=None)
    parsed.read_string(unit.read_text())
    service = parsed["Service"]
    assert service["Type"] == "notify"
    assert service["Restart"] == "always"
    assert service["WatchdogSec"] == "20"
    assert service["ExecStart"].endswith(
        f"-m installation.cli run {profile.resolve()} --wait-for-camera")
    assert parsed["Unit"]["After"] == "graphical-session.target"
    assert int(parsed["Unit"]["StartLimitBurst"]) > 0
    out = capsys.readouterr().out
    assert "systemctl --user enable --now installation-gallery.service" in out


def test_existing_unit_is_kept_without_force(tmp_path, capsys):
    profile = _profile(tmp_path)
    units = tmp_path / "units"
    assert main(["service", "install", str(profile), "--dir", str(units)]) == 0
    before = (units / "installation-gallery.service").read_text()
    assert main(["service", "install", str(profile), "--dir", str(units), "--watchdog", "99"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (units / "installation-gallery.service").read_text() == before


def test_broken_profile_is_refused_before_writing(tmp_path, capsys):
    profile = tmp_path / "bad.toml"
    profile.write_text("[sorce]\nspec = 0\n")
    assert main(["service", "install", str(profile), "--dir", str(tmp_path / "units")]) == 2
    assert "did you mean [source]" in capsys.readouterr().err
    assert not (tmp_path / "units").exists()
