"""The room in TUIO and Augmenta from a running piece (installation/app/
room_outputs.py): the [outputs] table read as a technician writes it, where
a person is said to stand, and a real `installation run` of the demo take
publishing to real peers on loopback (python-tuio's client for TUIO, a UDP
reader written from Augmenta's protocol page, liblo's oscdump).
"""
from __future__ import annotations

import socket

import numpy as np
import pytest
from helpers import ROOT, wait_until

from installation.app.room_outputs import OutputsPlan, RoomOutputs, body_height, where
from installation.errors import InstallationError
from installation.types import Person


def standing(x0: float, x1: float, y0: float, y1: float, pid: int = 1, floor=None) -> Person:
    """A person whose landmarks fill the box (x0, y0)-(x1, y1), all seen."""
    pose = np.ones((33, 4), np.float32)
    pose[:, 0] = np.linspace(x0, x1, 33)
    pose[:, 1] = np.linspace(y0, y1, 33)
    world = np.zeros((33, 3), np.float32)
    world[:, 1] = np.linspace(-0.9, 0.8, 33)  # 1.7 m from head to feet
    return Person(pose, id=pid, world=world, floor=floor)


# -- the [outputs] table ---------------------------------------------------------------------


def test_outputs_are_off_without_a_destination():
    assert not OutputsPlan({}).any
    assert not OutputsPlan({"tuio": {"to": []}}).any
    plan = OutputsPlan({"area": [0, 0, 6, 4], "tuio": {"to": "127.0.0.1:3333"},
                        "augmenta": {"to": ["127.0.0.1:12000", "10.0.0.5:12000"]}})
    assert plan.any and plan.area == (0.0, 0.0, 6.0, 4.0)
    assert plan.tuio["to"] == ("127.0.0.1:3333",)
    assert plan.augmenta["to"] == ("127.0.0.1:12000", "10.0.0.5:12000")


@pytest.mark.parametrize("table, says", [
    ({"tuoi": {"to": ["127.0.0.1:3333"]}}, "did you mean 'tuio'"),
    ({"tuio": {"to": ["127.0.0.1:3333"], "port": 3333}}, "unknown key 'port'"),
    ({"tuio": {"to": ["localhost:port"]}}, "port"),
    ({"tuio": {"to": [3333]}}, "host:port"),
    ({"tuio": {"to": ["127.0.0.1:3333"], "profile": "3Dcur"}}, "2Dcur, 2Dblb"),
    ({"tuio": "127.0.0.1:3333"}, "[outputs.tuio] table"),
    ({"area": [0, 0, 6]}, "[x0, y0, x1, y1]"),
    ({"area": [0, 0, 6, 1e9]}, "[x0, y0, x1, y1]"),
    ({"area": [6, 0, 0, 4]}, "is empty"),
])
def test_a_wrong_outputs_table_is_one_line_naming_the_place(table, says):
    with pytest.raises(InstallationError) as error:
        OutputsPlan(table, "room.toml")
    text = str(error.value)
    assert says in text and "room.toml [outputs" in text and "\n" not in text, text


# -- where a person stands ---------------------------------------------------------------------


def test_a_person_is_placed_in_the_picture_or_on_the_floor():
    person = standing(0.2, 0.4, 0.1, 0.9)
    x, y, box_x, box_y, width, height = where(person, None)
    assert (x, y) == pytest.approx((0.3, 0.5)) and (box_x, box_y) == pytest.approx((0.3, 0.5))
    assert (width, height) == pytest.approx((0.2, 0.8))
    # With a floor position and the area published, the position is on the floor.
    on_floor = standing(0.2, 0.4, 0.1, 0.9, floor=(4.5, 1.0))
    x, y, box_x, _, _, _ = where(on_floor, (0.0, 0.0, 6.0, 4.0))
    assert (x, y) == pytest.approx((0.75, 0.25)) and box_x == pytest.approx(0.3)
    # Beyond the area: held at its edge, never outside 0-1.
    assert where(standing(0.2, 0.4, 0.1, 0.9, floor=(9.0, -2.0)), (0, 0, 6, 4))[:2] == (1.0, 0.0)
    assert body_height(person) == pytest.approx(1.7, abs=0.01)
    unseen = standing(0.2, 0.4, 0.1, 0.9)
    unseen.pose[:, 3] = 0.1
    assert where(unseen, None) is None


