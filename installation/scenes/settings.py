"""A scene's settings: its constructor's keyword arguments with defaults.

The scikit-learn rule: ``__init__`` only stores its arguments, each under its
own name, and every argument has a default. That makes the settings
introspectable (``installation scenes list`` shows them) and checkable: a
profile's ``[scenes.NAME]`` table is checked against the signature before the
scene is made, so a typo is an error naming the file, the key and the close
match, never a silently ignored value.

A setting's type comes from its annotation when there is one (``float``,
``int``, ``bool``, ``str``, ``list[float]``, ``tuple[int, int, int]``,
``dict``, ``Literal["dusk", "dawn"]``, ``X | None``), else from its default's
type. An ``int`` is accepted where a ``float`` is expected (TOML writes
``speed = 2``), a ``bool`` never where a number is. A comment on a
parameter's line is its help text::

    def __init__(self, speed: float = 120.0,    # pixels per second
                 palette: str = "dusk"):         # "dusk" or "dawn"
"""
from __future__ import annotations

import ast
import inspect
import io
import textwrap
import tokenize
import types as pytypes
import typing
from dataclasses import dataclass

from installation.errors import InstallationError, did_you_mean

_ANY = object  # a setting whose type cannot be told: any value passes


class SceneError(InstallationError):
    """A scene that cannot be found, loaded, configured or run as written."""


@dataclass(frozen=True)
class Setting:
    """One constructor argument of a scene."""

    name: str
    default: object
    types: tuple[type, ...]  # accepted Python types (``object`` = anything)
    items: tuple | None = None  # element types of a list/tuple setting, per position or (T,) for all
    length: int | None = None  # required length of a tuple setting
    choices: tuple | None = None  # allowed values (typing.Literal)
    help: str = ""  # the comment on the parameter's line

    @property
    def type_name(self) -> str:
        if self.choices is not None:
            return " or ".join(repr(c) for c in self.choices)
        names = [_type_name(t) for t in self.types if t is not type(None)]
        if self.items:
            inner = ", ".join(_type_name(t) for t in self.items)
            names = [f"{n}[{inner}]" if n == "list" or (n == "tuple" and self.length)
                     else f"{n}[{inner}, ...]" if n == "tuple" else n for n in names]
        return " or ".join(names) or "any value"

    @property
    def annotation(self) -> str:
        """The type as a reader writes it: ``int | None``, ``tuple[int, int, int]``."""
        text = self.type_name.replace(" or ", " | ")
        if type(None) in self.types and _ANY not in self.types:
            text += " | None"
        return text


def _type_name(t) -> str:
    return "any value" if t is _ANY else getattr(t, "__name__", str(t))


def scene_settings(cls) -> dict[str, Setting]:
    """The settings of scene class ``cls``, by name, in signature order.

    Raises SceneError when the constructor does not follow the rule (an
    argument without a default, ``*args`` or ``**kwargs``).
    """
    init = cls.__init__
    if init is object.__init__:
        return {}
    signature = inspect.signature(init)
    hints = _hints(init)
    comments = _param_comments(init)
    settings = {}
    for parameter in list(signature.parameters.values())[1:]:  # skip self
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise SceneError(
                f"settings must be named keyword arguments, not {parameter}",
                where=_where(cls, init),
                fix="list each setting with its default, e.g. speed: float = 1.0")
        if parameter.kind is parameter.POSITIONAL_ONLY or parameter.default is parameter.empty:
            raise SceneError(
                f"setting '{parameter.name}' has no default",
                where=_where(cls, init),
                fix=f"give it one, e.g. {parameter.name}: float = 1.0; a scene is made "
                    "from its defaults when the profile says nothing")
        annotation = hints.get(parameter.name, parameter.annotation)
        settings[parameter.name] = _setting(parameter.name, parameter.default, annotation,
                                            comments.get(parameter.name, ""))
    return settings


def _where(cls, function=None) -> str:
    try:
        file = inspect.getsourcefile(cls) or "?"
        line = inspect.getsourcelines(function or cls)[1]
        return f"{file}:{line}"
    except (OSError, TypeError):
        return f"scene class {cls.__module__}.{cls.__qualname__}"


