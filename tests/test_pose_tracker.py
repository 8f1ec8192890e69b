"""Our pose tracker (installation/tracking/pose/tracker.py) through the whole Tracker on the real
clips, against MediaPipe's PoseLandmarker: agreement, masks, the detector's
schedule, dropped duplicates, far visitors, ids; and the PoseLandmarker path
kept for comparison.

Each clip is tracked once per module (fixtures); the tests read figures
from that run and print them (``pytest -s``). Bounds were measured on these
clips, with a margin.
"""
from __future__ import annotations

import importlib.util
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from installation.capture import VideoFileSource
from installation.errors import ModelError, SourceEnded
from installation.tracking import landmarkers
from installation.tracking.identity import IdentityTracker
from installation.tracking.pose.masks import mask_iou, working_size
from installation.tracking.pose.detector import Detection
from installation.tracking.pose.tracker import (
    PoseTracker, TrackedBody, _is_followed, _one_track_per_body, same_body,
)
from installation.tracking.tracker import Tracker, TrackerSettings
from helpers import track_frames

LAB = "lab_one_person_cam01.mp4"
STREET = "street_two_people.mp4"
BUNDLE = "pose_landmarker_full.task"
ROOT = Path(__file__).resolve().parents[1]
# A PoseLandmarker person is the same body as ours when their landmarks lie
# within this share of the long side (median).
SAME_PERSON = 0.1


def reference_landmarker(bundle, people: int):
    """PoseLandmarker as the comparison path runs it (VIDEO mode), with masks."""
    # MediaPipe's defaults (0.5), as PoseLandmarker is used by default.
    return landmarkers.create_pose(Path(bundle), "pose_full", video=True, max_people=people,
                                   min_confidence=0.5, masks=True)


@dataclass
class Run:
    """One clip through our Tracker (pose only) and PoseLandmarker, frame by frame."""

    size: tuple[int, int]
    poses: list = field(default_factory=list)  # ours: [(33, 4)] per frame
    tracks: list = field(default_factory=list)  # ours: [track number] per frame
    ids: list = field(default_factory=list)  # after IdentityTracker: [id] per frame
    searches: list = field(default_factory=list)  # windows searched, per frame
    detector_calls: list = field(default_factory=list)  # per frame
    landmark_calls: int = 0
    found_in_searches: int = 0  # detections the scheduled searches returned
    theirs: list = field(default_factory=list)  # PoseLandmarker: [(33, 4)] per frame
    errors: list = field(default_factory=list)  # (33,) per matched body: px / long side
    ious: list = field(default_factory=list)


def track_clip(path, bundle, models_dir, settings: TrackerSettings, limit=None) -> Run:
    source = VideoFileSource(path)
    source.open()
    identity = IdentityTracker()
    run = None
    try:
        with Tracker(settings, models_dir=models_dir) as tracker, \
                reference_landmarker(bundle, settings.max_people) as reference:
            pose = tracker.pose_
            searched = []
            search = pose._detect

            def noting(rgb, window):
                found = search(rgb, window)
                searched.append((window, len(found)))
                return found

            pose._detect = noting
            while limit is None or run is None or len(run.poses) < limit:
                try:
                    frame = source.read()
                except SourceEnded:
                    break
                width, height = frame.size
                run = run or Run((width, height))
                calls, searches = pose.detector_calls_, pose.searches_
                searched.clear()
                out = tracker.process(frame)
                run.detector_calls.append(pose.detector_calls_ - calls)
                # The scheduled search is the first call of a frame; closer looks follow.
                run.searches.append([w for w, _ in searched[:pose.searches_ - searches]])
                run.found_in_searches += sum(n for _, n in searched[:pose.searches_ - searches])
                run.poses.append([p.pose for p in out.people])
                run.tracks.append([p.id for p in out.people])
                run.ids.append([p.id for p in identity.update(out.people, out.t)])
                result = reference.detect_for_video(landmarkers.as_mp_image(frame.image),
                                                    round(frame.index * 1000 / 30))
                theirs = [p for p, _ in landmarkers.pose_arrays(result)]
                run.theirs.append(theirs)
                compare(run, out, theirs, result)
            run.landmark_calls = pose.landmark_calls_
    finally:
        source.close()
    return run


