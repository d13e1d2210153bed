"""The layering docs/architecture.md states, enforced: every module imports only its own layer
or lower ones, the project's imports have no cycles, and a project module is imported inside a
function only where the CLI loads TensorFlow lazily.

Layers, lowest first: conversion < tf_impl (images < host < net < models < dream < video <
atlas < cluster < cli) < reference < benchmarks < tests. Imports are read from the source (ast),
every import statement of every module, so nothing has to be imported to check them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("conversion", "tf_impl", "reference", "benchmarks", "tests")
TF_IMPL = ("images", "host", "net", "models", "dream", "video", "atlas", "cluster", "cli")
LAYERS = ("conversion", *(f"tf_impl.{p}" for p in TF_IMPL), "reference", "benchmarks", "tests")
# Where a function may import a project module: the CLI, which loads TensorFlow only after
# its arguments are checked. (The optional PyTorch peer runs in a worker process of its own.)
LAZY_PACKAGES = ("tf_impl.cli",)
# Third-party roots a layer must never import (anywhere, functions included).
FORBIDDEN = {"conversion": {"tensorflow", "keras"}, "tf_impl.images": {"tensorflow", "keras"}}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> int:
    """Index in LAYERS; tf_impl's own __init__ sits with its lowest subpackage."""
    parts = module.split(".")
    if parts[0] == "tf_impl":
        return LAYERS.index(f"tf_impl.{parts[1]}") if len(parts) > 1 else 1
    return LAYERS.index(parts[0])


MODULES = {
    _module_name(path): path for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))
}


def _resolve(name: str) -> str | None:
    """The project module an import of ``name`` loads (a name imported from a package may be
    a module of it, else the package itself); None outside the project."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, str, bool]]:
    """[(imported root or project module, kind, inside a function)] of ``module``'s source;
    kind is 'project' or 'external'."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [f"{child.module}.{alias.name}" for alias in child.names]
            for name in names:
                target = _resolve(name)
                if target is None:
                    found.append((name.split(".")[0], "external", in_function))
                elif target != module:
                    found.append((target, "project", in_function))
            visit(child, inner)

    visit(tree, False)
    return found


def _graph(imports: dict[str, list[tuple[str, str, bool]]]) -> dict[str, set[str]]:
    return {m: {t for t, kind, _ in found if kind == "project"} for m, found in imports.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import of a higher layer by a lower one."""
    return sorted(
        f"{m} ({LAYERS[_layer(m)]}) imports {t} ({LAYERS[_layer(t)]})"
        for m, targets in graph.items()
        for t in targets
        if _layer(t) > _layer(m)
    )


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Each cycle a depth-first walk of the import graph closes."""
    cycles, state = [], {}

    def walk(module: str, stack: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                walk(target, [*stack, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    return cycles


def lazy_imports(imports: dict[str, list[tuple[str, str, bool]]]) -> list[str]:
    """Each project module imported inside a function where that is not allowed."""
    return sorted(
        f"{m} imports {t} inside a function"
        for m, found in imports.items()
        for t, kind, in_function in found
        if kind == "project" and in_function and not m.startswith(LAZY_PACKAGES)
    )


IMPORTS = {m: _imports(m) for m in MODULES}
GRAPH = _graph(IMPORTS)


def test_every_module_has_a_layer():
    assert len(MODULES) > 100
    for module in MODULES:
        _layer(module)  # raises for a folder or subpackage the order does not name


def test_imports_run_from_higher_layers_to_lower_ones():
    assert not upward_imports(GRAPH)


def test_no_import_cycles():
    assert not import_cycles(GRAPH)


def test_project_modules_are_imported_at_module_level():
    assert not lazy_imports(IMPORTS)


def test_the_checks_can_fail():
    """Each rule sees a wrong import: a lower layer importing a higher one, a cycle, and a
    project module imported inside a function outside the CLI."""
    assert upward_imports({"tf_impl.net.network": {"tf_impl.dream.step"}})
    assert upward_imports({"reference.report": {"benchmarks.report"}})
    assert import_cycles({"tf_impl.net.a": {"tf_impl.net.b"}, "tf_impl.net.b": {"tf_impl.net.a"}})
    lazy = [("tf_impl.dream.step", "project", True)]
    assert lazy_imports({"benchmarks.suite": lazy})
    assert not lazy_imports({"tf_impl.cli.dream_commands": lazy})


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_tensorflow_free_layers(layer):
    wrong = sorted(
        f"{m} imports {root}"
        for m, found in IMPORTS.items()
        if LAYERS[_layer(m)] == layer
        for root, kind, _ in found
        if kind == "external" and root in FORBIDDEN[layer]
    )
    assert not wrong


def test_conversion_and_cli_parser_load_without_tensorflow():
    """Reading model files needs no TensorFlow, and the CLI parses (and checks) its options
    before TensorFlow loads."""
    code = (
        "import sys, conversion.caffe_files, conversion.download, conversion.synthetic\n"
        "import conversion.onnx_export, conversion.model_files, conversion.output_checks\n"
        "import tf_impl.dream.settings, tf_impl.images.files\n"
        "from tf_impl.cli import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
