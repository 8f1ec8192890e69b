"""The house rules of the package's layout, read from the source with ``ast``
(nothing is imported): lower layers never import higher ones, no two
modules import each other (even from inside a function), no module imports
another's private names, and no module or function grows past the size a
reader can hold. docs/architecture.md draws the layers these rules keep.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "installation"

# Layers, lowest first: a module may import its own layer and those below.
# Within a layer the cycle check keeps the order honest.
LAYERS = [
    # the words every stage speaks: types, errors, files, logs, assets, usage
    {"types", "errors", "files", "logs", "hours", "assets", "limits", "usage"},
    # the stages and what they read: sources, tracking, the room, takes,
    # networks, features, mapping, OSC, poem text, model bundles, profiles
    {"capture", "tracking", "room", "takes", "deep", "features", "mapping", "osc", "text",
     "models", "model_fetch", "profile", "profile_tables"},
    {"scenes"},       # the scene contract, discovery, the director
    {"app", "console"},  # the render loop, the live feed, the HUD, the tour; the web console
    {"bench"},        # the measured loops of `installation bench`
    {"commands"},     # one module per command
    {"cli"},
]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    if module == "installation":
        return LAYERS.index({"scenes"})  # the public names include the Scene contract
    part = module.split(".")[1]
    return next(n for n, layer in enumerate(LAYERS) if part in layer)


def _owner(name: str) -> str | None:
    """The module of ours that ``name`` (a dotted import) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Ids of import nodes under ``if TYPE_CHECKING:`` (never run)."""
    hidden = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            hidden.update(id(n) for n in ast.walk(node))
    return hidden


def _imports(module: str) -> list[tuple[str, str, int]]:
    """(module imported, name imported or "", line) for each import of ours,
    function-level ones included."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    hidden = _type_checking_only(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((full, "", node.lineno) if full in MODULES
                             else (base, alias.name, node.lineno))
    return [(owner, name, line) for target, name, line in found
            if target.startswith("installation") and (owner := _owner(target)) is not None
            and owner != module]


GRAPH = {module: _imports(module) for module in MODULES}


def test_every_package_is_in_a_layer():
    parts = {m.split(".")[1] for m in MODULES if m != "installation"}
    placed = set().union(*LAYERS)
    assert parts <= placed, f"add these to a layer in LAYERS: {sorted(parts - placed)}"


def test_no_import_runs_up_the_layers():
    upward = [f"{module}:{line} imports {target} (layer {_layer(target)} above {_layer(module)})"
              for module, imports in GRAPH.items() for target, _, line in imports
              if _layer(target) > _layer(module)]
    assert upward == []


def test_no_two_modules_import_each_other():
    edges = {m: {target for target, _, _ in imports} for m, imports in GRAPH.items()}
    cycles, done, path = [], set(), []

    def visit(module, on_path):
        path.append(module)
        on_path.add(module)
        for target in sorted(edges[module]):
            if target in on_path:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in done:
                visit(target, on_path)
        on_path.discard(module)
        path.pop()
        done.add(module)

    for module in sorted(edges):
        if module not in done:
            visit(module, set())
    assert cycles == []


def test_no_module_imports_another_modules_private_names():
    private = [f"{module}:{line} imports {name} from {target}"
               for module, imports in GRAPH.items() for target, name, line in imports
               if name.startswith("_") and not name.startswith("__")]
    assert private == []


def _sources():
    yield from MODULES.values()
    yield from sorted((ROOT / "scenes").glob("*.py"))


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_readable(path):
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{lines} lines: split it along a seam a reader can name"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
            for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_scene_plugins_use_only_what_a_scene_is_handed():
    """Built-in scenes are plugins like an artist's: they may use the
    contract and the layers below it, never the app, the bench or commands."""
    scenes_layer = LAYERS.index({"scenes"})
    reaching = []
    for path in sorted((ROOT / "scenes").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                owner = _owner(name) if name.startswith("installation") else None
                if owner is not None and _layer(owner) > scenes_layer:
                    reaching.append(f"{path.name}:{node.lineno} imports {name}")
    assert reaching == []