def compare(run: Run, out, theirs, result) -> None:
    width, height = run.size
    long_side = max(width, height)
    for person in out.people:
        if not theirs:
            return
        pixels = [np.hypot(*((p[:, :2] - person.pose[:, :2]) * (width, height)).T)
                  for p in theirs]
        nearest = int(np.argmin([np.median(p) for p in pixels]))
        if np.median(pixels[nearest]) > SAME_PERSON * long_side:
            continue
        run.errors.append(pixels[nearest] / long_side)
        if person.mask is not None:
            size = working_size((width, height))
            their_mask = result.segmentation_masks[nearest].numpy_view().squeeze()
            their_mask = cv2.resize(their_mask.astype(np.float32), size,
                                    interpolation=cv2.INTER_AREA)
            run.ious.append(mask_iou(person.mask, their_mask))


@pytest.fixture(scope="module")
def bundle(models_dir):
    return models_dir / BUNDLE


@pytest.fixture(scope="module")
def lab(media, bundle, models_dir) -> Run:
    return track_clip(media / LAB, bundle, models_dir, TrackerSettings(hands=False, masks=True))


@pytest.fixture(scope="module")
def street(media, bundle, models_dir) -> Run:
    return track_clip(media / STREET, bundle, models_dir, TrackerSettings(hands=False))


# -- settings and the pieces, no models -----------------------------------------------


@pytest.mark.parametrize("bad, key", [(dict(pose_tracker="mp"), "pose_tracker"),
                                      (dict(search_tiles=-1), "search_tiles"),
                                      (dict(search_every=0), "search_every")])
def test_tracker_settings_are_checked(bad, key):
    with pytest.raises(ValueError, match=f"^{key} "):
        TrackerSettings(**bad)


def body_pose(cx, cy, height=0.5):
    """A rough upright (33, 4) pose with hips at (cx, cy), normalised."""
    pose = np.zeros((33, 4), np.float32)
    pose[:, 0] = cx + np.linspace(-0.05, 0.05, 33) * height
    pose[:, 1] = cy + np.linspace(-0.5, 0.5, 33) * height
    pose[[11, 12], 1] = cy - 0.3 * height  # shoulders
    pose[[23, 24], :2] = (cx, cy)
    pose[0, :2] = (cx, cy - 0.45 * height)  # nose
    pose[:, 3] = 0.9
    return pose


def test_a_detection_of_someone_followed_is_known_by_hips_or_face():
    pose = body_pose(0.3, 0.5)

    def detection(hips, box):
        return Detection(0.9, box, np.array([hips, hips, hips, hips], np.float32))

    far_box = (0.8, 0.1, 0.85, 0.15)
    assert _is_followed(detection((0.31, 0.51), far_box), pose, 640, 480)
    # Hips elsewhere, but the face box holds their nose.
    assert _is_followed(detection((0.6, 0.5), (0.28, 0.2, 0.32, 0.3)), pose, 640, 480)
    # Someone else: hips a body away, face box elsewhere.
    assert not _is_followed(detection((0.6, 0.5), far_box), pose, 640, 480)


def test_two_tracks_on_one_body_keep_the_one_followed_longer():
    from installation.tracking.pose.landmarks import BodyResult
    from installation.tracking.regions import Square

    def tracked(track, frames, pose, presence=0.9):
        body = BodyResult(pose, np.zeros((33, 3)), np.zeros((2, 2)), presence,
                          np.zeros((256, 256)), Square((1.0, 1.0), 1.0))
        return TrackedBody(track, body, frames)

    one, shifted, other = body_pose(0.3, 0.5), body_pose(0.31, 0.5), body_pose(0.7, 0.5)
    assert same_body(one, shifted) and not same_body(one, other)
    kept = _one_track_per_body([tracked(5, 1, shifted, 0.99), tracked(2, 40, one),
                                tracked(3, 10, other)])
    assert [p.track for p in kept] == [2, 3]


