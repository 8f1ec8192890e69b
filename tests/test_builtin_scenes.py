"""The built-in scenes in scenes/: each one run headless on the demo take.

The scene files are imported straight from scenes/ (not through the scene
discovery), driven over real frames of the shipped take (landmarks tracked
from the street clip) and over synthetic people and images, and their
pictures are checked: not flat, drawn where the people are (the same frames
with the people mirrored change the picture there, not elsewhere), answering
the mapper outputs they promise to answer. No test measures wall-clock time.
"""
from __future__ import annotations

import inspect

import numpy as np
import pygame
import pytest

from installation import Frame, Hand, Person, Scene
from installation.assets import DEMO_TAKE, asset_path
from installation.scenes import draw
from installation.takes.io import read_take
from helpers import free_udp_port, longest_quote
# DT, SIZE, frames_of, load, scene_class, stick_figure and street_image are
# imported from here by tests/test_dream_scene.py too (for now: scenekit is their home).
from scenekit import (DT, SIZE, difference, frames_of, load, make, pixels, play, scene_class,  # noqa: F401
                      stick_figure, still, street_image, waving)

NAMES = ["poetry", "dream", "mirror", "particles"]


# -- frames: the real take and synthetic people --------------------------------------------


@pytest.fixture(scope="module")
def take():
    """The demo take (street clip landmarks) as frames, as a replay gives them."""
    header, frames = read_take(asset_path(DEMO_TAKE))
    return [Frame(index=n, t=t, size=header.size, people=people, tracked=True)
            for n, (t, people) in enumerate(frames)]


@pytest.fixture(scope="module")
def busy(take):
    """60 frames of the take around the first frame with two people in view."""
    start = max(0, next(n for n, f in enumerate(take) if len(f.people) == 2) - 20)
    return take[start:start + 60]


@pytest.fixture(scope="module")
def alone(take):
    """45 frames of the take with its first walker (id 1) alone in view, on
    the left half (the take's brief false detections, ids 2, 3 and 5, left out)."""
    frames = [f.replace(people=tuple(p for p in f.people if p.id == 1)) for f in take
              if 1 in {p.id for p in f.people} and {p.id for p in f.people} <= {1, 2, 3, 5}][:45]
    assert len(frames) == 45 and all(f.people[0].pose[:, 0].mean() < 0.45 for f in frames)
    return frames


def mirrored(frame: Frame) -> Frame:
    """The same frame with everyone mirrored left to right (hands too)."""
    def flip(hand):
        return None if hand is None else Hand(hand.landmarks * (-1, 1, 1) + (1, 0, 0), hand.side,
                                              hand.score)
    return frame.replace(people=tuple(
        p.replace(pose=p.pose * (-1, 1, 1, 1) + (1, 0, 0, 0), left_hand=flip(p.left_hand),
                  right_hand=flip(p.right_hand)) for p in frame.people))


def people_region(frames, size=SIZE, margin=0.06) -> np.ndarray:
    """Where the people of ``frames`` are on a screen of ``size``: a (width,
    height) bool array, True in the box around each one's landmarks and hands
    (widened by ``margin`` of the screen)."""
    region = np.zeros(size, bool)
    for frame in frames:
        for person in frame.people:
            points = np.concatenate([person.pose[:, :2]] + [
                hand.landmarks[:, :2] for hand in (person.left_hand, person.right_hand) if hand])
            (x0, y0), (x1, y1) = (np.clip(points.min(axis=0) - margin, 0, 1),
                                  np.clip(points.max(axis=0) + margin, 0, 1))
            region[int(x0 * size[0]):int(np.ceil(x1 * size[0])),
                   int(y0 * size[1]):int(np.ceil(y1 * size[1]))] = True
    return region


def change_inside_and_out(a: pygame.Surface, b: pygame.Surface, region) -> tuple[float, float]:
    """The mean change from picture ``a`` to ``b`` (summed over R, G and B)
    inside ``region`` and outside it."""
    changed = np.abs(pixels(a) - pixels(b)).sum(axis=2)
    return float(changed[region].mean()), float(changed[~region].mean())