def _hints(function) -> dict:
    try:
        return typing.get_type_hints(function)
    except Exception:  # noqa: BLE001  unresolvable names: fall back to the text
        return dict(getattr(function, "__annotations__", {}))


_NAMES = {"int": int, "float": float, "bool": bool, "str": str, "None": type(None),
          "list": list, "tuple": tuple, "dict": dict}


def _setting(name: str, default, annotation, help_text: str) -> Setting:
    types, items, length, choices = _from_annotation(annotation)
    if types is None:  # no annotation, or one we cannot read: the default decides
        if default is None:
            types = (_ANY,)
        elif isinstance(default, (list, tuple)):
            types = (type(default),)
            if default:
                if isinstance(default, tuple):
                    items, length = tuple(type(v) for v in default), len(default)
                else:
                    items = (type(default[0]),)
        else:
            types = (type(default),)
    if types in ((tuple,), (list,)) and items is None and isinstance(default, (list, tuple)) and default:
        # A bare ``tuple``/``list`` annotation: the default tells the items.
        if isinstance(default, tuple):
            items, length = tuple(type(v) for v in default), len(default)
        else:
            items = (type(default[0]),)
    if default is None and type(None) not in types:
        types = (*types, type(None))
    return Setting(name, default, types, items, length, choices, help_text)


