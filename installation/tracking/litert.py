"""The one way a TFLite model runs here: LiteRT, one interpreter per caller.

    model = LiteRTModel.from_bundle(bundle, "pose_detector.tflite",
                                    expect={"Identity": (1, 2254, 12)}, value_range=(-1, 1))
    outputs = model(rgb_224x224)          # {"Identity": array, ...}

Pose and hands both use it, so interpreter creation, threads, input
normalisation and output unpacking live in one place. LiteRT releases
Python's lock while it computes, so models called from two threads use both
cores; an interpreter itself is not thread-safe, so each thread gets its own
model (:meth:`LiteRTModel.copy`).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from installation.errors import ModelError


def read_bundle_member(bundle: str | Path, member: str, *, fix: str) -> bytes:
    """The bytes of ``member`` inside a MediaPipe Tasks bundle (a zip)."""
    try:
        with zipfile.ZipFile(bundle) as archive:
            return archive.read(member)
    except KeyError:
        raise ModelError(f"the bundle has no {member}", where=str(bundle), fix=fix) from None
    except (OSError, zipfile.BadZipFile) as error:
        raise ModelError(f"the bundle cannot be read ({error})", where=str(bundle), fix=fix) from None


class LiteRTModel:
    """A TFLite model with one image input, run by LiteRT.

    ``value_range``: the pixel range the model was trained on; uint8 RGB
    images are scaled into it. ``expect``: output name -> shape; a model
    whose outputs differ is refused with one line, so a wrong file is an
    error at start, not garbage on screen. ``threads``: LiteRT's threads
    for this interpreter (1: the tracker runs models side by side instead).
    """

    def __init__(self, content: bytes, *, where: str, fix: str,
                 expect: dict[str, tuple[int, ...]] | None = None,
                 value_range: tuple[float, float] = (0.0, 1.0), threads: int = 1):
        self.content, self.where, self.fix = content, where, fix
        self.expect = dict(expect or {})
        self.value_range = value_range
        self.threads = threads
        low, high = value_range
        self._scale, self._offset = (high - low) / 255.0, low
        self._open()

    @classmethod
    def from_bundle(cls, bundle: str | Path, member: str, *, fix: str, **settings) -> "LiteRTModel":
        """The model ``member`` of a Tasks bundle."""
        content = read_bundle_member(bundle, member, fix=fix)
        return cls(content, where=f"{bundle} ({member})", fix=fix, **settings)

    def copy(self) -> "LiteRTModel":
        """Another interpreter of the same model, for another thread."""
        return LiteRTModel(self.content, where=self.where, fix=self.fix, expect=self.expect,
                           value_range=self.value_range, threads=self.threads)

    def _open(self) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_content=self.content, num_threads=self.threads)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"not a model LiteRT can run ({error})", where=self.where,
                             fix=self.fix) from None
        inputs = interpreter.get_input_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4 or inputs[0]["shape"][3] != 3:
            shapes = [tuple(int(n) for n in d["shape"]) for d in inputs]
            raise ModelError(f"expected one RGB image input, the model has {shapes}",
                             where=self.where, fix=self.fix)
        self._input = inputs[0]["index"]
        self.input_size = (int(inputs[0]["shape"][1]), int(inputs[0]["shape"][2]))  # h, w
        self._outputs = {d["name"]: d["index"] for d in interpreter.get_output_details()}
        shapes = {d["name"]: tuple(int(n) for n in d["shape"])
                  for d in interpreter.get_output_details()}
        for name, shape in self.expect.items():
            if shapes.get(name) != tuple(shape):
                raise ModelError(f"output {name} should have shape {tuple(shape)}, "
                                 f"the model has {shapes.get(name, 'no such output')}",
                                 where=self.where, fix=self.fix)
        self.output_shapes = shapes
        self._interpreter = interpreter

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Run on one uint8 RGB image of the input size; every output by name
        (arrays of the interpreter's own shapes, copied)."""
        if image.shape[:2] != self.input_size:
            raise ValueError(f"{self.where}: expected a {self.input_size} image, got {image.shape[:2]}")
        tensor = image.astype(np.float32)
        tensor *= self._scale
        tensor += self._offset
        self._interpreter.set_tensor(self._input, tensor[None])
        self._interpreter.invoke()
        return {name: self._interpreter.get_tensor(index) for name, index in self._outputs.items()}