def assert_drawn_where_the_people_are(name, here, there, frame, size=SIZE):
    """``here`` was drawn from ``frame``'s people, ``there`` from the same
    people mirrored: the pictures differ where they stand (in either place),
    and several times less elsewhere."""
    region = people_region([frame, mirrored(frame)], size)
    assert region.mean() < 0.4  # the test means something: most of the screen is elsewhere
    inside, outside = change_inside_and_out(here, there, region)
    assert inside > 10, f"{name}: moving the people changed little where they are ({inside:.1f})"
    assert inside > 4 * outside, f"{name}: the change is not where the people are " \
                                 f"({inside:.1f} there, {outside:.1f} elsewhere)"


# -- every scene -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_scene_file_follows_the_contract(name):
    module, cls = load(name), scene_class(name)
    assert cls.name == name
    first_line = module.__doc__.strip().splitlines()[0]
    assert f"Preview: installation preview {name}" in first_line
    for hook in ("enter", "update", "draw", "exit"):
        assert getattr(cls, hook) is not getattr(Scene, hook), f"{name} should define {hook}()"


@pytest.mark.parametrize("name", NAMES)
def test_settings_are_keyword_arguments_with_defaults_and_only_stored(name):
    cls = scene_class(name)
    parameters = list(inspect.signature(cls).parameters.values())
    assert parameters, f"{name} has no settings"
    for p in parameters:
        assert p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY), p
        assert p.default is not p.empty, f"{name}: setting {p.name!r} needs a default"
    scene = cls()
    # The scikit-learn rule: the constructor stores its settings under their own names, nothing else.
    assert vars(scene) == {p.name: p.default for p in parameters}
    changed = {p.name: p.default for p in parameters}
    scene = cls(**changed)
    assert vars(scene) == changed


