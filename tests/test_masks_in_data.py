"""Body masks as data: checked in Person, kept in takes, drawn by scenes.

The take ``tests/data/lab_cam01_masks.jsonl.gz`` holds real masks: the
segmentation of the pose landmark model, followed through the lab clip and
put back into the image (see tests/data/README.md).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pygame
import pytest

from installation import Frame, Scene
from installation.takes.io import TakeWriter, read_take
from installation.types import Face, Hand, Person
from scenekit import scene_class

DATA = Path(__file__).parent / "data"
MASK_TAKE = DATA / "lab_cam01_masks.jsonl.gz"
SIZE = (640, 360)
TORSO = [11, 12, 23, 24]


def scene(name: str, **settings) -> Scene:
    return scene_class(name)(**settings)


@pytest.fixture(scope="module")
def take():
    header, items = read_take(MASK_TAKE)
    return header, [Frame(index=n, t=t, size=header.size, people=people, tracked=True)
                    for n, (t, people) in enumerate(items)]


def play(scene_, frames, size=SIZE) -> np.ndarray:
    """The last picture of ``frames`` (the scene is left entered, to look into)."""
    surface = pygame.Surface(size)
    scene_.enter(size)
    for frame in frames:
        scene_.update(frame, {}, 1 / 30)
        scene_.draw(surface)
    return pygame.surfarray.array3d(surface).swapaxes(0, 1).astype(np.int32)  # (h, w, 3)


def screen_mask(mask, frame_size, size=SIZE) -> np.ndarray:
    """A person's mask where the frame sits on a screen of ``size`` (letterboxed)."""
    from installation.scenes.draw import fit_rect

    area = fit_rect(frame_size, size)
    out = np.zeros((size[1], size[0]), np.float32)
    out[area.y:area.bottom, area.x:area.right] = cv2.resize(mask, area.size,
                                                            interpolation=cv2.INTER_LINEAR)
    return out


# --- Person -----------------------------------------------------------------------


POSE = np.full((33, 4), 0.5, np.float32)


def test_a_person_holds_a_float_mask_of_any_size():
    person = Person(pose=POSE, mask=np.ones((9, 16), np.float64) * 0.5)
    assert person.mask.dtype == np.float32 and person.mask.shape == (9, 16)
    assert Person(pose=POSE).mask is None
    assert "mask" not in repr(person)  # a repr is not a dump of pixels
    # Float rounding just past 0..1 (a resize, a blend) is brought back in.
    nearly = Person(pose=POSE, mask=np.array([[1.0004, -0.0004]])).mask
    assert nearly.min() == 0.0 and nearly.max() == 1.0
    assert Person(pose=POSE, mask=np.zeros((2, 2))).replace(id=3).mask.shape == (2, 2)
    # A flipped view is stored contiguous: scenes hand masks to OpenCV.
    assert Person(pose=POSE, mask=np.zeros((4, 6))[:, ::-1]).mask.flags.c_contiguous


@pytest.mark.parametrize("mask, says", [
    (np.zeros((4, 4, 1)), "2-D"),
    (np.zeros(16), "2-D"),
    (np.zeros((0, 4)), "2-D"),
    (np.array([[0.5, np.nan]]), "not a finite number"),
    (np.array([[0.5, np.inf]]), "not a finite number"),
    (np.array([[0.0, 1.5]]), "0..1, got 0..1.5"),
    (np.array([[-0.2, 1.0]]), "0..1"),
    (np.full((2, 2), 255), "0..1"),  # an 8-bit mask not turned into 0..1
])
def test_a_person_refuses_a_mask_that_is_not_one(mask, says):
    with pytest.raises(ValueError, match=says):
        Person(pose=POSE, mask=mask)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_landmark_arrays_refuse_values_that_are_not_numbers(bad):
    pose = POSE.copy()
    pose[7, 1] = bad
    with pytest.raises(ValueError, match=r"pose holds a value that is not a finite number \(row 7\)"):
        Person(pose=pose)
    world = np.zeros((33, 3))
    world[2, 0] = bad
    with pytest.raises(ValueError, match=r"world pose .*\(row 2\)"):
        Person(pose=POSE, world=world)
    hand = np.zeros((21, 3))
    hand[20, 2] = bad
    with pytest.raises(ValueError, match=r"hand landmarks .*\(row 20\)"):
        Hand(hand, "left")
    Face(np.zeros((478, 3)))  # faces are not checked here (their size varies)


