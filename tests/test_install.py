"""`pip install .` installs the whole package: every folder of installation/
is listed in pyproject.toml, and every file the built-in scenes and assets
need is caught by its package data.

An editable install (`pip install -e .`, the tests' own) reads the source
folders directly and would hide a folder missing from that list; a normal
install leaves it out, and the quick start's first command fails with
ModuleNotFoundError.
"""
from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def package_folders() -> dict[str, Path]:
    """Package name -> the folder it is installed from, as pyproject.toml maps them."""
    mapped = {name: ROOT / folder for name, folder in SETUPTOOLS.get("package-dir", {}).items()}
    return {name: mapped.get(name, ROOT / name.replace(".", "/"))
            for name in SETUPTOOLS["packages"]}


def test_every_folder_of_the_package_is_installed():
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for init in (ROOT / "installation").rglob("__init__.py")}
    listed = set(SETUPTOOLS["packages"])
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert {name for name in listed - found if not name.startswith("installation._")} == set()
    assert all(folder.is_dir() for folder in package_folders().values())


def test_every_file_of_the_scenes_and_assets_is_installed():
    data = SETUPTOOLS["package-data"]
    for name, folder in package_folders().items():
        if not name.startswith("installation._"):
            continue
        left_out = [path.name for path in folder.iterdir()
                    if path.is_file() and path.suffix != ".py"
                    and not any(fnmatch.fnmatch(path.name, glob) for glob in data.get(name, []))]
        assert left_out == [], f"add them to [tool.setuptools.package-data] {name}"
