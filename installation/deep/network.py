"""A TFLite network running in JAX, cut at a named layer, climbed by gradient.

    net = Network.load("pose_landmarker_full.task", member="pose_landmarks_detector.tflite")
    net.layer_names()[:3]
    picture = net.dream(picture, "re_lu_10", octaves=4, steps=10)   # float RGB, 0..1

Pictures are float32 RGB arrays (height, width, 3) with values in 0..1, of
any size the network's layers allow; ``value_range`` maps them to what the
network was trained on ((0, 1) for MediaPipe's landmark networks, (-1, 1)
for Keras' MobileNetV2).

Each function is compiled by JAX (XLA) once per layer and picture size: the
first call at a new size takes a second or two, later calls reuse the code.
"""
from __future__ import annotations

import difflib
from functools import partial
from pathlib import Path

import numpy as np

from installation.errors import InstallationError, ModelError
from installation.deep.graph import Graph, read_graph


def require_jax():
    """Import JAX, or say in one line how to install it."""
    try:
        import jax
    except ImportError:
        raise InstallationError("the dream engine needs JAX, which is not installed",
                                fix="pip install jax") from None
    return jax


class Network:
    """A TFLite network as a differentiable function. Make one with
    :meth:`load`; each function compiles on its first call at a new size."""

    def __init__(self, graph: Graph, value_range: tuple[float, float] = (0.0, 1.0),
                 seed: int | None = None):
        jax = require_jax()
        from installation.deep import ops

        graph.check_ops(ops.OPS)
        if len(graph.inputs) != 1 or len(graph.tensors[graph.inputs[0]].shape) != 4:
            shapes = [graph.tensors[i].shape for i in graph.inputs]
            raise ModelError(f"expected one picture input, the network has {shapes}",
                             where=graph.where, fix="use an image network")
        self.graph, self.value_range = graph, value_range
        self._ops, self._jax = ops, jax
        self._rng = np.random.default_rng(seed)
        # Float weights travel as arguments of the compiled functions rather
        # than as constants baked into them: compiling stays quick.
        self._weights = {t.index: jax.numpy.asarray(t.data) for t in graph.tensors
                         if t.constant and t.dtype == "float32"}
        producer = {}
        for number, operator in enumerate(graph.operators):
            for out in operator.outputs:
                producer[out] = number
        self._producer = producer
        self._names = {}
        for operator in graph.operators:
            out = graph.tensors[operator.outputs[0]]
            self._names.setdefault(layer_name(out.name), out.index)
        self._compiled: dict = {}

    @classmethod
    def load(cls, source: bytes | str | Path, member: str | None = None,
             value_range: tuple[float, float] = (0.0, 1.0), seed: int | None = None) -> "Network":
        """Read a ``.tflite`` file, bytes, or ``member`` of a ``.task`` bundle."""
        require_jax()
        return cls(read_graph(source, member), value_range, seed)

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the network was made for."""
        shape = self.graph.tensors[self.graph.inputs[0]].shape
        return shape[1], shape[2]

    def layer_names(self) -> list[str]:
        """The names a layer can be asked for, in execution order."""
        return list(self._names)

    def layer_index(self, layer: str) -> int:
        """The tensor index of ``layer``: its name from :meth:`layer_names`, a
        full tensor name, or one unique part of a name between slashes
        (``block_6_expand_relu``)."""
        if layer in self._names:
            return self._names[layer]
        for operator in self.graph.operators:
            if self.graph.tensors[operator.outputs[0]].name == layer:
                return operator.outputs[0]
        parts = [name for name in self._names if layer in name.split("/")]
        if len(parts) == 1:
            return self._names[parts[0]]
        if parts:
            raise InstallationError(f"layer {layer!r} is ambiguous: {', '.join(parts[:6])}",
                                    where=self.graph.where, fix="give the full layer name")
        close = difflib.get_close_matches(layer, list(self._names), n=5, cutoff=0.3)
        close += [name for name in self._names if layer.lower() in name.lower()][:5 - len(close)]
        hint = f"closest: {', '.join(dict.fromkeys(close))}" if close else \
            f"first layers: {', '.join(list(self._names)[:5])}"
        raise InstallationError(f"no layer called {layer!r}", where=self.graph.where, fix=hint)

    # --- running ----------------------------------------------------------------------------

    def evaluate(self, tensor, keep=()) -> dict[int, np.ndarray]:
        """Run the graph on the network's own input tensor (1, h, w, c),
        already in its value range. Returns tensor index -> value for the
        outputs and the tensors in ``keep`` (compiled for each shape and
        ``keep``; meant for checks and tools, not per frame)."""
        targets = tuple(self.graph.outputs) + tuple(int(i) for i in keep)
        function, weights = self._compile("evaluate", targets)
        values = function(weights, np.asarray(tensor, np.float32))
        return {index: np.asarray(value) for index, value in values.items()}

    def run(self, picture: np.ndarray, until: str) -> np.ndarray:
        """The activation of layer ``until`` for a picture (compiled per size)."""
        function, weights = self._compile("run", (self.layer_index(until),))
        return np.asarray(function(weights, self._input(picture)))

    def objective(self, picture: np.ndarray, layer: str) -> float:
        """What a dream step climbs: the mean square activation of ``layer``."""
        function, weights = self._compile("objective", (self.layer_index(layer),))
        return float(function(weights, self._input(picture)))

    def dream_step(self, picture: np.ndarray, layer: str, step_size: float = 0.01,
                   jitter: int = 16, rng: np.random.Generator | None = None) -> np.ndarray:
        """One gradient-ascent step on the picture: roll it by a random shift
        up to ``jitter`` pixels, climb mean(activation²) at ``layer`` with the
        gradient divided by its mean absolute value, roll back, keep 0..1.
        Compiled once per layer and picture size."""
        function, weights = self._compile("step", (self.layer_index(layer),))
        shift = (rng or self._rng).integers(-jitter, jitter + 1, size=2) if jitter else (0, 0)
        out = function(weights, np.asarray(picture, np.float32),
                       np.int32(shift[0]), np.int32(shift[1]), np.float32(step_size))
        return np.asarray(out)

    def dream(self, picture: np.ndarray, layer: str, octaves: int = 4, steps: int = 10,
              octave_scale: float = 1.4, step_size: float = 0.01, jitter: int = 16,
              rng: np.random.Generator | None = None) -> np.ndarray:
        """A still: dream the picture at ``octaves`` sizes, smallest first, each
        ``octave_scale`` times the last, carrying the detail grown at one size
        up to the next so patterns of several sizes appear. Each size is
        compiled once."""
        picture = np.asarray(picture, np.float32)
        height, width = picture.shape[:2]
        sizes = [(round(height / octave_scale ** k), round(width / octave_scale ** k))
                 for k in range(octaves)][::-1]
        if min(sizes[0]) < 32:
            raise InstallationError(f"the smallest octave would be {sizes[0][1]}x{sizes[0][0]} "
                                    "pixels, too small for the network",
                                    fix="use fewer octaves or a larger picture")
        detail = np.zeros((*sizes[0], 3), np.float32)
        for size in sizes:
            base = _resize(picture, size)
            dreamt = np.clip(base + _resize(detail, size), 0.0, 1.0)
            for _ in range(steps):
                dreamt = self.dream_step(dreamt, layer, step_size, jitter, rng)
            detail = dreamt - base
        return dreamt

    # --- the traced functions ---------------------------------------------------------------

    def _input(self, picture: np.ndarray):
        low, high = self.value_range
        picture = np.asarray(picture, np.float32)
        if picture.ndim != 3 or picture.shape[2] != 3:
            raise ValueError(f"expected an RGB picture (height, width, 3), got {picture.shape}")
        return (picture * (high - low) + low)[None]

    def _compile(self, kind: str, targets: tuple[int, ...]):
        """The jitted function of ``kind`` for ``targets`` and the weights it
        reads (only those: each argument costs time at every call)."""
        key = (kind, targets)
        if key not in self._compiled:
            if kind == "evaluate":
                function = partial(self._evaluate, targets=targets)
            else:
                method = {"run": self._activation, "objective": self._objective,
                          "step": self._step}[kind]
                function = partial(method, index=targets[0])
            needed = {i for number in self._needed(targets)
                      for i in self.graph.operators[number].inputs}
            weights = {i: w for i, w in self._weights.items() if i in needed}
            self._compiled[key] = (self._jax.jit(function), weights)
        return self._compiled[key]

    def _activation(self, weights, tensor, index):
        return self._evaluate(weights, tensor, (index,))[index]

    def _objective(self, weights, tensor, index):
        # The square rewards what a layer already sees strongly, and treats a
        # negative response (layers without ReLU) like a positive one.
        activation = self._activation(weights, tensor, index)
        return self._jax.numpy.mean(activation * activation)

    def _step(self, weights, picture, dy, dx, step_size, index):
        jnp = self._jax.numpy
        low, high = self.value_range
        rolled = jnp.roll(picture, (dy, dx), axis=(0, 1))

        def climb(p):
            return self._objective(weights, (p * (high - low) + low)[None], index)

        gradient = self._jax.grad(climb)(rolled)
        gradient = gradient / (jnp.mean(jnp.abs(gradient)) + 1e-8)
        moved = rolled + step_size * gradient
        return jnp.clip(jnp.roll(moved, (-dy, -dx), axis=(0, 1)), 0.0, 1.0)

    def _evaluate(self, weights, tensor, targets: tuple[int, ...]) -> dict:
        graph, ops = self.graph, self._ops
        needed = self._needed(targets)
        values = {graph.inputs[0]: tensor}
        for number in needed:
            operator = graph.operators[number]
            args = [None if i < 0 else self._value(i, values, weights) for i in operator.inputs]
            call = ops.Call(operator.options,
                            tuple(graph.tensors[i].shape if i >= 0 else ()
                                  for i in operator.inputs),
                            tuple(graph.tensors[i].shape for i in operator.outputs))
            try:
                values[operator.outputs[0]] = ops.OPS[operator.op](args, call)
            except (TypeError, ValueError) as error:
                size = f"{tensor.shape[2]}x{tensor.shape[1]}"
                raise ModelError(
                    f"{operator.op} giving {layer_name(graph.tensors[operator.outputs[0]].name)} "
                    f"cannot run on a {size} picture ({error})", where=graph.where,
                    fix=f"use the network's own size {self.input_size[1]}x{self.input_size[0]}, "
                        "a size divisible by 32, or an earlier layer") from None
        return {index: values[index] for index in targets}

    def _value(self, index, values, weights):
        if index in values:
            return values[index]
        if index in weights:
            return weights[index]
        tensor = self.graph.tensors[index]
        if tensor.constant:
            return tensor.data          # shapes, paddings, axes: known while tracing
        raise ModelError(f"the tensor {tensor.name} is read before it is computed",
                         where=self.graph.where, fix="the network file may be damaged")

    def _needed(self, targets) -> list[int]:
        # Only the operators the targets depend on run: a layer early in the
        # network costs only the layers before it.
        needed, stack = set(), list(targets)
        while stack:
            number = self._producer.get(stack.pop())
            if number is None or number in needed:
                continue
            needed.add(number)
            stack.extend(i for i in self.graph.operators[number].inputs if i >= 0)
        return sorted(needed)


def layer_name(tensor_name: str) -> str:
    """A layer's short name: the converter joins the names of the layers it
    fused with ';', the first one is the layer whose output this is."""
    return tensor_name.split(";")[0]


def _resize(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if picture.shape[:2] == tuple(size):
        return picture
    import jax

    return np.asarray(jax.image.resize(picture, (*size, picture.shape[2]), "linear"))
