"""What a mapper project says: its inputs and its outputs, each with its own
type, model, settings and inputs. Read from and written to project.toml
(the file itself is read and written by folder.py).

Three output types, as in Wekinator:

- ``classifier``: a class number 1..K (``classes`` names them);
- ``regressor``: a number, limited to ``min``..``max`` (``limit``);
- ``dtw``: gestures matched over time (dynamic time warping).
"""
from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field, fields
from typing import ClassVar

from installation.errors import did_you_mean
# MappingError is imported from here by much of the project.
from installation.mapping.errors import MappingError
from installation.mapping.estimators import check_model

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
#: Output names become file names (models/NAME.skops, and a temporary file
#: beside it while saving); this leaves room under any file system's limit.
MAX_NAME = 100


def check_name(name, what: str, where: str) -> str:
    """``name`` if it can name an input or output (and a file), else MappingError."""
    if isinstance(name, str) and len(name) > MAX_NAME:
        raise MappingError(f"{what} name {name[:20]!r}... is {len(name)} characters long",
                           where, f"use at most {MAX_NAME} characters")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise MappingError(f"bad {what} name {str(name)[:40]!r}", where,
                           "use letters, digits, '_', '-' and '.', starting with a letter, "
                           "digit or '_'")
    return name


#: The name the commands know the shared "did you mean" helper by.


@dataclass(frozen=True)
class OutputSpec:
    """Settings shared by every output type."""

    name: str
    #: Input names or glob patterns ("arms.*") this output learns from;
    #: empty means every input of the project.
    inputs: tuple[str, ...] = ()
    type: ClassVar[str] = ""

    def resolve_inputs(self, names: tuple[str, ...], where: str) -> tuple[int, ...]:
        """Indices of this output's inputs among the project's ``names``."""
        if not self.inputs:
            return tuple(range(len(names)))
        chosen: list[int] = []
        for pattern in self.inputs:
            hits = [i for i, n in enumerate(names) if fnmatch.fnmatchcase(n, pattern)]
            if not hits:
                raise MappingError(f"input {pattern!r} of output {self.name!r} matches no input",
                                   where, did_you_mean(pattern, names[:50]) if names else
                                   "the project has no inputs")
            chosen.extend(i for i in hits if i not in chosen)
        return tuple(sorted(chosen))

    @property
    def default_value(self) -> float:
        return 0.0

    def check_value(self, value, where: str) -> float:
        """A value this output can be taught (else MappingError)."""
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise MappingError(f"{self.name}: {value!r} is not a number", where) from None
        if not math.isfinite(value):
            raise MappingError(f"{self.name}: value {value} is not a finite number", where,
                               "give a real number")
        return value


@dataclass(frozen=True)
class ClassifierOutput(OutputSpec):
    """A class number 1..K, learnt by a classifier."""

    model: str = "knn"
    #: Names of classes 1, 2, ... (optional; the number is what is sent).
    classes: tuple[str, ...] = ()
    #: K when no names are given (0: any class number 1, 2, 3 ...).
    num_classes: int = 0
    params: dict = field(default_factory=dict)
    type: ClassVar[str] = "classifier"

    @property
    def k(self) -> int:
        return len(self.classes) or self.num_classes

    @property
    def default_value(self) -> float:
        return 1.0

    def class_name(self, number: int) -> str:
        if 1 <= number <= len(self.classes):
            return self.classes[number - 1]
        return str(number)

    def check_value(self, value, where: str) -> float:
        if isinstance(value, str) and value in self.classes:
            return float(self.classes.index(value) + 1)
        value = super().check_value(value, where)
        if not value.is_integer() or value < 1 or (self.k and value > self.k):
            upto = f"1..{self.k}" if self.k else "1, 2, 3 ..."
            names = f" or a class name ({', '.join(self.classes)})" if self.classes else ""
            raise MappingError(f"{self.name}: class {value:g} is not a class number", where,
                               f"give a whole number {upto}{names}")
        return value


@dataclass(frozen=True)
class RegressorOutput(OutputSpec):
    """A number, learnt by a regressor and limited to min..max."""

    model: str = "mlp"
    min: float = 0.0
    max: float = 1.0
    #: "hard": clip to min..max; "soft": bend smoothly into min..max near
    #: the edges (never beyond); "none": min..max only sets the keys' steps.
    limit: str = "hard"
    integer: bool = False
    params: dict = field(default_factory=dict)
    type: ClassVar[str] = "regressor"

    @property
    def default_value(self) -> float:
        return float(self.min)

    def apply_limits(self, value: float) -> float:
        lo, hi = self.min, self.max
        if self.limit == "hard":
            value = min(hi, max(lo, value))
        elif self.limit == "soft":
            # Linear in the middle, then bends to the edge (tanh knee of a
            # tenth of the range): smooth, monotonic, never beyond.
            knee = 0.1 * (hi - lo)
            if value > hi - knee:
                value = hi - knee + knee * math.tanh((value - (hi - knee)) / knee)
            elif value < lo + knee:
                value = lo + knee - knee * math.tanh(((lo + knee) - value) / knee)
        if self.integer:
            value = float(round(value))
            if self.limit != "none":
                value = min(math.floor(hi), max(math.ceil(lo), value))
        return value