@pytest.mark.parametrize("name", NAMES)
def test_draws_a_picture_of_the_take(name, busy):
    surface = play(make(name), busy)
    picture = pixels(surface)
    assert picture.std() > 4.0, f"{name} drew a flat picture"
    assert len(np.unique(picture.reshape(-1, 3) // 8, axis=0)) > 40, f"{name} drew too few colours"


@pytest.mark.parametrize("name", NAMES)
def test_picture_follows_the_landmarks(name, alone):
    """The take's frames, then the same frames with the person mirrored to
    the other side: the picture changes where the person stands (here and
    there), not all over."""
    here = play(make(name), alone)
    there = play(make(name), [mirrored(f) for f in alone])
    assert_drawn_where_the_people_are(name, here, there, alone[-1])


@pytest.mark.parametrize("name", NAMES)
def test_empty_frames_and_repeated_frames_do_not_crash(name, busy, alone):
    """Nobody, the same frame again and again, garbage landmarks: survived,
    and afterwards the scene still draws a person where they stand."""
    rng = np.random.default_rng(1)
    odd = [Person(pose=rng.uniform(-0.5, 1.5, (33, 4)), id=int(rng.integers(-1, 9))) for _ in range(3)]
    nobody = [Frame.empty(index=n, t=n * DT) for n in range(10)]

    def survivor():
        scene = make(name)
        play(scene, nobody)
        # The render loop can be faster than the camera: the same frame comes again.
        play(scene, [busy[40]] * 5 + [busy[41]] * 3 + nobody[:3], enter=False)
        # Garbage landmarks (off screen, invisible, odd shapes).
        play(scene, frames_of(lambda n: odd, count=5), enter=False)
        return scene

    # Two scenes with the same past, then the person on one side or the other.
    here = play(survivor(), alone, enter=False)
    there = play(survivor(), [mirrored(f) for f in alone], enter=False)
    assert_drawn_where_the_people_are(name, here, there, alone[-1])


@pytest.mark.parametrize("name", NAMES)
def test_survives_a_resized_window_and_a_second_entrance(name, busy, alone):
    """Entered at one size and given a bigger screen: it draws the person
    where they stand on the bigger screen; after exit() it can come on again."""
    bigger = (800, 500)

    def resized(frames):
        scene = make(name)
        play(scene, busy[:5])
        surface = pygame.Surface(bigger)
        for frame in frames:
            scene.update(frame, {}, DT)
            scene.draw(surface)
        scene.exit()
        return scene, surface

    scene, here = resized(alone)
    _, there = resized([mirrored(f) for f in alone])
    assert_drawn_where_the_people_are(name, here, there, alone[-1], size=bigger)
    # On stage again after exit(): the same pictures as a new scene's.
    again = play(scene, busy[:5])
    scene.exit()
    np.testing.assert_array_equal(pixels(again), pixels(play(make(name), busy[:5])))


@pytest.mark.parametrize("name", ["dream", "mirror"])
def test_camera_image_scenes_show_the_image(name):
    image = street_image()
    with_image = play(make(name), frames_of(still, count=20, size=(320, 180), image=image))
    without = play(make(name), frames_of(still, count=20, size=(320, 180)))
    assert difference(with_image, without) > 10
    # The sky of the synthetic image is blue, its ground green: so is the picture.
    picture = pixels(with_image)
    sky, ground = picture[:, 20].mean(axis=0), picture[:, -20].mean(axis=0)
    assert sky[2] > sky[0] and ground[1] > ground[2]


# -- body masks ------------------------------------------------------------------------------

# Boxes (x0, y0, x1, y1, image fractions) away from stick_figure()'s landmarks.
LEFT_BOX, RIGHT_BOX = (0.03, 0.08, 0.2, 0.45), (0.8, 0.55, 0.97, 0.95)


def box_mask(box, size=(160, 90)) -> np.ndarray:
    """A mask over the whole image at ``size`` (width, height): 1 in ``box``."""
    mask = np.zeros((size[1], size[0]), np.float32)
    x0, y0, x1, y1 = box
    mask[round(y0 * size[1]):round(y1 * size[1]), round(x0 * size[0]):round(x1 * size[0])] = 1.0
    return mask


def masked(n):
    # Two people, masks of two sizes (a scene scales each to its own).
    return [stick_figure(arms="wide", person_id=1).replace(mask=box_mask(LEFT_BOX)),
            stick_figure(cx=0.7, size=0.3, person_id=2).replace(mask=box_mask(RIGHT_BOX, (64, 36)))]


def on_screen(box, size=SIZE, margin=6):
    """The screen pixels (x, y slices of surfarray pixels) well inside ``box``
    (``margin`` pixels in from its edges; a negative margin widens it)."""
    x0, y0, x1, y1 = box
    margin = round(margin)
    return (slice(max(0, round(x0 * size[0]) + margin), round(x1 * size[0]) - margin),
            slice(max(0, round(y0 * size[1]) + margin), round(y1 * size[1]) - margin))


@pytest.mark.parametrize("name", NAMES)
def test_scenes_take_people_with_masks(name):
    """People carrying masks of two sizes: a scene that uses masks changes its
    picture only where the people and their masks are; one that does not use
    them draws exactly what it draws without them."""
    with_masks = play(make(name), frames_of(masked, count=10))
    without = play(make(name), frames_of(lambda n: [p.replace(mask=None) for p in masked(n)],
                                         count=10))
    region = people_region(frames_of(masked, count=1), margin=0.03)
    for box in (LEFT_BOX, RIGHT_BOX):
        region[on_screen(box, margin=-0.03 * SIZE[0])] = True
    inside, outside = change_inside_and_out(with_masks, without, region)
    assert outside <= 0.1 * inside, f"{name}: masks changed the picture away from the people " \
                                    f"({outside:.2f} elsewhere, {inside:.2f} there)"
    # And people without masks again, in the same scene: drawn as before.
    scene = make(name)
    play(scene, frames_of(masked, count=10))
    play(scene, frames_of(still, count=3), enter=False)
    scene.exit()


def test_mirror_tints_each_silhouette_in_the_persons_colour():
    frames = frames_of(masked, count=3)
    on = pixels(play(make("mirror", show_status=False), frames))
    off = pixels(play(make("mirror", show_status=False, silhouettes=False), frames))
    changed = np.abs(on - off).sum(axis=2)
    outside = np.ones(changed.shape, bool)
    for box, person_id in ((LEFT_BOX, 1), (RIGHT_BOX, 2)):
        inside = on_screen(box)
        assert changed[inside].min() > 30  # every pixel of the silhouette is tinted
        # A translucent tint: towards the person's colour, not covering the stage.
        tint = on[inside].mean(axis=(0, 1))
        colour = np.array(draw.colour_for(person_id), np.float32)
        assert np.argmax(tint) == np.argmax(colour) and (tint < colour - 20).all()
        outside[on_screen(box, margin=-10)] = False
    assert changed[outside].max() == 0  # nothing else changed
    # No masks: the picture of before, whatever the setting.
    plain = frames_of(lambda n: [p.replace(mask=None) for p in masked(n)], count=3)
    np.testing.assert_array_equal(pixels(play(make("mirror", show_status=False), plain)), off)


def test_dream_grows_from_the_mask_not_the_landmarks():
    def body(silhouettes):
        # The picture the network dreams from, at the working size.
        scene = make("dream", silhouettes=silhouettes)
        play(scene, frames_of(lambda n: masked(n)[:1], count=5))
        light = scene.base_.max(axis=2)
        scene.exit()
        h, w = light.shape
        box = light[round(0.15 * h):round(0.4 * h), round(0.06 * w):round(0.17 * w)]
        figure = light[round(0.35 * h):round(0.6 * h), round(0.45 * w):round(0.55 * w)]
        return box.mean(), figure.mean()
    box, figure = body(True)
    assert box > 0.3 > 0.15 > figure  # the body is the mask's box
    box, figure = body(False)
    assert figure > 0.3 > 0.15 > box  # the landmarks' figure without it


# -- poetry: the word chain -------------------------------------------------------------------


def chain(order=2, temperature=1.0, max_verbatim=None, poems=None):
    poetry = load("poetry")
    return poetry.WordChain(order, temperature, max_verbatim).fit(poems)


def shipped_corpora():
    poetry = load("poetry")
    return {path.stem: poetry.read_corpus(path.read_text(encoding="utf-8"))
            for path in sorted(asset_path(DEMO_TAKE).parent.glob("poetry_*.txt"))}


def test_shipped_corpora_are_real_poems():
    corpora = shipped_corpora()
    assert {"poetry_night", "poetry_body"} <= set(corpora)
    for name, poems in corpora.items():
        assert len(poems) >= 5, name
        assert sum(map(len, poems)) > 600, name
        assert all(word == word.strip() and word for poem in poems for word in poem)


def test_order_sets_how_much_context_the_chain_follows():
    # After "fox", runs and sleeps are equally likely; after "red fox" only "runs".
    poems = [["red", "fox", "runs."], ["blue", "fox", "sleeps."]] * 5
    rng = np.random.default_rng(0)

    def continuations(order):
        c = chain(order, 1.0, max_verbatim=50, poems=poems)
        return {c.next_word(["the", "red", "fox"], rng) for _ in range(200)}

    assert continuations(2) == {"runs."}
    assert continuations(1) == {"runs.", "sleeps."}


def test_generated_text_follows_the_corpus_ngrams():
    poems = shipped_corpora()["poetry_night"]
    c = chain(2, 1.0, max_verbatim=8, poems=poems)
    rng = np.random.default_rng(2)
    trigrams = {tuple(p[i:i + 3]) for p in poems for i in range(len(p) - 2)}
    words, full = [], 0
    for _ in range(600):
        words.append(c.next_word(words, rng))
        if c.last_order_ == 2:
            full += 1
            assert tuple(words[-3:]) in trigrams
    assert full > 400  # mostly the full context; backing off is the exception


def test_temperature_reshapes_the_odds():
    poems = [["a", "b"]] * 9 + [["a", "c"]]
    share = {}
    for temperature in (0.0, 0.5, 1.0, 3.0):
        c = chain(1, temperature, max_verbatim=50, poems=poems)
        rng = np.random.default_rng(3)
        picks = [c.next_word(["a"], rng) for _ in range(4000)]
        share[temperature] = picks.count("b") / len(picks)
    assert share[0.0] == 1.0
    assert share[0.5] == pytest.approx(81 / 82, abs=0.01)
    assert share[1.0] == pytest.approx(0.9, abs=0.02)
    assert share[3.0] == pytest.approx(9 ** (1 / 3) / (9 ** (1 / 3) + 1), abs=0.03)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("corpus", ["poetry_night", "poetry_body"])
def test_never_quotes_more_than_max_verbatim_words(order, corpus):
    poems = shipped_corpora()[corpus]
    # A cold chain (low temperature) would copy its corpus most eagerly.
    for temperature, max_verbatim in ((0.2, None), (1.0, order + 1)):
        c = chain(order, temperature, max_verbatim, poems)
        limit = order + 3 if max_verbatim is None else max_verbatim
        words = c.generate(800, np.random.default_rng(order))
        assert longest_quote(words, poems) <= limit
        # ...and the rule is not vacuous: quotations up to the limit do happen.
        assert longest_quote(words, poems) >= order + 1


def test_chain_settings_are_checked():
    poems = [["a", "b", "c"]]
    with pytest.raises(ValueError, match="max_verbatim"):
        chain(2, 1.0, 2, poems)
    with pytest.raises(ValueError, match="order"):
        chain(0, 1.0, None, poems)
    with pytest.raises(ValueError, match="temperature"):
        chain(2, -1.0, None, poems)
    with pytest.raises(ValueError, match="no words"):
        chain(2, 1.0, None, [])


# -- poetry: the scene ------------------------------------------------------------------------


def test_poetry_words_are_born_at_the_hands():
    scene = make("poetry")
    surface = pygame.Surface((1280, 720))
    scene.enter((1280, 720))
    for frame in frames_of(waving, count=90):
        scene.update(frame, {}, DT)
        scene.draw(surface)
        born = [w for w in scene.words_ if w.age <= DT + 1e-9]
        for word in born:
            nearest = min(np.hypot(word.x - x, word.y - y) for x, y, *_ in scene.hands_)
            assert nearest < 0.03 * 720
    assert scene.words_, "no word was written"
    # Legible from three metres: at 1080p, words and verse at least 60 pixels tall.
    assert min(font.get_height() for font in scene.fonts_) >= 720 / 18
    assert scene.verse_font_.get_height() >= 720 / 18


def test_poetry_movement_sets_the_pace():
    def written(people_at):
        scene = make("poetry")
        play(scene, frames_of(people_at, count=150))
        return len(scene.history_)
    assert written(waving) > 1.5 * written(still) > 0
    empty = make("poetry")
    play(empty, frames_of(lambda n: [], count=60))
    assert not empty.words_  # nobody there, nothing written


def test_poetry_mood_output_switches_corpus_and_colours():
    poetry = load("poetry")
    vocabulary = {name: {w for poem in poems for w in poem} for name, poems in shipped_corpora().items()}
    pictures, words = {}, {}
    for mood in (1, 2):
        scene = make("poetry", moods=("night", "body"))
        pictures[mood] = play(scene, frames_of(waving, count=150), outputs={"mood": float(mood)})
        words[mood] = scene.history_
        assert scene.mood_ == mood - 1
    night, body = pixels(pictures[1]).mean(axis=(0, 1)), pixels(pictures[2]).mean(axis=(0, 1))
    assert night[2] > night[0] and body[0] > body[2]  # blue night, warm body
    assert all(w in vocabulary["poetry_night"] for w in words[1])
    assert all(w in vocabulary["poetry_body"] for w in words[2])
    # The output's name is a setting, and a custom corpus can be a path.
    custom = make("poetry", moods=("night", str(asset_path("poetry_body.txt"))), mood_output="feeling")
    play(custom, frames_of(waving, count=60), outputs={"feeling": 2.0})
    assert custom.mood_ == 1 and set(custom.history_) <= vocabulary["poetry_body"]
    assert poetry.Poetry.name == "poetry"


def test_poetry_unknown_mood_says_what_exists():
    with pytest.raises(FileNotFoundError, match="night"):
        make("poetry", moods=("nope",)).enter(SIZE)


# -- dream -----------------------------------------------------------------------------------


# Dreaming through the network, its steering and its process: tests/test_dream_scene.py.


def test_dream_without_camera_paints_the_bodies():
    scene = make("dream")
    empty = pixels(play(scene, frames_of(lambda n: [], count=10)))
    body = pixels(play(make("dream"), frames_of(still, count=10)))
    # Where the body stands (hips at the middle of the screen), it glows.
    centre = (slice(SIZE[0] // 2 - 20, SIZE[0] // 2 + 20), slice(SIZE[1] // 2 - 60, SIZE[1] // 2))
    assert body[centre].mean() > empty[centre].mean() + 20


# -- particles ---------------------------------------------------------------------------------


def light_spread(surface) -> float:
    """How far the light reaches from its centre, in pixels (brightness-weighted)."""
    picture = pixels(surface).sum(axis=2)
    picture = np.clip(picture - np.percentile(picture, 50), 0, None)
    x, y = np.meshgrid(np.arange(picture.shape[0]), np.arange(picture.shape[1]), indexing="ij")
    total = picture.sum()
    cx, cy = (picture * x).sum() / total, (picture * y).sum() / total
    return float(np.sqrt((picture * ((x - cx) ** 2 + (y - cy) ** 2)).sum() / total))


def test_particles_outputs_drive_hue_spread_and_speed(busy):
    def run(**outputs):
        scene = make("particles")
        surface = play(scene, busy, outputs=outputs)
        return scene, surface
    red, blue = pixels(run(hue=0.0)[1]).mean(axis=(0, 1)), pixels(run(hue=0.66)[1]).mean(axis=(0, 1))
    assert red[0] > red[2] and blue[2] > blue[0]
    assert light_spread(run(spread=1.0)[1]) > 1.3 * light_spread(run(spread=0.0)[1])
    # Speed: how far the particles travel per frame around a visitor standing still.
    steps = {}
    for speed in (0.0, 1.0):
        scene = make("particles")
        play(scene, frames_of(still, count=30), outputs={"speed": speed})
        steps[speed] = np.linalg.norm(scene.position_ - scene.last_position_, axis=1).mean()
    assert steps[1.0] > 2 * steps[0.0]
    scene = run(hue=0.2, spread=0.9, speed=0.5)[0]
    assert scene.params_ == {"hue": 0.2, "spread": 0.9, "speed": 0.5}
    assert set(scene.sources_.values()) == {"output"}


def test_particles_output_names_are_settings(busy):
    scene = make("particles", hue_output="colour")
    play(scene, busy[:10], outputs={"colour": 0.1, "hue": 0.9})
    assert scene.params_["hue"] == pytest.approx(0.1) and scene.sources_["hue"] == "output"


def test_particles_without_outputs_read_the_body():
    def params(arms):
        scene = make("particles")
        play(scene, frames_of(lambda n: [stick_figure(arms=arms)], count=60))
        assert set(scene.sources_.values()) == {"body"}
        return scene.params_
    down, wide, up = params("down"), params("wide"), params("up")
    assert wide["spread"] > down["spread"] + 0.3  # arms out spread the swarm
    assert up["hue"] > down["hue"] + 0.3  # hands raised turn it blue and violet
    assert params("wide")["speed"] < 0.1  # standing still: slow
    scene = make("particles")
    play(scene, frames_of(waving, count=60))
    assert scene.params_["speed"] > 0.1


# -- mirror ------------------------------------------------------------------------------------


def test_mirror_shows_skeletons_ids_and_outputs(busy):
    frame = next(f for f in busy if len(f.people) == 2)
    plain = play(make("mirror"), [frame])
    colours = {tuple(c) for c in pixels(plain).reshape(-1, 3).astype(int)}
    for person in frame.people:
        assert draw.colour_for(person.id) in colours
    with_outputs = play(make("mirror"), [frame], outputs={"mood": 2.0, "spread": 0.25})
    panel = (slice(SIZE[0] * 3 // 4, SIZE[0]), slice(0, SIZE[1] // 4))
    assert np.abs(pixels(with_outputs)[panel] - pixels(plain)[panel]).mean() > 2
    # An output outside 0..1 widens its bar's range instead of being clipped.
    scene = make("mirror")
    play(scene, [frame], outputs={"x": 3.5})
    assert scene.ranges_["x"] == (0.0, 3.5)


def test_mirror_status_names_the_kind_of_source(tmp_path, media):
    """The status line says where the frames come from, read from real
    sources opened as the piece opens them (a camera, which no machine here
    has, by its class)."""
    import cv2

    from installation.capture import open_source
    from installation.capture.camera import CameraSource

    clip = media / "lab_one_person_cam01.mp4"
    folder = tmp_path / "stills"
    folder.mkdir()
    assert cv2.imwrite(str(folder / "a.png"), street_image())
    specs = {"video": str(clip), "stream": clip.as_uri(), "folder": str(folder),
             "take": str(asset_path(DEMO_TAKE)), "nodes": f"osc://127.0.0.1:{free_udp_port()}"}
    words = {}
    for kind, spec in specs.items():
        source = open_source(spec, nodes={"left": {"main": True,
                                                   "homography": np.eye(3).tolist()}})
        with source:  # an empty room of nodes still gives a frame (Source.idle)
            frame = source.read()
        scene = make("mirror")
        play(scene, [frame])
        words[kind] = scene.status_text(frame).split()[4]  # frame N  P people  KIND  F fps
    assert words == {kind: kind for kind in specs}
    assert CameraSource.kind == "camera"