def _from_annotation(annotation):
    """(types, items, length, choices) from an annotation object or its text;
    types is None when the annotation says nothing usable."""
    if annotation is inspect.Parameter.empty or annotation is None:
        return None, None, None, None
    if isinstance(annotation, str):
        return _from_text(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        return tuple({type(c) for c in choices}), None, None, choices
    if origin in (typing.Union, pytypes.UnionType):
        types, items, length, choices = [], None, None, None
        for arg in typing.get_args(annotation):
            t, i, n, c = _from_annotation(arg)
            if t is None:
                return None, None, None, None
            types.extend(t)
            items, length, choices = items or i, length or n, choices or c
        return tuple(types), items, length, choices
    if origin in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        item_types = tuple(_plain(a) for a in args) or None
        if origin is tuple and Ellipsis not in typing.get_args(annotation) and args:
            return (tuple,), item_types, len(args), None
        return (origin,), item_types[:1] if item_types else None, None, None
    if origin is dict:
        return (dict,), None, None, None
    if annotation is type(None):
        return (type(None),), None, None, None
    if annotation in (int, float, bool, str, list, tuple, dict):
        return (annotation,), None, None, None
    return None, None, None, None


def _plain(annotation):
    types = _from_annotation(annotation)[0]
    return types[0] if types and len(types) == 1 else _ANY


def _from_text(text: str):
    # Annotations that could not be resolved: read the simple forms by hand.
    parts = [part.strip() for part in text.split("|")]
    types = []
    for part in parts:
        base = part.split("[", 1)[0].strip()
        if base.startswith("Literal"):
            try:
                choices = ast.literal_eval("(" + part[part.index("[") + 1:part.rindex("]")] + ",)")
            except (ValueError, SyntaxError):
                return None, None, None, None
            return tuple({type(c) for c in choices}), None, None, tuple(choices)
        if base not in _NAMES:
            return None, None, None, None
        types.append(_NAMES[base])
    return tuple(types), None, None, None


def _param_comments(function) -> dict[str, str]:
    """Each parameter's help: the comment on its line of ``def __init__(...)``,
    else the comment on the line that stores it (``self.speed = speed  # px/s``)."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return {}
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return {}
    by_line: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                by_line[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        return {}
    args = node.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    last_on_line = {}
    # A comment in the signature belongs to the last argument starting on its line.
    for arg in params:
        last_on_line[arg.lineno] = arg.arg
    comments = {name: by_line[line] for line, name in last_on_line.items() if line in by_line}
    names = {arg.arg for arg in params}
    for statement in ast.walk(node):
        if not isinstance(statement, ast.Assign) or statement.lineno not in by_line:
            continue
        stored = [target.attr for target in statement.targets
                  if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                  and target.value.id == "self" and target.attr in names]
        if len(stored) == 1:  # self.a, self.b = a, b: which one the comment means is unclear
            comments.setdefault(stored[0], by_line[statement.lineno])
    return comments


def check_settings(cls, table: dict, where: str, *, scene_name: str | None = None) -> dict:
    """``table`` checked against ``cls``'s settings; the keyword arguments to
    make the scene with (ints widened to floats, lists to tuples where the
    setting is a tuple). ``where`` names the table for errors, e.g.
    ``"profiles/gallery.toml [scenes.poetry]"``."""
    settings = scene_settings(cls)
    name = scene_name or getattr(cls, "name", "") or cls.__name__
    values = {}
    for key, value in table.items():
        if key not in settings:
            known = ", ".join(settings) or "none"
            hint = did_you_mean(key, settings, otherwise="")
            raise SceneError(f"unknown key '{key}'", where=where,
                             fix=f"{hint + ' ' if hint else ''}the settings of {name}: {known}; "
                                 f"defined at {_where(cls, cls.__init__)}")
        values[key] = convert(settings[key], value, where)
        problem = limit_problem(cls, key, values[key])
        if problem:
            raise SceneError(problem, where=where, fix=f"the default is {settings[key].default!r}")
    return values


def limit_problem(cls, key: str, value) -> str | None:
    """Why ``value`` is outside the limits ``cls.limits`` sets for ``key``, or None."""
    low, high = getattr(cls, "limits", {}).get(key, (None, None))
    if low is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if low <= value <= high:
        return None
    return f"'{key}' must be between {low:g} and {high:g}, got {value!r}"


def settings_problem(scene) -> str | None:
    """The first setting of ``scene`` outside its class's limits, or None
    (for a scene made in code, whose settings no profile check has seen)."""
    for key in getattr(scene, "limits", {}):
        problem = limit_problem(type(scene), key, getattr(scene, key, None))
        if problem:
            return problem
    return None


def convert(setting: Setting, value, where: str):
    """``value`` as setting ``setting`` takes it, or SceneError saying what was expected."""
    problem = _problem(setting, value)
    if problem is not None:
        raise SceneError(f"'{setting.name}' must be {setting.type_name}, got {value!r}{problem}",
                         where=where, fix=f"the default is {setting.default!r}")
    return _widen(setting, value)


def _problem(setting: Setting, value) -> str | None:
    """None when ``value`` fits; else a (possibly empty) extra explanation."""
    if setting.choices is not None:
        if value in setting.choices and type(value) in {type(c) for c in setting.choices}:
            return None
        hint = did_you_mean(value, setting.choices, otherwise="")
        return f" ({hint})" if hint else ""
    if not _fits(value, setting.types):
        return ""
    if isinstance(value, (list, tuple)) and setting.items:
        if setting.length is not None and len(value) != setting.length:
            return f" (expected {setting.length} items, got {len(value)})"
        for index, item in enumerate(value):
            expected = setting.items[index] if setting.length is not None else setting.items[0]
            if expected is not _ANY and not _fits(item, (expected,)):
                return f" (item {index} is {item!r}, expected {_type_name(expected)})"
    return None


def _fits(value, types: tuple[type, ...]) -> bool:
    if _ANY in types:
        return True
    if isinstance(value, bool):  # bool is an int to Python, never to a profile
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    if isinstance(value, list) and tuple in types:  # TOML has arrays only
        return True
    return isinstance(value, types)


def _widen(setting: Setting, value):
    if isinstance(value, int) and not isinstance(value, bool) and float in setting.types \
            and int not in setting.types:
        return float(value)
    if isinstance(value, (list, tuple)) and setting.items:
        items = [float(v) if isinstance(v, int) and not isinstance(v, bool)
                 and (setting.items[i] if setting.length is not None else setting.items[0]) is float
                 else v for i, v in enumerate(value)]
        value = type(value)(items) if isinstance(value, tuple) else items
    if isinstance(value, list) and tuple in setting.types and list not in setting.types:
        return tuple(value)
    return value

