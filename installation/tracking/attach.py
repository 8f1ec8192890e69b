"""Which parts belong to whom: hands and faces given to the nearest body,
second detections of one body dropped, answers that are not numbers
refused. The tracker's per-frame bookkeeping, apart from running models.
"""
from __future__ import annotations

import numpy as np

from installation.tracking.hands.finder import WRIST_AND_ELBOW, FoundHand
from installation.tracking.pose.tracker import same_body
from installation.types import NOSE, Face, Hand, Person


def finite(*arrays) -> bool:
    return all(a is None or bool(np.isfinite(a).all()) for a in arrays)


def attach_hands(people: list[Person], found: list[FoundHand], width: int,
                  height: int) -> list[Person]:
    """Give each hand to the person whose wrist on that side is nearest, within
    a forearm's length (a hand farther away belongs to someone or something
    else); each person's side takes one hand, the nearest."""
    pairs = []
    scale = np.array([width, height])
    for h, hand in enumerate(found):
        wrist, elbow = WRIST_AND_ELBOW[hand.side]
        for p, person in enumerate(people):
            wrist_px, elbow_px = person.pose[wrist, :2] * scale, person.pose[elbow, :2] * scale
            distance = float(np.hypot(*(hand.landmarks[0, :2] * scale - wrist_px)))
            if distance <= float(np.hypot(*(wrist_px - elbow_px))):
                pairs.append((distance, h, p))
    hands: dict[tuple[int, str], Hand] = {}
    used = set()
    for _, h, p in sorted(pairs):
        hand = found[h]
        if h in used or (p, hand.side) in hands:
            continue
        used.add(h)
        if finite(hand.landmarks):
            hands[p, hand.side] = Hand(hand.landmarks, hand.side, hand.score)
    return [person.replace(**{f"{side}_hand": hands[p, side] for side in ("left", "right")
                              if (p, side) in hands})
            for p, person in enumerate(people)]


def drop_duplicates(poses: list) -> list:
    """Remove second detections of the same body.

    With num_poses > 1 the pose landmarker sometimes reports one person twice
    (on the street clip, 11 of 230 frames), which would spawn a phantom
    visitor. The more visible of two poses of one body (see
    :func:`pose_tracker.same_body`) is kept.
    """
    kept: list = []
    for pose, world in sorted(poses, key=lambda p: -float(p[0][:, 3].mean())):
        if not any(same_body(pose, other) for other, _ in kept):
            kept.append((pose, world))
    return kept


def attach_faces(people: list[Person], faces) -> list[Person]:
    """Give each face to the person whose pose nose is nearest its nose tip."""
    taken = set()
    result = []
    for person in people:
        best, best_distance = None, 0.1  # normalised image units
        for index, (landmarks, _) in enumerate(faces):
            distance = float(np.hypot(*(landmarks[1, :2] - person.pose[NOSE, :2])))
            if index not in taken and distance < best_distance:
                best, best_distance = index, distance
        if best is None:
            result.append(person)
        else:
            taken.add(best)
            result.append(person.replace(face=Face(*faces[best])))
    return result
