"""A TFLite network read into plain Python: tensors, operators and weights.

    graph = read_graph("pose_landmarker_full.task", member="pose_landmarks_detector.tflite")
    graph.op_counts()          # {"CONV_2D": 58, "DEPTHWISE_CONV_2D": 38, ...}

The file is parsed with the flatbuffer schema that LiteRT ships, so no
TensorFlow is needed. Weights end up float32 whatever way they are stored:
float16 and int8/uint8 (per-tensor or per-channel scales) are turned into
float32 here, once, and a DEQUANTIZE of a weight disappears from the graph.
That is what lets an automatic-differentiation engine run the network: it
computes in float throughout, as LiteRT's float kernels do.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from installation.errors import ModelError

_FIX = "use a float TFLite network (weights may be float16 or int8)"

# TFLite's Padding and ActivationFunctionType enums, spelled out once so the
# operators read "SAME" and "RELU6" rather than 0 and 3.
PADDINGS = {0: "SAME", 1: "VALID"}
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


@dataclass(frozen=True)
class Tensor:
    """One tensor of the graph. ``data`` is set for constants (weights,
    shapes, paddings) and None for values computed from the input."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    data: np.ndarray | None = field(default=None, repr=False)

    @property
    def constant(self) -> bool:
        return self.data is not None


@dataclass(frozen=True)
class Operator:
    """One builtin operator: its name (``CONV_2D``), the indices of its input
    and output tensors (-1: an optional input left out) and its options."""

    op: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict


@dataclass
class Graph:
    """A network's first subgraph, in execution order. ``where`` names the
    file (and zip member) for messages."""

    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    where: str
    folded: int = 0          # DEQUANTIZE operators of weights, done at load time

    def op_counts(self) -> dict[str, int]:
        """How many operators of each kind the network uses."""
        counts: dict[str, int] = {}
        for operator in self.operators:
            counts[operator.op] = counts.get(operator.op, 0) + 1
        return counts

    def check_ops(self, supported) -> None:
        """Refuse, in one line, a network with an operator not in ``supported``."""
        missing = sorted(set(self.op_counts()) - set(supported))
        if missing:
            raise ModelError(f"the dream engine cannot run the operator {', '.join(missing)}",
                             where=self.where,
                             fix=f"use a network made of {', '.join(sorted(supported))}")
        for operator in self.operators:
            if operator.options.get("fusedActivationFunction") == "SIGN_BIT":
                raise ModelError(f"the dream engine cannot run {operator.op} with the fused "
                                 "activation SIGN_BIT", where=self.where, fix=_FIX)
            out = self.tensors[operator.outputs[0]]
            if out.dtype != "float32":
                raise ModelError(f"the network computes in {out.dtype} ({operator.op} gives "
                                 f"{out.name}); gradients need float values", where=self.where,
                                 fix=_FIX)


