"""TFLite's builtin operators as JAX functions (NHWC, float32).

Each operator is ``fn(args, call) -> array``: ``args`` are the operator's
input values (weights and other constants arrive as numpy arrays, so shapes,
paddings and axes are known while JAX traces), ``call`` carries the options
and the shapes the file declares. The arithmetic follows LiteRT's reference
kernels: TFLite's SAME/VALID padding, fused activations, pooling that ignores
padded cells, bilinear resizing with TFLite's corner rules.

Depthwise convolution is written as a sum of shifted copies (XLA's grouped
convolution is slow on the CPU) and has a hand-written image gradient (see
:func:`make_depthwise`): with JAX's automatic one a dream step took 1.7-2.7
times as long.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


class Call(NamedTuple):
    """What an operator knows besides its input values."""

    options: dict
    in_shapes: tuple[tuple[int, ...], ...]    # as declared in the file
    out_shapes: tuple[tuple[int, ...], ...]


def _clamp(low, high):
    """max(low, min(x, high)) whose gradient is read from the output (1 where
    the output lies strictly between the bounds). JAX's own gradient of
    clip needs the input again, and XLA recomputes the whole convolution
    before it to get it: a dream step took twice as long."""

    @jax.custom_jvp
    def clamp(x):
        return jnp.clip(x, low, high)

    @clamp.defjvp
    def clamp_jvp(primals, tangents):
        y = clamp(primals[0])
        inside = (y > low) & (y < high) if high is not None else y > low
        return y, jnp.where(inside, tangents[0], 0.0)

    return clamp


relu, relu6, relu_n1_to_1 = _clamp(0.0, None), _clamp(0.0, 6.0), _clamp(-1.0, 1.0)


def activate(x, name: str):
    """A fused activation function (TFLite's ``fused_activation_function``)."""
    if name == "NONE":
        return x
    if name == "RELU":
        return relu(x)
    if name == "RELU6":
        return relu6(x)
    if name == "RELU_N1_TO_1":
        return relu_n1_to_1(x)
    if name == "TANH":
        return jnp.tanh(x)
    raise NotImplementedError(f"fused activation {name}")


def _fused(call: Call):
    return call.options.get("fusedActivationFunction", "NONE")


def same_or_valid(size: int, kernel: int, stride: int, dilation: int, padding: str):
    """(before, after) padding of one spatial axis, by TFLite's rule: SAME
    gives ceil(size / stride) outputs, the odd cell of padding goes after."""
    effective = (kernel - 1) * dilation + 1
    if padding == "VALID":
        return 0, 0
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pads(x_shape, kernel_hw, strides, dilations, padding):
    return tuple(same_or_valid(x_shape[1 + a], kernel_hw[a], strides[a], dilations[a], padding)
                 for a in (0, 1))


def _window(options):
    return ((options.get("strideH", 1), options.get("strideW", 1)),
            (options.get("dilationHFactor", 1), options.get("dilationWFactor", 1)))


def _bias(y, args):
    if len(args) > 2 and args[2] is not None:
        y = y + args[2]
    return y


def conv_2d(args, call: Call):
    x, w = args[0], args[1]                       # w: (out, kh, kw, in)
    strides, dilations = _window(call.options)
    if w.shape[1:3] == (1, 1) and strides == (1, 1):
        # A 1x1 convolution is a matrix product per pixel; XLA runs that
        # faster than its convolution, and so is its gradient.
        y = jnp.einsum("nhwi,oi->nhwo", x, jnp.reshape(w, (w.shape[0], w.shape[3])))
    else:
        pads = _pads(x.shape, w.shape[1:3], strides, dilations, call.options["padding"])
        y = lax.conv_general_dilated(x, w, strides, pads, rhs_dilation=dilations,
                                     dimension_numbers=("NHWC", "OHWI", "NHWC"))
    return activate(_bias(y, args), _fused(call))


def _taps(x, kernel, strides, pads, dilations):
    """Depthwise convolution as a sum of shifted copies of the input, one
    per kernel cell, each times that cell's weights (kernel: kh, kw, C*M).

    XLA's own grouped convolution is many times slower on the CPU than these
    few multiply-adds, which it fuses into one pass.
    """
    kh, kw, total = kernel.shape
    multiplier = total // x.shape[3]
    if multiplier > 1:
        x = jnp.repeat(x, multiplier, axis=3)      # channel c feeds c*M ... c*M+M-1
    x = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    n, height, width, channels = x.shape
    out_h = (height - (kh - 1) * dilations[0] - 1) // strides[0] + 1
    out_w = (width - (kw - 1) * dilations[1] - 1) // strides[1] + 1
    total_sum = None
    for i in range(kh):
        for j in range(kw):
            top, left = i * dilations[0], j * dilations[1]
            window = lax.slice(x, (0, top, left, 0),
                               (n, top + (out_h - 1) * strides[0] + 1,
                                left + (out_w - 1) * strides[1] + 1, channels),
                               (1, strides[0], strides[1], 1))
            term = window * kernel[i, j]
            total_sum = term if total_sum is None else total_sum + term
    return total_sum


def _depthwise_input_gradient(g, kernel, x_shape, strides, pads, dilations):
    """The image gradient of a depthwise convolution, written out.

    It is a depthwise convolution of the output gradient ``g`` with the
    kernel turned 180 degrees, at stride 1. A stride first spreads ``g``
    out with zeros between its cells (lax.pad's interior padding); the edge
    padding undoes the forward padding and covers the cells no window reached.
    With a channel multiplier M, the M gradients of each input channel add up.
    """
    kh, kw, total = kernel.shape
    channels = x_shape[3]
    edges = []
    for axis, k in ((0, kh), (1, kw)):
        effective = (k - 1) * dilations[axis] + 1
        before, after = pads[axis]
        size, stride = x_shape[1 + axis], strides[axis]
        out = g.shape[1 + axis]
        left_over = size + before + after - effective - (out - 1) * stride
        edges.append((effective - 1 - before, effective - 1 - after + left_over, stride - 1))
    spread = lax.pad(g, jnp.zeros((), g.dtype), ((0, 0, 0), edges[0], edges[1], (0, 0, 0)))
    # spread has the C*M channels of the output: each meets its own kernel column.
    dx = _taps(spread, kernel[::-1, ::-1, :], (1, 1), ((0, 0), (0, 0)), dilations)
    if total > channels:
        dx = jnp.sum(jnp.reshape(dx, dx.shape[:3] + (channels, total // channels)), axis=4)
    return dx


def make_depthwise(strides, pads, dilations):
    """A depthwise convolution ``f(x, kernel)`` with the hand-written image
    gradient (the kernel gets none: dreaming changes only the image)."""

    @jax.custom_vjp
    def depthwise(x, kernel):
        return _taps(x, kernel, strides, pads, dilations)

    def forward(x, kernel):
        return depthwise(x, kernel), (kernel, x.shape)

    def backward(saved, g):
        kernel, x_shape = saved
        dx = _depthwise_input_gradient(g, kernel, x_shape, strides, pads, dilations)
        return dx, jnp.zeros_like(kernel)

    depthwise.defvjp(forward, backward)
    return depthwise


# Switched off by the benchmark to measure what JAX's automatic gradient costs.
CUSTOM_DEPTHWISE_GRADIENT = True


def depthwise_conv(args, call: Call):
    x, w = args[0], args[1]                        # w: (1, kh, kw, channels * multiplier)
    strides, dilations = _window(call.options)
    pads = _pads(x.shape, w.shape[1:3], strides, dilations, call.options["padding"])
    kernel = w[0]
    if CUSTOM_DEPTHWISE_GRADIENT:
        y = make_depthwise(strides, pads, dilations)(x, kernel)
    else:
        y = _taps(x, kernel, strides, pads, dilations)
    return activate(_bias(y, args), _fused(call))


def fully_connected(args, call: Call):
    x, w = args[0], args[1]                        # w: (out, in)
    y = jnp.reshape(x, (-1, w.shape[1])) @ jnp.transpose(w)
    y = activate(_bias(y, args), _fused(call))
    if call.options.get("keepNumDims"):
        y = jnp.reshape(y, x.shape[:-1] + (w.shape[0],))
    return y


def _pool(args, call: Call, kind: str):
    x, o = args[0], call.options
    size = (o["filterHeight"], o["filterWidth"])
    strides = (o["strideH"], o["strideW"])
    pads = _pads(x.shape, size, strides, (1, 1), o["padding"])
    dims, steps = (1, *size, 1), (1, *strides, 1)
    full = ((0, 0), *pads, (0, 0))
    if kind == "max":
        y = lax.reduce_window(x, -jnp.inf, lax.max, dims, steps, full)
    else:
        # TFLite averages over the cells inside the picture only.
        total = lax.reduce_window(x, 0.0, lax.add, dims, steps, full)
        ones = jnp.ones((1, *x.shape[1:3], 1), x.dtype)
        y = total / lax.reduce_window(ones, 0.0, lax.add, dims, steps, full)
    return activate(y, _fused(call))


def _binary(fn):
    def op(args, call: Call):
        return activate(fn(args[0], args[1]), _fused(call))
    return op


def pad(args, call: Call):
    widths = [tuple(int(n) for n in row) for row in np.asarray(args[1])]
    value = 0.0 if len(args) < 3 or args[2] is None else jnp.reshape(args[2], ())
    return jnp.pad(args[0], widths, constant_values=value)


def reshape(args, call: Call):
    if len(args) > 1 and args[1] is not None and np.asarray(args[1]).ndim == 1:
        shape = [int(n) for n in np.asarray(args[1])]
    else:
        shape = list(call.options.get("newShape") or call.out_shapes[0])
    return jnp.reshape(args[0], shape)


def concatenation(args, call: Call):
    return activate(jnp.concatenate(args, axis=call.options["axis"]), _fused(call))


def mean(args, call: Call):
    axes = tuple(int(a) for a in np.asarray(args[1]).reshape(-1))
    return jnp.mean(args[0], axis=axes, keepdims=bool(call.options.get("keepDims")))


def softmax(args, call: Call):
    return jax.nn.softmax(args[0] * call.options.get("beta", 1.0), axis=-1)


def _resize_table(size_in: int, size_out: int, align_corners: bool, half_pixel: bool):
    # TFLite's ComputeInterpolationValues, per output row or column.
    if align_corners and size_out > 1:
        scale = (size_in - 1) / (size_out - 1)
    else:
        scale = size_in / size_out
    where = np.arange(size_out, dtype=np.float32)
    where = (where + 0.5) * scale - 0.5 if half_pixel else where * np.float32(scale)
    low = np.maximum(np.floor(where), 0).astype(np.int32)
    high = np.minimum(np.ceil(where), size_in - 1).astype(np.int32)
    weight = (where - low).astype(np.float32)
    return low, high, weight


def resize_size(x_shape, call: Call, size) -> tuple[int, int]:
    """The output size of a resize. A size fixed in the file keeps its ratio
    to the input when the network runs on a picture of another size."""
    size = [int(n) for n in np.asarray(size)]
    declared = call.in_shapes[0]
    if len(declared) == 4 and tuple(declared[1:3]) != tuple(x_shape[1:3]):
        size = [round(size[a] * x_shape[1 + a] / declared[1 + a]) for a in (0, 1)]
    return size[0], size[1]


def resize_bilinear(args, call: Call):
    x = args[0]
    height, width = resize_size(x.shape, call, args[1])
    align, half = bool(call.options.get("alignCorners")), bool(call.options.get("halfPixelCenters"))
    y0, y1, wy = _resize_table(x.shape[1], height, align, half)
    x0, x1, wx = _resize_table(x.shape[2], width, align, half)
    top = jnp.take(x, y0, axis=1) * (1 - wy)[None, :, None, None] \
        + jnp.take(x, y1, axis=1) * wy[None, :, None, None]
    return jnp.take(top, x0, axis=2) * (1 - wx)[None, None, :, None] \
        + jnp.take(top, x1, axis=2) * wx[None, None, :, None]


def resize_nearest(args, call: Call):
    x = args[0]
    height, width = resize_size(x.shape, call, args[1])
    align, half = bool(call.options.get("alignCorners")), bool(call.options.get("halfPixelCenters"))
    rows = _nearest_table(x.shape[1], height, align, half)
    cols = _nearest_table(x.shape[2], width, align, half)
    return jnp.take(jnp.take(x, rows, axis=1), cols, axis=2)


def _nearest_table(size_in, size_out, align_corners, half_pixel):
    scale = (size_in - 1) / (size_out - 1) if align_corners and size_out > 1 else size_in / size_out
    where = np.arange(size_out, dtype=np.float32)
    where = (where + 0.5) * scale if half_pixel else where * np.float32(scale)
    where = np.round(where) if align_corners else np.floor(where)
    return np.minimum(where.astype(np.int32), size_in - 1)


def depth_to_space(args, call: Call):
    x, block = args[0], call.options["blockSize"]
    n, h, w, c = x.shape
    y = jnp.reshape(x, (n, h, w, block, block, c // (block * block)))
    y = jnp.transpose(y, (0, 1, 3, 2, 4, 5))
    return jnp.reshape(y, (n, h * block, w * block, c // (block * block)))


def _unary(fn):
    return lambda args, call: fn(args[0])


OPS = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv,
    "FULLY_CONNECTED": fully_connected,
    "ADD": _binary(jnp.add),
    "SUB": _binary(jnp.subtract),
    "MUL": _binary(jnp.multiply),
    "PAD": pad,
    "PADV2": pad,
    "RESHAPE": reshape,
    "CONCATENATION": concatenation,
    "MEAN": mean,
    "AVERAGE_POOL_2D": lambda args, call: _pool(args, call, "average"),
    "MAX_POOL_2D": lambda args, call: _pool(args, call, "max"),
    "RESIZE_BILINEAR": resize_bilinear,
    "RESIZE_NEAREST_NEIGHBOR": resize_nearest,
    "DEPTH_TO_SPACE": depth_to_space,
    "SOFTMAX": softmax,
    "LOGISTIC": _unary(jax.nn.sigmoid),
    "TANH": _unary(jnp.tanh),
    "RELU": _unary(relu),
    "RELU6": _unary(relu6),
    "HARD_SWISH": _unary(lambda x: x * jnp.clip(x + 3.0, 0.0, 6.0) / 6.0),
    "DEQUANTIZE": _unary(lambda x: jnp.asarray(x, jnp.float32)),
}
