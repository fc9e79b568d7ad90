"""The layers point one way: pages -> data_layer's public names -> SQL.

Read from the source with `ast` (nothing is imported): no import cycle between modules, `data_layer`
never imports Streamlit or the pages, the pages and app.py use only public names of `data_layer`, and
nothing outside the import package (`data_layer/ingest/`) reaches into its private names.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module_name(path): path for path in [*ROOT.glob("data_layer/**/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]
}
ELSEWHERE = [*ROOT.glob("tests/*.py"), *ROOT.glob("bench/*.py")]


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(tree: ast.AST, *, module_level: bool):
    """(module, name or None) for each import; with `module_level`, those that run when the module loads
    (an import inside a function runs when it is called: the engines pick theirs that way)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if module_level and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, None
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    yield child.module, alias.name
            stack.append(child)


def _dependencies(path: Path) -> set[str]:
    """The project modules `path` needs loaded when it loads (`from package import submodule` names the
    submodule, not the package)."""
    found = set()
    for module, name in _imports(_tree(path), module_level=True):
        if name is not None and f"{module}.{name}" in MODULES:
            found.add(f"{module}.{name}")
        elif module in MODULES:
            found.add(module)
    return found - {_module_name(path)}


def test_no_import_cycle():
    graph = {name: _dependencies(path) for name, path in MODULES.items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            pytest.fail("import cycle: " + " -> ".join(path[path.index(name) :] + [name]))
        if name in done:
            return
        for dependency in sorted(graph[name]):
            visit(dependency, path + [name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


@pytest.mark.parametrize("name", sorted(name for name in MODULES if name.startswith("data_layer")))
def test_the_data_layer_never_imports_streamlit_or_the_pages(name):
    for module, _ in _imports(_tree(MODULES[name]), module_level=False):
        assert module.split(".")[0] not in ("streamlit", "pages", "app"), f"{name} imports {module}"


_SQL = re.compile(r"\bSELECT\b[\s\S]+\bFROM\b|\bINSERT\s+INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b")


def _private(module: str, name: str | None) -> bool:
    return any(part.startswith("_") for part in module.split(".")) or (name or "").startswith("_")


@pytest.mark.parametrize("name", sorted(name for name in MODULES if not name.startswith("data_layer")))
def test_pages_use_only_public_names_of_the_data_layer(name):
    tree = _tree(MODULES[name])
    aliases = {}
    for module, imported in _imports(tree, module_level=False):
        if module.split(".")[0] != "data_layer":
            continue
        assert not _private(module, imported), f"{name} imports {module}.{imported}"
        aliases[imported or module.split(".")[0]] = module
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            assert not node.attr.startswith("_"), f"{name} uses {node.value.id}.{node.attr}"
        # No SQL in the pages: they call the data layer.
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not _SQL.search(node.value), f"{name} holds SQL: {node.value[:80]!r}"


OUTSIDE_INGEST = [*ELSEWHERE, *(path for name, path in MODULES.items() if not name.startswith("data_layer.ingest"))]


@pytest.mark.parametrize("path", OUTSIDE_INGEST, ids=lambda path: str(path.relative_to(ROOT)))
def test_nothing_outside_the_import_package_uses_its_private_names(path):
    tree = _tree(path)
    packages = {}
    for module, imported in _imports(tree, module_level=False):
        if module.startswith("data_layer.ingest") or (module == "data_layer" and imported == "ingest"):
            assert not _private(module, imported), f"{path.name} imports {module}.{imported}"
            packages[imported or module] = module
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in packages:
            assert not node.attr.startswith("_"), f"{path.name} uses {node.value.id}.{node.attr}"