def read_graph(source: bytes | str | Path, member: str | None = None) -> Graph:
    """Read a TFLite network from bytes, a ``.tflite`` file, or ``member`` of
    a ``.task`` bundle (a zip of TFLite files)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse(bytes(source), "<model bytes>" if member is None else member)
    path = Path(source)
    where = f"{path} ({member})" if member else str(path)
    try:
        if member is None:
            content = path.read_bytes()
        else:
            with zipfile.ZipFile(path) as archive:
                content = archive.read(member)
    except KeyError:
        raise ModelError(f"the bundle has no {member}", where=str(path),
                         fix="name a .tflite file inside the bundle") from None
    except (OSError, zipfile.BadZipFile) as error:
        raise ModelError(f"cannot be read ({error})", where=where,
                         fix="give the path of a .tflite file or a .task bundle") from None
    return _parse(content, where)


def _parse(content: bytes, where: str) -> Graph:
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise ModelError("not a TFLite network (no TFL3 mark)", where=where,
                         fix="give a .tflite file, or a .task bundle and the member inside it")
    try:
        return _read_model(content, where)
    except ModelError:
        raise
    except Exception as error:  # noqa: BLE001  a damaged flatbuffer fails anywhere inside
        raise ModelError(f"a damaged TFLite network ({type(error).__name__}: {error})",
                         where=where, fix="fetch or copy the file again") from None


def _read_model(content: bytes, where: str) -> Graph:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(content, 0)
    if not model.subgraphs:
        raise ModelError("the network has no graph", where=where, fix=_FIX)
    graph = model.subgraphs[0]
    op_names = _enum_names(schema.BuiltinOperator)
    type_names = _enum_names(schema.TensorType)

    tensors = [_tensor(i, t, model.buffers, content, type_names, where)
               for i, t in enumerate(graph.tensors)]
    operators = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        # Old files keep the code in the deprecated byte, new ones in the int.
        number = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = op_names.get(number, f"BUILTIN_{number}")
        if name == "CUSTOM":
            name = f"CUSTOM:{(code.customCode or b'').decode(errors='replace')}"
        operators.append(Operator(name, _indices(op.inputs), _indices(op.outputs),
                                  _options(op.builtinOptions)))
    kept = _fold_dequantize(tensors, operators)
    return Graph(tensors, kept, _indices(graph.inputs), _indices(graph.outputs), where,
                 len(operators) - len(kept))


def _indices(values) -> tuple[int, ...]:
    return () if values is None else tuple(int(i) for i in values)


def _enum_names(enum) -> dict[int, str]:
    return {value: key for key, value in vars(enum).items() if not key.startswith("_")}


def _options(options) -> dict:
    if options is None:
        return {}
    values = {key: value for key, value in vars(options).items()}
    if "padding" in values:
        values["padding"] = PADDINGS[values["padding"]]
    if "fusedActivationFunction" in values:
        values["fusedActivationFunction"] = ACTIVATIONS[values["fusedActivationFunction"]]
    return values


_DTYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32, "INT64": np.int64,
           "INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16, "BOOL": np.bool_}


def _tensor(index, tensor, buffers, content, type_names, where) -> Tensor:
    name = tensor.name.decode(errors="replace") if tensor.name else f"tensor_{index}"
    type_name = type_names.get(tensor.type, str(tensor.type))
    shape = tuple(int(n) for n in tensor.shape) if tensor.shape is not None else ()
    raw = _buffer_bytes(buffers[tensor.buffer], content) if tensor.buffer else None
    if raw is None or len(raw) == 0:
        return Tensor(index, name, shape, type_name.lower())
    if tensor.sparsity is not None:
        # Only DENSIFY reads a sparse weight, and the engine has no DENSIFY:
        # check_ops names it.
        return Tensor(index, name, shape, f"sparse {type_name.lower()}")
    if type_name not in _DTYPES:
        raise ModelError(f"the weight {name} is stored as {type_name}", where=where, fix=_FIX)
    data = np.frombuffer(raw, _DTYPES[type_name]).reshape(shape)
    scales = _scales(tensor.quantization)
    if type_name == "FLOAT16":
        data = data.astype(np.float32)
    elif type_name in ("INT8", "UINT8"):
        if scales is None:
            raise ModelError(f"the int8 weight {name} has no scale", where=where, fix=_FIX)
        data = _dequantize(data, *scales)
    elif scales is not None and type_name != "FLOAT32":
        # Quantized int32 is the bias of a fully integer network, whose
        # activations are integers too: not something gradients can climb.
        raise ModelError(f"the network is fully quantized ({name} is {type_name})",
                         where=where, fix=_FIX)
    else:
        data = data.copy()      # own the memory; the file's bytes can go
    dtype = "float32" if data.dtype == np.float32 else type_name.lower()
    return Tensor(index, name, shape, dtype, data)


def _buffer_bytes(buffer, content: bytes):
    # Networks past 2 GB keep weights after the flatbuffer, addressed by offset.
    if buffer.offset and buffer.offset > 1:
        return content[buffer.offset:buffer.offset + buffer.size]
    data = buffer.data
    return None if data is None else np.asarray(data, np.uint8).tobytes()


def _scales(quantization):
    if quantization is None or quantization.scale is None or len(quantization.scale) == 0:
        return None
    scale = np.asarray(quantization.scale, np.float32)
    zero = np.asarray(quantization.zeroPoint if quantization.zeroPoint is not None else [0],
                      np.float32)
    return scale, zero, int(quantization.quantizedDimension or 0)


def _dequantize(data: np.ndarray, scale, zero, axis: int) -> np.ndarray:
    """``(q - zero_point) * scale``, the scales along ``axis`` when per channel."""
    values = data.astype(np.float32)
    if scale.size > 1:
        shape = [1] * values.ndim
        shape[axis] = scale.size
        scale = scale.reshape(shape)
        zero = zero.reshape(shape) if zero.size > 1 else zero
    return ((values - zero) * scale).astype(np.float32)


def _fold_dequantize(tensors: list[Tensor], operators: list[Operator]) -> list[Operator]:
    # A DEQUANTIZE of a weight gives a constant: store the float weight in its
    # output tensor and drop the operator, so nothing is converted per call.
    kept = []
    for operator in operators:
        source = tensors[operator.inputs[0]] if operator.inputs else None
        if operator.op == "DEQUANTIZE" and source is not None and source.constant:
            out = tensors[operator.outputs[0]]
            tensors[out.index] = Tensor(out.index, out.name, out.shape, "float32",
                                        np.asarray(source.data, np.float32))
        else:
            kept.append(operator)
    return kept
