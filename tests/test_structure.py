"""The package layering the README's layout table states: conversion -> nothing of the project,
tf_impl -> conversion, and neither imports reference, benchmarks or tests."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package -> top-level modules it must never import (anywhere in a module, functions included)
FORBIDDEN = {
    "conversion": {"tf_impl", "tensorflow", "keras", "reference", "benchmarks", "tests"},
    "tf_impl": {"reference", "benchmarks", "tests"},
}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_run_one_way(package):
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules
    wrong = {
        str(path.relative_to(ROOT)): sorted(_imported_roots(path) & FORBIDDEN[package])
        for path in modules
    }
    assert not {k: v for k, v in wrong.items() if v}


def test_conversion_and_cli_parser_load_without_tensorflow():
    """Reading model files needs no TensorFlow, and the CLI parses (and checks) its options
    before TensorFlow loads."""
    code = (
        "import sys, conversion.caffe_files, conversion.download, conversion.synthetic\n"
        "import tf_impl.dream.settings\n"
        "from tf_impl.cli import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