@dataclass(frozen=True)
class GestureOutput(OutputSpec):
    """Gestures matched by dynamic time warping: the number of the gesture
    just completed (0 otherwise), and the distance to each."""

    gestures: tuple[str, ...] = ("gesture-1",)
    #: A match needs a distance below this (per-frame RMS distance in
    #: standardised input units); None: set at training from the templates.
    threshold: float | None = None
    #: Templates shorter than this many frames are refused when recorded.
    min_length: int = 5
    #: Compare every n-th frame only: faster, and less fussy about speed.
    downsample: int = 1
    type: ClassVar[str] = "dtw"

    @property
    def default_value(self) -> float:
        return 1.0

    def check_value(self, value, where: str) -> float:
        if isinstance(value, str) and value in self.gestures:
            return float(self.gestures.index(value) + 1)
        value = super().check_value(value, where)
        if not value.is_integer() or not 1 <= value <= len(self.gestures):
            raise MappingError(f"{self.name}: gesture {value:g} does not exist", where,
                               f"give a gesture number 1..{len(self.gestures)} or a name "
                               f"({', '.join(self.gestures)})")
        return value


OUTPUT_TYPES: dict[str, type] = {
    "classifier": ClassifierOutput, "regressor": RegressorOutput, "dtw": GestureOutput}


def output_from_table(name: str, table: dict, where: str) -> OutputSpec:
    """One ``[outputs.NAME]`` table, checked key by key."""
    check_name(name, "output", where)
    if not isinstance(table, dict):
        raise MappingError(f"output {name!r} must be a table", where,
                           f"write it as [outputs.{name}] with type = ...")
    kind = table.get("type")
    if not isinstance(kind, str) or kind not in OUTPUT_TYPES:
        raise MappingError(f"output {name!r} has type {kind!r}", where,
                           did_you_mean(kind, OUTPUT_TYPES) if kind else
                           "add type = \"classifier\", \"regressor\" or \"dtw\"")
    cls = OUTPUT_TYPES[kind]
    known = {f.name: f for f in fields(cls) if f.name != "name"}
    values: dict = {}
    for key, value in table.items():
        if key == "type":
            continue
        if key not in known:
            raise MappingError(f"unknown key {key!r} for a {kind} output", f"{where} [{name}]",
                               did_you_mean(key, known))
        values[key] = _check_field(key, value, known[key].type, f"{where} [outputs.{name}]")
    spec = cls(name=name, **values)
    _check_spec(spec, f"{where} [outputs.{name}]")
    if hasattr(spec, "model"):
        check_model(kind, spec.model, spec.params, f"{where} [outputs.{name}]")
    return spec


def _check_field(key: str, value, annotation, where: str):
    text = str(annotation)
    if "tuple" in text:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise MappingError(f"'{key}' must be a list of strings, got {value!r}", where,
                               f'write it like {key} = ["a", "b"]')
        return tuple(value)
    if text == "dict":
        if not isinstance(value, dict):
            raise MappingError(f"'{key}' must be a table, got {value!r}", where,
                               f"write it as a [..{key}] table or {key} = {{ name = value }}")
        return {k: (tuple(v) if isinstance(v, list) else v) for k, v in value.items()}
    if isinstance(value, bool):
        if text != "bool":
            raise MappingError(f"'{key}' must be {text}, got {value!r}", where)
        return value
    if text == "bool":
        raise MappingError(f"'{key}' must be true or false, got {value!r}", where)
    if text == "str":
        if not isinstance(value, str):
            raise MappingError(f"'{key}' must be a string, got {value!r}", where)
        return value
    if text == "int":
        if not isinstance(value, int):
            raise MappingError(f"'{key}' must be a whole number, got {value!r}", where)
        return value
    if "float" in text:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise MappingError(f"'{key}' must be a number, got {value!r}", where)
        return float(value)
    return value