# -- against PoseLandmarker ---------------------------------------------------------


@pytest.mark.models
@pytest.mark.media
@pytest.mark.parametrize("clip, p95", [("lab", 0.02), ("street", 0.12)])
def test_landmarks_agree_with_pose_landmarker(clip, p95, request):
    run = request.getfixturevalue(clip)
    errors = np.concatenate(run.errors)
    theirs = sum(len(t) for t in run.theirs)
    print(f"{clip}: {len(run.errors)} bodies compared (PoseLandmarker found {theirs}, "
          f"we {sum(map(len, run.poses))}); landmark error median {np.median(errors):.2%}, "
          f"p95 {np.percentile(errors, 95):.2%} of the long side")
    assert len(run.errors) >= 0.9 * theirs
    assert np.median(errors) <= 0.01
    assert np.percentile(errors, 95) <= p95


@pytest.mark.models
@pytest.mark.media
def test_masks_agree_with_pose_landmarker(lab):
    print(f"lab: mask IoU median {np.median(lab.ious):.3f}, lowest {min(lab.ious):.3f} "
          f"over {len(lab.ious)} frames")
    assert len(lab.ious) >= 90
    assert np.median(lab.ious) >= 0.8


# -- the detector's schedule ----------------------------------------------------------


@pytest.mark.models
@pytest.mark.media
def test_searches_follow_the_schedule_and_cycle_the_windows(lab):
    """One person, two allowed: one search every third frame (settings'
    search_every), whole frame, then each tile, in turn."""
    every = TrackerSettings().search_every
    frames = [i for i, s in enumerate(lab.searches) if s]
    windows = [s[0] for s in lab.searches if s]
    print(f"lab: searches on frames {frames[:8]}...; {len(frames)} in {len(lab.searches)} "
          f"frames, {sum(lab.detector_calls)} detector calls")
    assert all(len(s) <= 1 for s in lab.searches)
    assert frames == list(range(0, len(lab.searches), every))
    width, height = lab.size
    from installation.tracking.pose.detector import tiles
    cycle = [None, *tiles(width, height, TrackerSettings().search_tiles)]
    assert windows == [cycle[k % len(cycle)] for k in range(len(windows))]
    # A big person gets no closer look: only the scheduled calls.
    assert sum(lab.detector_calls) == len(frames)


@pytest.mark.models
@pytest.mark.media
def test_detections_of_the_followed_person_are_dropped(lab):
    """The searches keep finding the lab's person; no second track starts on
    them and no landmark call is spent on them: one call a frame."""
    print(f"lab: searches found {lab.found_in_searches} people, tracks "
          f"{sorted({t for ts in lab.tracks for t in ts})}, "
          f"{lab.landmark_calls} landmark calls in {len(lab.tracks)} frames")
    assert lab.found_in_searches >= 15  # measured 23 in 34 searches (not on the lower tile)
    assert all(ts == [1] for ts in lab.tracks)
    assert lab.landmark_calls == len(lab.tracks)


@pytest.mark.models
@pytest.mark.media
def test_no_detector_while_max_people_are_followed(street, media, models_dir):
    """On the street clip, no search on a frame that starts with two people
    followed; and with max_people 1, none after the lab's person is found."""
    after_two = [calls for before, calls in zip(street.tracks, street.detector_calls[1:])
                 if len(before) == 2]
    print(f"street: {len(after_two)} frames started with two people followed, detector calls "
          f"on them {sum(after_two)}; on the others {sum(street.detector_calls) - sum(after_two)}")
    assert len(after_two) >= 100
    assert sum(after_two) == 0
    source = VideoFileSource(media / LAB)
    source.open()
    try:
        with Tracker(TrackerSettings(hands=False, max_people=1), models_dir=models_dir) as tracker:
            found = [len(tracker.process(source.read()).people) for _ in range(15)]
            assert found == [1] * 15
            assert tracker.pose_.detector_calls_ == 1  # the first frame's search
    finally:
        source.close()


# -- ids ------------------------------------------------------------------------------


