"""The trained networks a dream can go through, by the name a scene gives.

Each is a model of :mod:`installation.models` (so it is found, checked and
fetched like the tracker's), the member of its bundle that is the network,
the pixel range it was trained on, and the layer dreamt through by default.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DreamNetwork:
    """Where a dream network is and how it reads a picture."""

    model: str                         # its name in installation.models ("pose_full")
    member: str | None                 # the network inside a .task bundle; None: a .tflite
    value_range: tuple[float, float]   # the pixel values it was trained on
    layer: str                         # the layer dreamt through unless a scene asks for another


# The default layers are those whose dreams were best on the street clip.
NETWORKS: dict[str, DreamNetwork] = {
    # The pose landmark network the tracker already uses: it sees bodies
    # and grows faces, limbs and ghostly figures.
    "pose": DreamNetwork("pose_full", "pose_landmarks_detector.tflite", (0.0, 1.0), "add_3"),
    # An ImageNet classifier (after `installation models fetch image_classifier`):
    # eyes, fur, dog and bird faces.
    "imagenet": DreamNetwork("image_classifier", None, (-1.0, 1.0), "block_10_expand_relu"),
}
