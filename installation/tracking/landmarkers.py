"""Thin wrappers that turn MediaPipe Tasks results into arrays.

Everything that knows MediaPipe's result objects lives here, so the rest of
the package sees only numpy arrays and the types in ``installation.types``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from installation.errors import ModelError


def _vision():
    # Imported late: mediapipe takes a second to import and the CLI's --help,
    # the take tools and the tests of other layers don't need it.
    from mediapipe.tasks.python import vision
    return vision


def _base_options(path: Path):
    from mediapipe.tasks.python.core.base_options import BaseOptions
    return BaseOptions(model_asset_path=str(path))


def _create(factory, options, path: Path, bundle: str):
    try:
        return factory.create_from_options(options)
    except (RuntimeError, ValueError, OSError) as error:
        raise ModelError(
            f"MediaPipe could not load the model bundle ({error})",
            where=str(path),
            fix=f"delete the file and run `installation models fetch {bundle}`",
        ) from None


def as_mp_image(rgb: np.ndarray):
    import mediapipe as mp
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


def create_pose(path: Path, bundle: str, *, video: bool, max_people: int, min_confidence: float,
                masks: bool = False):
    """MediaPipe's PoseLandmarker; ``masks``: with its segmentation masks
    (the reference our own tracker's masks are measured against)."""
    vision = _vision()
    options = vision.PoseLandmarkerOptions(
        base_options=_base_options(path),
        running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
        num_poses=max_people,
        min_pose_detection_confidence=min_confidence,
        min_pose_presence_confidence=min_confidence,
        min_tracking_confidence=min_confidence,
        output_segmentation_masks=masks,
    )
    return _create(vision.PoseLandmarker, options, path, bundle)


def create_hands(path: Path, bundle: str, *, max_hands: int, min_confidence: float):
    # IMAGE mode: hands are searched on crops that move with the body every
    # frame, so MediaPipe's own frame-to-frame hand tracking does not apply.
    vision = _vision()
    options = vision.HandLandmarkerOptions(
        base_options=_base_options(path),
        running_mode=vision.RunningMode.IMAGE,
        num_hands=max_hands,
        min_hand_detection_confidence=min_confidence,
        min_hand_presence_confidence=min_confidence,
    )
    return _create(vision.HandLandmarker, options, path, bundle)


def create_face(path: Path, bundle: str, *, max_faces: int, min_confidence: float):
    vision = _vision()
    options = vision.FaceLandmarkerOptions(
        base_options=_base_options(path),
        running_mode=vision.RunningMode.VIDEO,
        num_faces=max_faces,
        min_face_detection_confidence=min_confidence,
        min_face_presence_confidence=min_confidence,
        min_tracking_confidence=min_confidence,
        output_face_blendshapes=True,
    )
    return _create(vision.FaceLandmarker, options, path, bundle)


def pose_arrays(result) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(33, 4) image landmarks with visibility and (33, 3) world landmarks per person."""
    people = []
    worlds = result.pose_world_landmarks or [None] * len(result.pose_landmarks)
    for landmarks, world in zip(result.pose_landmarks, worlds):
        pose = np.array([(p.x, p.y, p.z, p.visibility or 0.0) for p in landmarks], np.float32)
        world_array = None if world is None else np.array([(p.x, p.y, p.z) for p in world], np.float32)
        people.append((pose, world_array))
    return people


def hand_arrays(result) -> list[tuple[np.ndarray, float]]:
    """(21, 3) landmarks in the analysed image's coordinates, with the detection score."""
    hands = []
    for landmarks, handedness in zip(result.hand_landmarks, result.handedness):
        score = float(handedness[0].score) if handedness else 1.0
        hands.append((np.array([(p.x, p.y, p.z) for p in landmarks], np.float32), score))
    return hands


def face_arrays(result) -> list[tuple[np.ndarray, dict[str, float]]]:
    faces = []
    shapes = result.face_blendshapes or [[]] * len(result.face_landmarks)
    for landmarks, blendshapes in zip(result.face_landmarks, shapes):
        array = np.array([(p.x, p.y, p.z) for p in landmarks], np.float32)
        faces.append((array, {c.category_name: float(c.score) for c in blendshapes}))
    return faces
