"""The true floor calibration of a measured camera rig (Qualisys ``.qca.txt``).

A motion-capture rig knows each camera's pose and lens; from them follows
the exact picture-to-floor homography, against which a calibration made by
hand (``installation calibrate``) or learned from a walker can be checked.

Facts of the format, checked against footage of the rig (two cameras'
views of the same feet triangulate to within a few pixels this way):

- ``transform``: ``r11..r33`` is the rotation from the room to the camera,
  about axes whose y and z point opposite to the picture's (so picture
  axes = diag(1, -1, -1) @ R @ room); ``x y z`` is the camera's centre in
  millimetres; z is up and the floor is z = 0.
- ``intrinsic``: focal lengths and centre in sensor units, 64 to a pixel of
  the video frame that ``fov_video`` spans.

Lens distortion is ignored (its two radial terms nearly cancel over the
picture of this rig). A video narrower than the sensor frame (1080 wide from
1088, say) is taken as cut at the right, where encoders pad a frame.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from installation.errors import InstallationError
from installation.room.floor import FloorCalibration

SENSOR_UNITS_PER_PIXEL = 64.0
_PICTURE_AXES = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True, eq=False)
class RigCamera:
    """One camera of the rig: world-to-picture rotation, centre (m), pixel intrinsics."""

    name: str
    rotation: np.ndarray   # (3, 3) room -> picture axes (x right, y down, z forward)
    centre: np.ndarray     # (3,) metres in the room
    intrinsics: np.ndarray  # (3, 3) pixels of the sensor frame
    frame_size: tuple[int, int]  # width, height of the sensor frame, pixels

    def projection(self) -> np.ndarray:
        """The 3x4 matrix from room metres to sensor-frame pixels."""
        translation = -self.rotation @ self.centre
        return self.intrinsics @ np.column_stack([self.rotation, translation])

    def floor_calibration(self, video_size: tuple[int, int] | None = None,
                          height: float = 0.0) -> FloorCalibration:
        """The true picture-to-floor calibration for a video of ``video_size``
        (width, height; default the sensor frame); ``height`` raises the plane
        (metres), for checking how far above the floor a landmark sits."""
        width, tall = video_size or self.frame_size
        p = self.projection()
        # Points of the plane z = height: pixels = p @ (x, y, height, 1).
        plane_to_pixels = np.column_stack([p[:, 0], p[:, 1], p[:, 2] * height + p[:, 3]])
        pixels_of_normalised = np.diag([float(width), float(tall), 1.0])
        return FloorCalibration(np.linalg.inv(plane_to_pixels) @ pixels_of_normalised)


def read_qca(path) -> dict[str, RigCamera]:
    """The cameras of a Qualisys calibration file, by serial name."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as error:
        raise InstallationError(f"cannot read the rig calibration ({error})", where=str(path),
                                fix="give a Qualisys .qca.txt file") from None
    cameras = {}
    for camera in root.iter("camera"):
        name = camera.get("serial", f"camera{len(cameras) + 1}")
        try:
            t, i = camera.find("transform").attrib, camera.find("intrinsic").attrib
            fov = camera.find("fov_video").attrib
            r = np.array([[float(t[f"r{a}{b}"]) for b in "123"] for a in "123"])
            centre = np.array([float(t[k]) for k in "xyz"]) / 1000.0
            left, top = float(fov["left"]), float(fov["top"])
            size = (int(fov["right"]) - int(left) + 1, int(fov["bottom"]) - int(top) + 1)
            k = np.array([
                [float(i["focalLengthU"]) / SENSOR_UNITS_PER_PIXEL, 0.0,
                 float(i["centerPointU"]) / SENSOR_UNITS_PER_PIXEL - left],
                [0.0, float(i["focalLengthV"]) / SENSOR_UNITS_PER_PIXEL,
                 float(i["centerPointV"]) / SENSOR_UNITS_PER_PIXEL - top],
                [0.0, 0.0, 1.0]])
        except (AttributeError, KeyError, ValueError) as error:
            raise InstallationError(f"camera {name} is incomplete ({error})", where=str(path),
                                    fix="give a Qualisys .qca.txt file") from None
        cameras[name] = RigCamera(name, _PICTURE_AXES @ r, centre, k, size)
    if not cameras:
        raise InstallationError("no cameras in the rig calibration", where=str(path))
    return cameras