# --- the real take with masks ---------------------------------------------------


def test_the_shipped_take_has_a_real_mask_on_every_frame(take):
    header, frames = take
    assert header.size == (1080, 1920) and len(frames) == 30
    assert MASK_TAKE.stat().st_size < 100_000
    for frame in frames:
        person, = frame.people
        mask = person.mask
        assert mask.shape == (64, 36)  # 64 on the long side, the frame's aspect
        # The mask sits under the body: the torso's middle is inside, the
        # image's corners (empty lab) are outside.
        x, y = person.pose[TORSO, :2].mean(axis=0)
        assert mask[int(y * 64), int(x * 36)] > 0.9
        assert max(mask[0, 0], mask[0, -1], mask[-1, 0], mask[-1, -1]) < 0.05
        assert 0.03 < (mask > 0.5).mean() < 0.4  # a body, not a blob or a speck


def test_the_real_masks_survive_a_second_recording_unchanged(take, tmp_path):
    header, frames = take
    path = tmp_path / "again.jsonl"
    with TakeWriter(path, source="again", size=header.size, fps=60, models={}, masks=True) as out:
        for frame in frames:
            out.write(frame)
    for frame, (_, people) in zip(frames, read_take(path)[1]):
        np.testing.assert_array_equal(people[0].mask, frame.people[0].mask)


def test_mirror_tints_the_silhouette_and_nothing_else(take):
    header, frames = take
    on = play(scene("mirror", show_status=False), frames[:5])
    off = play(scene("mirror", show_status=False, silhouettes=False), frames[:5])
    inside = screen_mask(frames[4].people[0].mask, header.size)
    changed = np.abs(on - off).sum(axis=2)
    assert changed[inside > 0.8].mean() > 40  # the body is tinted
    assert changed[inside < 0.2].max() == 0  # outside it, not a pixel differs
    # The tint is the person's colour: more red than blue on the dark stage.
    from installation.scenes.draw import colour_for
    tint = (on - off)[inside > 0.8].mean(axis=0)
    assert np.sign(tint[0] - tint[2]) == np.sign(colour_for(1)[0] - colour_for(1)[2])


def test_mirror_without_masks_draws_as_before(take):
    header, frames = take
    plain = [f.replace(people=tuple(p.replace(mask=None) for p in f.people)) for f in frames[:5]]
    a = play(scene("mirror", show_status=False), plain)
    b = play(scene("mirror", show_status=False, silhouettes=False), frames[:5])
    np.testing.assert_array_equal(a, b)


def test_dream_grows_inside_the_silhouette(take):
    from installation.scenes.bodies import placement
    from installation.tracking.pose.masks import mask_iou

    header, frames = take
    dream = scene("dream", seed=1)
    play(dream, frames)
    w, h = dream.work_  # the dream's working picture, letterboxed like the screen
    inside = screen_mask(frames[-1].people[0].mask, header.size, (w, h))
    # What the network dreams from is the body glowing on a dark sky.
    light = dream.base_.max(axis=2)
    assert light[inside > 0.8].mean() > 4 * light[inside < 0.05].mean()

    # The body it dreams from is the mask (not the figure the landmarks draw).
    def shape_match(silhouettes):
        dream = scene("dream", seed=1, silhouettes=silhouettes)
        play(dream, frames[:1])
        found = []
        for frame in frames:
            body, _ = dream._silhouettes(frame, placement(frame.size, (w, h)))
            found.append(mask_iou(body, screen_mask(frame.people[0].mask, header.size, (w, h))))
        return min(found)
    assert shape_match(True) > 0.75 > shape_match(False) + 0.1
