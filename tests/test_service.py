"""`installation service install`: the unit file a technician enables."""
import configparser

import pytest

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


def _unescaped(value: str) -> str:
    """A unit setting as systemd reads it: %% is %, $$ is $ (in ExecStart)."""
    return value.replace("%%", "%").replace("$$", "$")


def test_a_profile_path_with_percent_dollar_and_spaces_reaches_the_command_intact(tmp_path, capsys):
    import shlex

    folder = tmp_path / "100% of $HOME's show"
    folder.mkdir()
    profile = _profile(folder)
    assert main(["service", "install", str(profile), "--dir", str(tmp_path / "units")]) == 0
    text = (tmp_path / "units" / "installation-gallery.service").read_text()
    parsed = configparser.ConfigParser(strict=False, interpolation=None)
    parsed.read_string(text)
    argv = shlex.split(_unescaped(parsed["Service"]["ExecStart"]))
    assert argv[-3:] == ["run", str(profile.resolve()), "--wait-for-camera"]
    assert parsed["Service"]["WorkingDirectory"].replace("%%", "%") == str(folder.resolve())


@pytest.mark.parametrize("arguments, says", [
    (["--node-name", "left\nExecStartPre=/bin/sh -c 'rm -rf ~'"], "--node-name holds a line break"),
    (["--node-name", "x" * 300], "a node name has 1 to 64 characters"),
    (["--node-name", "left", "--to", "127.0.0.1:9000\nUser=root"], "--to holds a line break"),
    (["--node-name", "left", "--name", "x/y"], "'x/y' cannot name a systemd unit"),
])
def test_what_would_break_a_unit_is_refused_in_one_line_and_nothing_is_written(
        tmp_path, capsys, arguments, says):
    units = tmp_path / "units"
    command = ["service", "install", "--node", "0", "--dir", str(units)]
    if "--to" not in arguments:
        command += ["--to", "127.0.0.1:9000"]
    assert main(command + arguments) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1
    assert not units.exists()


@pytest.mark.parametrize("host, says", [
    ("PIECE_HOST", "'PIECE_HOST' is a placeholder"),
    ("HOST", "'HOST' is a placeholder"),
    ("<piece>", "'<piece>' is a placeholder"),
    ("my piece", "'my piece' is a placeholder"),
    ("piece_host", "'piece_host' is neither an IP address nor a host name"),
    ("999.1.2.3", "'999.1.2.3' is neither an IP address nor a host name"),
    ("piece-.local", "'piece-.local' is neither an IP address nor a host name"),
])
def test_a_node_unit_refuses_a_placeholder_or_malformed_piece_host(tmp_path, capsys, host, says):
    units = tmp_path / "units"
    assert main(["service", "install", "--node", "0", "--to", f"{host}:9100",
                 "--node-name", "left", "--dir", str(units)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert says in line and "give the piece computer's address" in line
    assert f"--to {host}:9100" in line
    assert not units.exists()


@pytest.mark.parametrize("host", ["192.168.1.10", "piece.local", "gallery-pc",
                                  "not-resolvable-yet.invalid"])
def test_a_node_unit_takes_an_address_it_cannot_resolve_yet(tmp_path, capsys, host):
    """The piece's name may resolve only on the node's network, later (mDNS,
    a DNS entry still to be made): a well-formed name is written as given."""
    units = tmp_path / "units"
    assert main(["service", "install", "--node", "0", "--to", f"{host}:9100",
                 "--node-name", "left", "--dir", str(units)]) == 0
    assert f"--to {host}:9100 --name left" in (units / "installation-node-left.service").read_text()
