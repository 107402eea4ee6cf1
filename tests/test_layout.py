"""The house: one installed package, every folder in it, imports flowing one way."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import ROOT

# The card's folders at the repository's top level and what they install as.
FOLDERS = {"newscite": "newscite", "index": "newscite.index", "rag": "newscite.rag",
           "ui": "newscite.ui", "eval": "newscite.eval"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package as pip builds and installs it (not the editable links), built from a copy
    of the sources so that no build/ folder is left in the checkout."""
    source, target = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("site")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-compile", "--target", str(target),
                    str(source)], check=True, capture_output=True)
    return target


def test_every_package_folder_is_installed_under_one_name(installed):
    tops = {p.name for p in installed.iterdir() if (p / "__init__.py").exists()}
    assert tops == {"newscite"}  # exactly one top-level import package
    for folder, package in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            inner = init.parent.relative_to(ROOT / folder)
            dotted = ".".join([package, *inner.parts])
            assert (installed.joinpath(*dotted.split(".")) / "__init__.py").exists(), dotted
    data = installed / "newscite" / "eval" / "questions" / "seed.jsonl"
    assert data.exists()


def test_imports_flow_one_way(installed):
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert len(config["contracts"]) >= 2
    lint = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command;"
                           " lint_imports_command()", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=installed, env={"PYTHONPATH": str(installed), "PATH": ""},
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 broken" in lint.stdout
