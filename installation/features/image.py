"""Image features: what an ImageNet network sees, as mapper inputs.

This is transfer learning the way Teachable Machine does it: a network
trained on a million photographs already tells a raised arm from a lowered
one, a red coat from a blue one, an empty room from a crowded one, so a
mapper trained on a few dozen examples of its features learns what the
landmarks cannot show.

Two groups, pick one per project:

``image``         the whole camera picture (letterboxed to a square)
``image_person``  the square crop around the followed person (their pose's
                  box, a quarter wider), so where they stand matters less

How a vector is made:

1. The tracking side (:class:`ImageStage`, a stage of the tracking
   pipeline, stamped ``image``) runs the network through the project's
   LiteRT runner and puts the result on each person as
   ``Person.embedding``. It only exists when a project uses an image group
   (:func:`stage_for`), so other projects neither load the model nor pay
   for it.
2. The vector is the global average of the network's last feature map. For
   a classifier (its output comes out of a softmax, as in
   ``efficientnet_lite0`` and the development stand-in) that map is the
   widest 4-D activation, last in the graph: the layer before the pooling
   and the classifier. It is rarely a model output, so the model is
   rewritten once at load time to make it one (LiteRT keeps only outputs
   readable after a run; ``experimental_preserve_all_tensors`` would keep
   every activation of the network alive instead). An embedder (one output
   that is not a softmax, as MediaPipe's ``mobilenet_v3_small``) gives its
   output as it is.
3. :class:`ImageFeatures` turns it into ``image.0 .. image.31``: the vector
   scaled to unit length, then a fixed random projection (seeded, the same
   on every machine and every run). Not PCA fitted when training: the
   columns must mean the same before the first example is recorded and
   after every retraining (examples.csv, Wekinator's input count), and
   random projections keep the distances between vectors, which is what
   the mappers use. ``benchmarks/transfer_learning.py`` measures what it
   costs in accuracy.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from installation.errors import ModelError
from installation.features.base import Extractor, FeatureError, Subject
from installation.tracking.litert import LiteRTModel
from installation.types import Frame, Person

#: Columns of an image group (after its presence column).
COLUMNS = 32
#: The projection's seed: fixed, so recorded examples stay valid everywhere.
SEED = 1311
#: Feature groups that need the image stage, and what each embeds.
GROUPS = {"image": "picture", "image_person": "person"}
DEFAULT_MODEL = "image_embedder"
# A crop is the pose's box, this much wider, so arms and hair stay in.
CROP_MARGIN = 1.25
# Landmarks at least this visible make the crop's box (all of them if fewer than 4).
CROP_VISIBILITY = 0.5


# -- the network -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Plan:
    """What to read from a network: the tensor, and whether to average it."""

    content: bytes          # the model, rewritten when the tensor was not an output
    tensor: str
    pool: bool
    value_range: tuple[float, float]


def _schema():
    from ai_edge_litert import schema_py_generated
    return schema_py_generated


def _op_name(schema, model, op) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return names.get(number, str(number))


def _plan(content: bytes, where: str, fix: str) -> _Plan:
    """Find the tensor that gives the picture's vector (see the module docstring)."""
    schema = _schema()
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise ModelError("not a TFLite file", where=where, fix=fix)
    try:
        model = schema.Model.GetRootAsModel(content, 0)
        graph = model.Subgraphs(0)
        shape = lambda index: tuple(int(n) for n in graph.Tensors(index).ShapeAsNumpy())  # noqa: E731
        inputs = [graph.Inputs(i) for i in range(graph.InputsLength())]
        outputs = [graph.Outputs(i) for i in range(graph.OutputsLength())]
        ops = [graph.Operators(i) for i in range(graph.OperatorsLength())]
    except Exception as error:  # a damaged flatbuffer fails anywhere inside
        raise ModelError(f"not a TFLite model that can be read ({error})",
                         where=where, fix=fix) from None
    float32 = schema.TensorType.FLOAT32
    if (len(inputs) != 1 or len(shape(inputs[0])) != 4 or shape(inputs[0])[3] != 3
            or graph.Tensors(inputs[0]).Type() != float32):
        got = [shape(i) for i in inputs]
        raise ModelError(f"not an image network: expected one float RGB image input "
                         f"(1, height, width, 3), the model has {got}", where=where, fix=fix)
    producer = {op.Outputs(j): op for op in ops for j in range(op.OutputsLength())}
    name = lambda index: graph.Tensors(index).Name().decode()  # noqa: E731
    if len(outputs) == 1:
        out = outputs[0]
        dims = [n for n in shape(out) if n != 1]
        made_by = producer.get(out)
        scores = made_by is not None and _op_name(schema, model, made_by) in ("SOFTMAX",
                                                                             "LOGISTIC")
        if len(dims) == 1 and dims[0] >= 16 and not scores:
            return _Plan(content, name(out), False, _value_range(model, schema, where, fix))
    maps = [op.Outputs(j) for op in ops for j in range(op.OutputsLength())]
    maps = [t for t in maps if len(shape(t)) == 4 and shape(t)[0] == 1
            and graph.Tensors(t).Type() == float32]
    if not maps:
        raise ModelError("not an image network: it has no feature map to average",
                         where=where, fix=fix)
    widest = max(shape(t)[3] for t in maps)
    chosen = [t for t in maps if shape(t)[3] == widest][-1]
    if chosen not in outputs:
        content = _with_output(content, chosen)
    return _Plan(content, name(chosen), True, _value_range(model, schema, where, fix))