@pytest.mark.models
@pytest.mark.media
def test_street_ids_never_change_while_followed(street):
    """Each followed track keeps one visitor id (no swaps, no changes), and
    no id is worn by two people at once."""
    ids_by_track = defaultdict(set)
    for tracks, ids in zip(street.tracks, street.ids):
        assert len(set(ids)) == len(ids)
        for track, pid in zip(tracks, ids):
            ids_by_track[track].add(pid)
    changes = sum(len(ids) - 1 for ids in ids_by_track.values())
    everyone = sorted({pid for ids in street.ids for pid in ids})
    print(f"street: {len(ids_by_track)} tracks, visitor ids {everyone}, "
          f"id changes within a track: {changes}")
    assert changes == 0
    # Two people, one of them lost while he jumps off the box: at most 4 ids.
    assert len(everyone) <= 4


# -- far visitors ---------------------------------------------------------------------


def far_visitor_module():
    spec = importlib.util.spec_from_file_location("far_visitor_clip",
                                                  ROOT / "benchmarks" / "far_visitor_clip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.models
@pytest.mark.media
def test_far_visitor_found_on_a_tile_and_followed(media, models_dir, tmp_path):
    clip = far_visitor_module()
    path = clip.compose(tmp_path / "far.mp4", frames=24, media=media)
    counts = {}
    for tiles in (2, 0):
        frames = track_frames(path, TrackerSettings(hands=False, search_tiles=tiles), models_dir, 24)
        counts[tiles] = [clip.sides([p.pose for p in frame.people]) for frame in frames]
    near = [n for n, _ in counts[2]]
    far = [f for _, f in counts[2]]
    first = far.index(True) if any(far) else None
    print(f"far visitor clip, 24 frames: near person on {sum(near)}, far person on {sum(far)} "
          f"(first on frame {first}); whole frame only: far person on "
          f"{sum(f for _, f in counts[0])}")
    assert all(near)
    # The second tile's turn is the third search: frame 6 at one search every 3 frames.
    assert first is not None and first <= 2 * TrackerSettings().search_every
    assert sum(far[first:]) >= 0.9 * (len(far) - first)
    assert not any(f for _, f in counts[0])


# -- the comparison path and bad bundles -----------------------------------------------


@pytest.mark.models
@pytest.mark.media
def test_mediapipe_path_still_tracks(media, models_dir, lab):
    source = VideoFileSource(media / LAB)
    source.open()
    try:
        with Tracker(TrackerSettings(hands=False, pose_tracker="mediapipe", masks=True),
                     models_dir=models_dir) as tracker:
            assert not isinstance(tracker.pose_, PoseTracker)
            frames = [tracker.process(source.read()) for _ in range(10)]
            # masks are our tracker's
            assert all(p.mask is None for f in frames for p in f.people)
    finally:
        source.close()
    width, height = lab.size
    for frame, ours in zip(frames, lab.poses):
        (person,) = frame.people
        assert person.id == -1 and person.world is not None
        gap = np.median(np.hypot(*((person.pose[:, :2] - ours[0][:, :2]) * (width, height)).T))
        assert gap / max(width, height) < 0.02


def write_bundle(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)


@pytest.mark.models
def test_a_bundle_with_a_wrong_model_is_one_line_from_tracker_open(models_dir, tmp_path,
                                                                    monkeypatch):
    monkeypatch.delenv("INSTALLATION_MODELS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with zipfile.ZipFile(models_dir / BUNDLE) as real:
        detector = real.read("pose_detector.tflite")
    folder = tmp_path / "models"
    folder.mkdir()
    # The detector where the landmark model should be.
    write_bundle(folder / BUNDLE, {"pose_detector.tflite": detector,
                                   "pose_landmarks_detector.tflite": detector})
    tracker = Tracker(TrackerSettings(hands=False), models_dir=folder)
    with pytest.raises(ModelError) as error:
        tracker.open()
    message = str(error.value)
    print(message)
    assert "pose_landmarks_detector.tflite" in message and "should have shape" in message
    assert "installation models fetch pose_full" in message and "\n" not in message
    assert tracker.pose_ is None