def test_velocity_and_age_follow_the_person():
    outputs = RoomOutputs(OutputsPlan({}))
    outputs.entered_at[1] = 10.0
    first = outputs.tracked(standing(0.2, 0.4, 0.1, 0.9), 10.0)
    assert (first.vx, first.vy, first.age) == (0.0, 0.0, 0.0)
    moved = None
    for step in range(1, 31):  # walking right at 0.3 picture widths a second
        dx = 0.01 * step
        moved = outputs.tracked(standing(0.2 + dx, 0.4 + dx, 0.1, 0.9), 10.0 + step / 30)
    assert moved.vx == pytest.approx(0.3, rel=0.05) and moved.vy == pytest.approx(0.0, abs=1e-6)
    assert moved.age == pytest.approx(1.0)
    assert moved.tall == pytest.approx(1.7, abs=0.01)


# -- a running piece, real peers ---------------------------------------------------------------


def test_a_running_piece_publishes_its_visitors_to_tuio_and_augmenta(tmp_path):
    """`installation run` of the demo take with both outputs on: python-tuio's
    client sees a cursor come, move and go for each visitor, with the room's
    ids and fseq always growing; the Augmenta reader (written from the
    protocol page) checks every message, and sees each visitor enter, move
    and leave, the last leaves when the piece stops. Destinations that refuse
    or cannot be reached cost the piece nothing it shows."""
    from helpers import free_udp_port, run_figures, start_run
    from test_room_protocols import AugmentaReader, tuio_client

    with tuio_client() as (tuio_port, seen), \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as augmenta:
        augmenta.bind(("127.0.0.1", 0))
        augmenta.settimeout(0.2)
        datagrams: list[bytes] = []
        run = start_run(tmp_path, ROOT / "profiles" / "dev-take.toml", "--seconds", "12",
                        "--scene", "mirror", "--no-tour",
                        # Beside the client: a port nobody listens on (refused) and an
                        # address no machine has (TEST-NET-1): neither holds the piece up.
                        "--set", f'outputs.tuio.to=["127.0.0.1:{tuio_port}", '
                                 f'"127.0.0.1:{free_udp_port()}", "192.0.2.1:3333"]',
                        "--set", f'outputs.augmenta.to=["127.0.0.1:{augmenta.getsockname()[1]}"]')
        while run.poll() is None or _more(augmenta, datagrams):
            _more(augmenta, datagrams)
        out, err = run.communicate(timeout=60)
        assert wait_until(lambda: seen.read(1) and not seen.frames[-1], timeout=10)
    assert run.returncode == 0, err[-2000:]
    assert "Traceback" not in err and run_figures(out)[0] > 0
    visitors = {pid for kind, pid, _ in seen.events if kind == "add"}
    assert visitors and visitors == {pid for kind, pid, _ in seen.events if kind == "remove"}
    assert seen.fseqs == sorted(set(seen.fseqs)) and len(seen.fseqs) > 100
    # A cursor moves: some visitor is seen at two places at least 0.1 apart.
    places = {}
    for frame in seen.frames:
        for pid, cursor in frame.items():
            places.setdefault(pid, []).append(tuple(cursor.position))
    assert any(np.ptp(np.array(p), axis=0).max() > 0.1 for p in places.values())
    reader = AugmentaReader()
    for data in datagrams:
        reader.read(data)
    reader.end_frame()
    entered = {v["id"] for kind, v in reader.log if kind == "enter"}
    left = {v["id"] for kind, v in reader.log if kind == "leave"}
    assert entered == left == visitors and not reader.objects  # all gone at the end
    ages = [v["age"] for kind, v in reader.log if kind == "update"]
    assert max(ages) > 1.0 and min(ages) >= 0.0


def _more(sock, datagrams: list) -> bool:
    """One datagram read into ``datagrams``; False when none came for 0.2 s."""
    try:
        datagrams.append(sock.recv(65536))
        return True
    except socket.timeout:
        return False