def _with_output(content: bytes, tensor: int) -> bytes:
    """The same model with one more output, so LiteRT keeps that tensor readable."""
    import flatbuffers

    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    model.subgraphs[0].outputs = [*model.subgraphs[0].outputs, tensor]
    builder = flatbuffers.Builder(len(content) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _value_range(model, schema, where: str, fix: str) -> tuple[float, float]:
    """The pixel range the network was trained on: from its MediaPipe metadata
    (normalisation mean and std), or [-1, 1] as Keras' MobileNet expects."""
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() != b"TFLITE_METADATA":
            continue
        data = model.Buffers(entry.Buffer()).DataAsNumpy()
        if isinstance(data, int):  # an empty buffer
            break
        mean, std = _normalisation(bytes(data))
        if mean is None:
            break
        if len(set(mean)) != 1 or len(set(std)) != 1 or std[0] == 0:
            raise ModelError(f"per-channel input normalisation (mean {mean}, std {std}) is "
                             f"not supported", where=where, fix=fix)
        return (0.0 - mean[0]) / std[0], (255.0 - mean[0]) / std[0]
    return -1.0, 1.0


def _normalisation(data: bytes):
    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta

    try:
        graph = meta.ModelMetadata.GetRootAsModelMetadata(data, 0).SubgraphMetadata(0)
        tensor = graph.InputTensorMetadata(0)
        for k in range(tensor.ProcessUnitsLength()):
            unit = tensor.ProcessUnits(k)
            if unit.OptionsType() == meta.ProcessUnitOptions.NormalizationOptions:
                options = meta.NormalizationOptions()
                options.Init(unit.Options().Bytes, unit.Options().Pos)
                return ([float(v) for v in options.MeanAsNumpy()],
                        [float(v) for v in options.StdAsNumpy()])
    except Exception:  # metadata that cannot be read: treated as absent
        pass
    return None, None


class ImageNetwork:
    """An image network that turns one RGB picture into one vector.

    ``path``: a ``.tflite`` file (:func:`installation.models.resolve`
    finds one by name). ``open`` reads it and refuses, with one line, a file
    that is not an image network.
    """

    def __init__(self, path: str | Path, *, name: str = DEFAULT_MODEL, threads: int = 1):
        self.path, self.name, self.threads = Path(path), name, threads
        self.model_: LiteRTModel | None = None

    def open(self) -> "ImageNetwork":
        fix = (f"give an image network (a .tflite classifier or embedder), or delete the "
               f"file and run `installation models fetch {self.name}`")
        try:
            content = self.path.read_bytes()
        except OSError as error:
            raise ModelError(f"cannot read the model ({error.strerror or error})",
                             where=str(self.path), fix=fix) from None
        import hashlib

        self.sha256_ = hashlib.sha256(content).hexdigest()  # which file: network_record.py
        plan = _plan(content, str(self.path), fix)
        self.tensor_, self.pool_ = plan.tensor, plan.pool
        self.model_ = LiteRTModel(plan.content, where=str(self.path), fix=fix,
                                  value_range=plan.value_range, threads=self.threads)
        shape = self.model_.output_shapes[plan.tensor]
        self.width_ = int(shape[-1]) if plan.pool else int(np.prod(shape))
        return self

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the pictures it takes."""
        return self.model_.input_size

    def __call__(self, picture: np.ndarray) -> np.ndarray:
        """The vector (float32, ``width_`` values) of a uint8 RGB picture of the input size."""
        out = self.model_(picture)[self.tensor_]
        if self.pool_:
            return out.reshape(-1, out.shape[-1]).mean(axis=0, dtype=np.float32)
        return out.reshape(-1).astype(np.float32)


def open_network(name: str = DEFAULT_MODEL, models_dir=None) -> ImageNetwork:
    """The named image network (see ``installation models list``), opened."""
    from installation import models

    return ImageNetwork(models.resolve(name, models_dir), name=name).open()


# -- pictures ----------------------------------------------------------------------------

def square(image: np.ndarray, centre: tuple[float, float], side: float, size: int) -> np.ndarray:
    """The square of ``side`` pixels around ``centre`` (x, y), scaled to
    ``size`` x ``size``; what lies outside the image is black."""
    import cv2

    height, width = image.shape[:2]
    canvas = np.zeros((size, size, 3), np.uint8)
    x0, y0 = centre[0] - side / 2, centre[1] - side / 2
    ix0, iy0 = max(0, math.floor(x0)), max(0, math.floor(y0))
    ix1, iy1 = min(width, math.ceil(x0 + side)), min(height, math.ceil(y0 + side))
    if ix1 <= ix0 or iy1 <= iy0:
        return canvas
    scale = size / side
    tx, ty = min(size - 1, round((ix0 - x0) * scale)), min(size - 1, round((iy0 - y0) * scale))
    tw = max(1, min(size - tx, round((ix1 - ix0) * scale)))
    th = max(1, min(size - ty, round((iy1 - iy0) * scale)))
    part = image[iy0:iy1, ix0:ix1]
    # A camera picture shrinks 5-10x here: averaging keeps it unaliased, and
    # OpenCV averages by a whole factor 4x faster than by 8.57 (1.7 against
    # 7 ms for 1080x1920), so average by the whole part, then interpolate.
    step = int(1 / scale)
    if step >= 2:
        part = cv2.resize(part, (max(1, part.shape[1] // step), max(1, part.shape[0] // step)),
                          interpolation=cv2.INTER_AREA)
    canvas[ty:ty + th, tx:tx + tw] = cv2.resize(part, (tw, th), interpolation=cv2.INTER_LINEAR)
    return canvas


def person_box(person: Person, size: tuple[int, int]) -> tuple[tuple[float, float], float]:
    """Centre (x, y) and side in pixels of the square crop around a person."""
    width, height = size
    pose = person.pose
    seen = pose[pose[:, 3] >= CROP_VISIBILITY]
    points = (seen if len(seen) >= 4 else pose)[:, :2] * (width, height)
    low, high = points.min(axis=0), points.max(axis=0)
    side = max(float((high - low).max()) * CROP_MARGIN, 16.0)
    return (float(low[0] + high[0]) / 2, float(low[1] + high[1]) / 2), side


class ImageStage:
    """The tracking pipeline's ``image`` stage: each person gets the
    embedding of the picture (``mode="picture"``) or of their crop
    (``"person"``). Frames without a picture (takes) or without people
    pass unchanged: nobody would read the vector."""

    def __init__(self, network: ImageNetwork, mode: str = "picture"):
        if mode not in ("picture", "person"):
            raise ValueError(f"mode must be 'picture' or 'person', got {mode!r}")
        self.network, self.mode = network, mode

    def __call__(self, frame: Frame) -> Frame:
        if frame.image is None or not frame.people:
            return frame
        image = frame.image
        size = self.network.input_size[0]
        height, width = image.shape[:2]
        if self.mode == "picture":
            shared = _finite(self.network(square(image, (width / 2, height / 2),
                                                 max(width, height), size)))
            people = tuple(p.replace(embedding=shared) for p in frame.people)
        else:
            people = tuple(p.replace(embedding=_finite(self.network(
                square(image, *person_box(p, (width, height)), size)))) for p in frame.people)
        return frame.replace(people=people, stamps=dict(frame.stamps, image=time.monotonic()))


def _finite(vector: np.ndarray) -> np.ndarray | None:
    # A vector that is not all finite is "not measured" (presence 0), never a crash.
    return vector if np.isfinite(vector).all() else None


def stage_for(feature_names, models_dir=None, model: str = DEFAULT_MODEL) -> ImageStage | None:
    """The image stage a project with these feature groups needs, its model
    opened; None (nothing loaded) when it uses no image group."""
    used = [name for name in dict.fromkeys(feature_names) if name in GROUPS]
    if not used:
        return None
    if len(used) > 1:
        raise FeatureError(f"feature groups {' and '.join(used)} embed different pictures",
                           "features", "keep one of them")
    return ImageStage(open_network(model, models_dir), GROUPS[used[0]])


# -- the feature columns -----------------------------------------------------------------

_projections: dict[int, np.ndarray] = {}


def projection(width: int) -> np.ndarray:
    """The fixed (width, COLUMNS) random projection for vectors of ``width``."""
    matrix = _projections.get(width)
    if matrix is None:
        matrix = np.random.default_rng(SEED).standard_normal((width, COLUMNS))
        _projections[width] = matrix
    return matrix


def project(embedding: np.ndarray) -> np.ndarray:
    """``COLUMNS`` numbers of about unit size from an embedding of any width."""
    vector = np.asarray(embedding, dtype=np.float64)
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        return np.zeros(COLUMNS)
    return (vector / norm) @ projection(vector.size)


class ImageFeatures(Extractor):
    """``image.0 .. image.31`` (or ``image_person.*``): the person's
    embedding, projected. Absent (presence 0) when the frame carries none:
    a take, or a project whose image stage is not running."""

    needs_body = False  # the picture is seen even when the pose is too small to measure

    def __init__(self, name: str = "image"):
        self.name = name

    def columns(self) -> tuple[str, ...]:
        return tuple(f"{self.name}.{i}" for i in range(COLUMNS))

    def values(self, subject: Subject, t: float) -> np.ndarray | None:
        embedding = subject.person.embedding
        return None if embedding is None else project(embedding)