def _check_spec(spec: OutputSpec, where: str) -> None:
    for pattern in spec.inputs:
        if not pattern:
            raise MappingError("an empty input name", where, "remove it from inputs")
    if isinstance(spec, ClassifierOutput):
        if spec.num_classes < 0:
            raise MappingError("num_classes must be >= 0", where)
        if spec.classes and spec.num_classes and spec.num_classes != len(spec.classes):
            raise MappingError(f"num_classes = {spec.num_classes} but {len(spec.classes)} class "
                               "names are given", where, "give one or the other")
        if len(set(spec.classes)) != len(spec.classes):
            raise MappingError("class names repeat", where, "give each class its own name")
    elif isinstance(spec, RegressorOutput):
        if not spec.min < spec.max:
            raise MappingError(f"min ({spec.min:g}) must be below max ({spec.max:g})", where)
        if spec.limit not in ("hard", "soft", "none"):
            raise MappingError(f"limit is {spec.limit!r}", where,
                               did_you_mean(spec.limit, ("hard", "soft", "none")))
    elif isinstance(spec, GestureOutput):
        if not spec.gestures:
            raise MappingError("a dtw output needs at least one gesture", where,
                               'add gestures = ["wave", ...]')
        if len(set(spec.gestures)) != len(spec.gestures):
            raise MappingError("gesture names repeat", where, "give each gesture its own name")
        if spec.threshold is not None and not spec.threshold > 0:
            raise MappingError("threshold must be > 0", where, "or leave it out to set it at "
                                                                "training")
        if spec.min_length < 2:
            raise MappingError("min_length must be at least 2 frames", where)
        if spec.downsample < 1:
            raise MappingError("downsample must be at least 1", where)


def output_to_table(spec: OutputSpec) -> dict:
    """The TOML table of an output: only settings that differ from the defaults."""
    table: dict = {"type": spec.type}
    defaults = type(spec)(name=spec.name)
    for f in fields(spec):
        if f.name == "name":
            continue
        value = getattr(spec, f.name)
        if f.name in ("model", "gestures") or value != getattr(defaults, f.name):
            table[f.name] = list(value) if isinstance(value, tuple) else value
    return table


# -- the project as a whole -----------------------------------------------------------

FORMAT = "installation-mapper"
#: The version of project.toml and of the model manifest this code writes.
VERSION = 1


def check_input_names(names: tuple[str, ...], where: str) -> None:
    """MappingError unless ``names`` can be a project's inputs."""
    if not names:
        raise MappingError("the project has no inputs", where,
                           'add features = ["pose", ...] or inputs = ["inputs-1", ...]')
    for name in names:
        check_name(name, "input", where)
    if len(set(names)) != len(names):
        raise MappingError("input names repeat", where, "give each input its own name")


def outputs_by_name(specs, where: str) -> dict[str, OutputSpec]:
    """A project's outputs by name; MappingError unless there is at least
    one and each has a name of its own."""
    outputs: dict[str, OutputSpec] = {}
    files: dict[str, str] = {}
    for spec in specs:
        check_name(spec.name, "output", where)
        if spec.name in outputs:
            raise MappingError(f"output {spec.name!r} is defined twice", where)
        # Outputs name model files, and some file systems ignore case.
        other = files.setdefault(spec.name.lower(), spec.name)
        if other != spec.name:
            raise MappingError(f"outputs {other!r} and {spec.name!r} differ only in case",
                               where, "give each output a name of its own")
        outputs[spec.name] = spec
    if not outputs:
        raise MappingError("the project has no outputs", where,
                           "add an [outputs.NAME] table with a type")
    return outputs


def project_from_dict(data: dict, where: str) -> tuple[list, list, list[OutputSpec]]:
    """The features, inputs and outputs project.toml names, checked key by key."""
    known = ("format", "version", "features", "inputs", "outputs")
    for key in data:
        if key not in known:
            raise MappingError(f"unknown key {key!r}", where, did_you_mean(key, known))
    if data.get("format") != FORMAT:
        raise MappingError(f"not a mapper project: format is {data.get('format')!r}, "
                           f"expected {FORMAT!r}", where,
                           "give the folder of a project made by `installation project new`")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MappingError(f"bad project version {version!r}", where,
                           "the file was edited by hand: version = 1")
    if version > VERSION:
        raise MappingError(f"project version {version} is newer than this installation "
                           f"supports ({VERSION})", where, "upgrade installation")
    features, inputs = data.get("features", []), data.get("inputs", [])
    for key, value in (("features", features), ("inputs", inputs)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise MappingError(f"'{key}' must be a list of names, got {value!r}", where)
    outputs = data.get("outputs", {})
    if not isinstance(outputs, dict):
        raise MappingError("'outputs' must be tables [outputs.NAME]", where)
    return features, inputs, [output_from_table(name, table, where)
                              for name, table in outputs.items()]


def project_to_dict(features, inputs, outputs: dict[str, OutputSpec]) -> dict:
    """project.toml's content: the features (or, without them, the inputs) and the outputs."""
    data: dict = {"format": FORMAT, "version": VERSION}
    if features:
        data["features"] = list(features)
    else:
        data["inputs"] = list(inputs)
    data["outputs"] = {name: output_to_table(spec) for name, spec in outputs.items()}
    return data
