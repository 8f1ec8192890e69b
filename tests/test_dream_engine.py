"""The dream engine: TFLite networks read into JAX agree with LiteRT, and the
picture climbs the gradient.

The agreement tests run the real networks (the pose landmark network of the
pose bundle, the hand landmark network, the ImageNet stand-in) in LiteRT with
every intermediate tensor kept, and compare each operator's output with ours
on a real frame. Differences are measured relative to the largest value of
each tensor (a tensor's scale), and printed (pytest -s shows them).
"""
from __future__ import annotations

import sys
import warnings
import zipfile

import numpy as np
import pytest

import jax
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from installation.deep import Network, ops, read_graph, require_jax
from installation.errors import InstallationError, ModelError

from helpers import media_file, model_file

POSE = ("pose_landmarker_full.task", "pose_landmarks_detector.tflite")
HAND = ("hand_landmarker.task", "hand_landmarks_detector.tflite")
STANDIN = "imagenet_dev_mobilenet_v2.tflite"


def _content(filename: str, member: str | None = None) -> bytes:
    path = model_file(filename)
    if member is None:
        return path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        return archive.read(member)


def _frame(height: int, width: int) -> np.ndarray:
    """A real picture: a frame of the street clip, its middle cropped to the
    aspect and scaled, RGB 0..1."""
    import cv2

    clip = media_file("street_two_people.mp4")
    capture = cv2.VideoCapture(str(clip))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, bgr = capture.read()
    capture.release()
    assert ok
    h, w = bgr.shape[:2]
    crop_w = min(w, round(h * width / height))
    left = (w - crop_w) // 2
    bgr = cv2.resize(bgr[:, left:left + crop_w], (width, height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def _agreement(label: str, net: Network, content: bytes, picture: np.ndarray) -> dict:
    """How far our tensors are from LiteRT's on one picture, over every
    operator's output: ``chain`` runs our whole graph (rounding differences
    add up along it), ``step`` feeds each operator LiteRT's own inputs (the
    arithmetic of each operator alone). Max abs and max/median relative."""
    low, high = net.value_range
    tensor = (picture * (high - low) + low)[None].astype(np.float32)
    with warnings.catch_warnings():
        # LiteRT warns that keeping every tensor is for debugging: it is.
        warnings.simplefilter("ignore", UserWarning)
        interpreter = Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    interpreter.set_tensor(net.graph.inputs[0], tensor)
    interpreter.invoke()
    graph = net.graph
    keep = [op.outputs[0] for op in graph.operators]
    chained = net.evaluate(tensor, keep=keep)
    alone = _each_operator_alone(graph, interpreter)
    found = {"chain": [], "step": []}
    for index in keep:
        reference = interpreter.get_tensor(index)
        for kind, ours in (("chain", chained[index]), ("step", alone[index])):
            assert ours.shape == reference.shape, graph.tensors[index].name
            difference = float(np.abs(ours - reference).max())
            found[kind].append((difference, difference / max(float(np.abs(reference).max()), 1e-6)))
    figures = {}
    for kind, pairs in found.items():
        pairs = np.array(pairs)
        figures[kind] = {"abs": pairs[:, 0].max(), "rel": pairs[:, 1].max(),
                         "median_rel": float(np.median(pairs[:, 1]))}
    print(f"\n{label}: {len(keep)} tensors; " + "; ".join(
        f"{kind}: max abs {f['abs']:.1e}, max rel {f['rel']:.1e}, median rel {f['median_rel']:.1e}"
        for kind, f in figures.items()))
    return figures


def _each_operator_alone(graph, interpreter) -> dict:
    """Every operator's output computed from LiteRT's values of its inputs
    (in one compiled function: operator by operator, JAX would compile each
    small step on its own, which takes far longer)."""
    def alone(weights, feeds):
        out = {}
        for operator in graph.operators:
            args = [None if i < 0 else weights[i] if i in weights else
                    graph.tensors[i].data if graph.tensors[i].constant else feeds[i]
                    for i in operator.inputs]
            call = ops.Call(operator.options,
                            tuple(graph.tensors[i].shape if i >= 0 else ()
                                  for i in operator.inputs),
                            tuple(graph.tensors[i].shape for i in operator.outputs))
            out[operator.outputs[0]] = ops.OPS[operator.op](args, call)
        return out

    weights = {t.index: t.data for t in graph.tensors if t.constant and t.dtype == "float32"}
    feeds = {i: interpreter.get_tensor(i) for op in graph.operators for i in op.inputs
             if i >= 0 and not graph.tensors[i].constant}
    return {i: np.asarray(v) for i, v in jax.jit(alone)(weights, feeds).items()}


@pytest.mark.models
@pytest.mark.media
@pytest.mark.parametrize("bundle, member, chain_tolerance", [(*POSE, 3e-2), (*HAND, 1e-4)],
                         ids=["pose_landmarks", "hand_landmarks"])
def test_landmark_networks_match_litert_at_every_layer(bundle, member, chain_tolerance):
    content = _content(bundle, member)
    net = Network.load(content)
    figures = _agreement(member, net, content, _frame(*net.input_size))
    assert figures["step"]["rel"] < 1e-4
    # Through the pose network's segmentation decoder (the last 20 layers, at
    # 256x256) float rounding grows to about 1% of a tensor's largest value;
    # everywhere else it stays near 1e-5.
    assert figures["chain"]["median_rel"] < 1e-4
    assert figures["chain"]["rel"] < chain_tolerance


def _float_weights(content: bytes) -> bytes:
    """The same network with its int8 weights stored as float32 (those read
    by a DEQUANTIZE stay int8): LiteRT then runs float kernels, not its
    hybrid ones, which round the activations to int8 on the way."""
    import flatbuffers

    graph = read_graph(content)
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    subgraph = model.subgraphs[0]
    dequantized = set()
    for op in subgraph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.DEQUANTIZE:
            dequantized.add(int(op.inputs[0]))
    for index, tensor in enumerate(subgraph.tensors):
        if tensor.type == schema.TensorType.INT8 and index not in dequantized:
            tensor.type, tensor.quantization = schema.TensorType.FLOAT32, None
            model.buffers[tensor.buffer].data = np.frombuffer(graph.tensors[index].data.tobytes(),
                                                              np.uint8)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.media
def test_imagenet_standin_matches_litert():
    content = _content(STANDIN)
    net = Network.load(content, value_range=(-1.0, 1.0))
    picture = _frame(*net.input_size)
    # Float kernels: the arithmetic must agree closely.
    figures = _agreement("stand-in, float weights", net, _float_weights(content), picture)
    assert figures["step"]["rel"] < 1e-4 and figures["chain"]["rel"] < 1e-4
    # The file as it is: LiteRT's hybrid kernels round activations to int8,
    # a few percent; our dequantized weights must still land that close.
    figures = _agreement("stand-in as shipped (LiteRT hybrid int8)", net, content, picture)
    assert figures["chain"]["rel"] < 0.2 and figures["chain"]["median_rel"] < 0.05


def _tiny_network(weight: np.ndarray, scale, zero_point, tensor_type) -> bytes:
    """A real two-operator TFLite file: DEQUANTIZE of a quantized kernel, then
    a stride-2 SAME CONV_2D on a (1, 7, 9, C) input."""
    import flatbuffers

    model = schema.ModelT()
    model.version = 3
    codes = []
    for number in (schema.BuiltinOperator.DEQUANTIZE, schema.BuiltinOperator.CONV_2D):
        code = schema.OperatorCodeT()
        code.builtinCode, code.deprecatedBuiltinCode, code.version = number, number, 1
        codes.append(code)
    model.operatorCodes = codes
    bias = np.linspace(-1, 1, weight.shape[0]).astype(np.float32)
    model.buffers = []
    for data in (None, None, weight, None, bias, None):
        buffer = schema.BufferT()
        buffer.data = None if data is None else np.frombuffer(data.tobytes(), np.uint8)
        model.buffers.append(buffer)
    quantization = schema.QuantizationParametersT()
    quantization.scale, quantization.zeroPoint = list(scale), list(zero_point)
    quantization.quantizedDimension = 0
    tensors = []
    for name, shape, kind, buffer, q in (
            ("input", (1, 7, 9, weight.shape[3]), schema.TensorType.FLOAT32, 1, None),
            ("kernel_q", weight.shape, tensor_type, 2, quantization),
            ("kernel", weight.shape, schema.TensorType.FLOAT32, 3, None),
            ("bias", bias.shape, schema.TensorType.FLOAT32, 4, None),
            ("output", (1, 4, 5, weight.shape[0]), schema.TensorType.FLOAT32, 5, None)):
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.type = name.encode(), list(shape), kind
        tensor.buffer, tensor.quantization = buffer, q
        tensors.append(tensor)
    dequantize, conv = schema.OperatorT(), schema.OperatorT()
    dequantize.opcodeIndex, dequantize.inputs, dequantize.outputs = 0, [1], [2]
    conv.opcodeIndex, conv.inputs, conv.outputs = 1, [0, 2, 3], [4]
    options = schema.Conv2DOptionsT()
    options.padding, options.strideH, options.strideW = schema.Padding.SAME, 2, 2
    conv.builtinOptionsType, conv.builtinOptions = schema.BuiltinOptions.Conv2DOptions, options
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.operators, subgraph.inputs, subgraph.outputs = \
        tensors, [dequantize, conv], [0], [4]
    model.subgraphs = [subgraph]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("kind", ["int8 per channel", "uint8 per tensor"])
def test_quantized_weights_are_dequantized_like_litert(kind):
    rng = np.random.default_rng(1)
    if kind.startswith("int8"):
        weight = rng.integers(-127, 128, (4, 3, 3, 2)).astype(np.int8)
        content = _tiny_network(weight, [0.01, 0.02, 0.05, 0.1], [0, 0, 0, 0],
                                schema.TensorType.INT8)
    else:
        weight = rng.integers(0, 256, (4, 3, 3, 2)).astype(np.uint8)
        content = _tiny_network(weight, [0.02], [128], schema.TensorType.UINT8)
    graph = read_graph(content)
    assert graph.op_counts() == {"CONV_2D": 1} and graph.folded == 1
    assert graph.tensors[2].dtype == "float32"
    x = rng.random((1, 7, 9, 2), dtype=np.float32)
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    interpreter.set_tensor(0, x)
    interpreter.invoke()
    reference = interpreter.get_tensor(4)
    ours = Network(graph).evaluate(x)[4]
    assert np.abs(ours - reference).max() < 1e-5 * np.abs(reference).max()


def _grouped_conv(x, kernel, strides, padding, dilations):
    # XLA's own grouped convolution: the independent reference.
    return jax.lax.conv_general_dilated(x, kernel[:, :, None, :], strides, padding,
                                        rhs_dilation=dilations,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        feature_group_count=x.shape[3])


@pytest.mark.parametrize("size, kernel, stride, padding, dilation, multiplier", [
    ((9, 8), 3, 1, "SAME", 1, 1),
    ((9, 8), 3, 2, "SAME", 1, 1),
    ((10, 7), 3, 2, "VALID", 1, 2),
    ((11, 12), 5, 2, "SAME", 1, 1),
    ((12, 9), 3, 1, "SAME", 2, 1),
    ((13, 10), 3, 2, "VALID", 2, 3),
])
def test_custom_depthwise_gradient_matches_automatic(size, kernel, stride, padding, dilation,
                                                     multiplier):
    rng = np.random.default_rng(2)
    channels = 3
    x = jax.numpy.asarray(rng.normal(size=(1, *size, channels)).astype(np.float32))
    w = jax.numpy.asarray(rng.normal(size=(kernel, kernel, channels * multiplier))
                          .astype(np.float32))
    strides, dilations = (stride, stride), (dilation, dilation)
    pads = tuple(ops.same_or_valid(size[a], kernel, stride, dilation, padding) for a in (0, 1))
    target = jax.numpy.asarray(rng.normal(size=_grouped_conv(x, w, strides, pads,
                                                             dilations).shape).astype(np.float32))
    custom = ops.make_depthwise(strides, pads, dilations)
    ours = jax.grad(lambda v: jax.numpy.sum(custom(v, w) * target))(x)
    reference = jax.grad(lambda v: jax.numpy.sum(
        _grouped_conv(v, w, strides, pads, dilations) * target))(x)
    assert np.allclose(custom(x, w), _grouped_conv(x, w, strides, pads, dilations), atol=1e-4)
    assert np.allclose(ours, reference, atol=1e-4), np.abs(ours - reference).max()


@pytest.mark.models
def test_a_dream_step_climbs_the_objective():
    net = Network.load(_content(*POSE), seed=0)
    picture = np.random.default_rng(3).random((96, 128, 3), dtype=np.float32) * 0.5 + 0.25
    before = net.objective(picture, "re_lu_10")
    dreamt = picture
    for _ in range(3):
        dreamt = net.dream_step(dreamt, "re_lu_10", step_size=0.01, jitter=8)
    assert dreamt.shape == picture.shape and dreamt.dtype == np.float32
    assert 0.0 <= dreamt.min() and dreamt.max() <= 1.0
    assert net.objective(dreamt, "re_lu_10") > before * 1.05


@pytest.mark.models
def test_dream_still_with_octaves():
    net = Network.load(_content(*HAND), seed=0)
    picture = np.random.default_rng(4).random((72, 96, 3), dtype=np.float32)
    # An early layer keeps the three compilations (one per octave) short.
    dreamt = net.dream(picture, "re_lu_2", octaves=2, steps=2, octave_scale=1.4)
    assert dreamt.shape == picture.shape
    assert net.objective(dreamt, "re_lu_2") > net.objective(picture, "re_lu_2")
    with pytest.raises(InstallationError, match="fewer octaves"):
        net.dream(picture, "re_lu_2", octaves=6)


@pytest.mark.models
def test_unknown_layer_names_the_closest():
    net = Network.load(_content(STANDIN), value_range=(-1.0, 1.0))
    assert net.layer_index("block_6_expand_relu") == net.layer_index(
        "sequential/mobilenetv2_1.00_224/block_6_expand_relu/Relu6")
    with pytest.raises(InstallationError) as caught:
        net.layer_index("block_6_expnd_relu")
    assert "no layer called 'block_6_expnd_relu'" in str(caught.value)
    assert "block_6_expand_relu" in str(caught.value)
    assert "\n" not in str(caught.value)


def _sparse_network() -> bytes:
    """A tiny TFLite network whose convolution weight is stored sparse and
    made dense by DENSIFY (as MediaPipe's pose detector stores some of its
    weights): picture -> CONV_2D -> features. Built here, so the test needs
    no model files."""
    import flatbuffers

    def tensor(name, shape, buffer=0, sparse=False):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), shape, schema.TensorType.FLOAT32, buffer
        if sparse:
            t.sparsity = schema.SparsityParametersT()
            t.sparsity.traversalOrder = [0, 1, 2, 3]
        return t

    def code(op):
        c = schema.OperatorCodeT()
        c.builtinCode, c.deprecatedBuiltinCode = op, min(op, 127)
        return c

    def operator(index, inputs, outputs):
        o = schema.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = index, inputs, outputs
        return o

    weight = schema.BufferT()
    weight.data = np.ones(4 * 3 * 3 * 3, np.float32).tobytes()
    graph = schema.SubGraphT()
    graph.tensors = [tensor("picture", [1, 8, 8, 3]), tensor("sparse_weight", [4, 3, 3, 3], 1, True),
                     tensor("weight", [4, 3, 3, 3]), tensor("features", [1, 8, 8, 4])]
    graph.inputs, graph.outputs = [0], [3]
    graph.operators = [operator(0, [1], [2]), operator(1, [0, 2, -1], [3])]
    model = schema.ModelT()
    model.version, model.subgraphs, model.buffers = 3, [graph], [schema.BufferT(), weight]
    model.operatorCodes = [code(schema.BuiltinOperator.DENSIFY),
                           code(schema.BuiltinOperator.CONV_2D)]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_unsupported_operator_is_one_line_naming_it_and_the_file(tmp_path):
    # Sparse weights need DENSIFY, which the engine lacks.
    bundle = tmp_path / "detector.task"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("pose_detector.tflite", _sparse_network())
    with pytest.raises(ModelError) as caught:
        Network.load(bundle, member="pose_detector.tflite")
    message = str(caught.value)
    assert "cannot run the operator DENSIFY" in message
    assert f"{bundle} (pose_detector.tflite)" in message
    assert "\n" not in message


@pytest.mark.models
def test_other_picture_sizes_run_or_say_why_not():
    net = Network.load(_content(*POSE))
    # A resize fixed in the file (8x8 to 16x16) keeps its ratio at another
    # size: add_9 adds the upsampled 6x10 map to a 12x20 skip connection.
    assert net.run(np.zeros((180, 320, 3), np.float32), "add_9").shape == (1, 12, 20, 48)
    # add_10 adds an upsampled map (12 rows to 24) to a skip connection of 23 rows.
    with pytest.raises(ModelError, match="cannot run on a 320x180 picture"):
        net.run(np.zeros((180, 320, 3), np.float32), "add_10")


def test_missing_member_and_not_a_network(tmp_path):
    bundle = tmp_path / "some.task"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("other.tflite", b"x")
    with pytest.raises(ModelError, match="the bundle has no missing.tflite"):
        read_graph(bundle, member="missing.tflite")
    with pytest.raises(ModelError, match="not a TFLite network"):
        read_graph(bundle, member="other.tflite")


def test_missing_jax_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)     # import jax now fails
    with pytest.raises(InstallationError, match=r"pip install jax"):
        require_jax()
