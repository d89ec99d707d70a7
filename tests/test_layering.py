"""The pipeline's import direction: generators, then solvers, then the rest of mplm_data."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Packages each layer may import from the project; anything else under mplm_data is higher.
ALLOWED = {
    "generators": ("mplm_data.generators",),
    "solvers": ("mplm_data.generators", "mplm_data.solvers"),
}


def _project_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "mplm_data"]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_nothing_higher(layer):
    violations = []
    for path in sorted((ROOT / layer).glob("*.py")):
        for line, name in _project_imports(path):
            if not name.startswith(ALLOWED[layer]):
                violations.append(f"{path.relative_to(ROOT)}:{line} imports {name}")

    assert violations == []


def _import_time_nodes(node: ast.AST):
    """Yield the nodes that run when the module is imported: everything outside function bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield child
        yield from _import_time_nodes(child)


@pytest.mark.parametrize("layer", ["generators", "solvers", "mplm_data/traces", "mplm_data/cli"])
def test_layer_never_imports_torch_at_import_time(layer):
    heavy = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _import_time_nodes(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            heavy += [f"{path.relative_to(ROOT)}:{node.lineno} imports {name}" for name in names
                      if name.split(".")[0] in ("torch", "transformers", "mplm_data.runtime")
                      or name.startswith("mplm_data.runtime")]

    assert heavy == []
