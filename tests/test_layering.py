"""The import structure: no cycles between our modules, Whoosh behind one module, and the
heavy libraries (scipy, scikit-learn, Whoosh) loaded only by the questions that need them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "evalsearch"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: its body, and the bodies of top-level
    ``if``/``try``/``with`` blocks, except ``if TYPE_CHECKING:``; not functions or classes."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, ast.Import | ast.ImportFrom):
                found.append(statement)
            elif isinstance(statement, ast.If):
                if not _is_type_checking(statement.test):
                    visit(statement.body)
                visit(statement.orelse)
            elif isinstance(statement, ast.Try):
                visit(statement.body)
                for handler in statement.handlers:
                    visit(handler.body)
                visit(statement.orelse)
                visit(statement.finalbody)
            elif isinstance(statement, ast.With):
                visit(statement.body)

    visit(tree.body)
    return found


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The evalsearch modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    else:
        if node.level:
            package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{node.module}" if node.module else package
        else:
            base = node.module or ""
        submodules = {f"{base}.{alias.name}" for alias in node.names} & set(MODULES)
        # `from evalsearch import engine` loads the submodule; `from x import name` loads x.
        names = submodules or {base}
        if len(submodules) < len(node.names) and base != "evalsearch":
            names.add(base)
    return {name for name in names if name in MODULES}


def _with_packages(module: str, target: str) -> set[str]:
    """``target`` and the packages Python initialises before it: those that ``module`` is
    not itself inside of (its own packages are already being initialised)."""
    loaded = {target}
    package = target.rpartition(".")[0]
    while package and package != "evalsearch":
        if not module.startswith(package + ".") and module != package:
            loaded.add(package)
        package = package.rpartition(".")[0]
    return loaded


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        graph[module] = {
            loaded
            for node in _module_level_imports(tree)
            for target in _targets(module, node)
            for loaded in _with_packages(module, target)
            if loaded != module
        }
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_the_package() -> None:
    graph = _graph()
    assert {
        "evalsearch.handle",
        "evalsearch.engine",
        "evalsearch.store",
        "evalsearch.parse",
    } <= set(graph)
    # A sample of known edges, so a broken parser of imports cannot pass the tests below.
    assert "evalsearch.store" in graph["evalsearch.handle"]
    assert "evalsearch.query" in graph["evalsearch.engine"]
    assert {"evalsearch.engine", "evalsearch.store"} <= graph["evalsearch.build"]
    # Importing a module of a subpackage from outside initialises the subpackage first.
    assert _with_packages("evalsearch.build", "evalsearch.parse.form") == {
        "evalsearch.parse.form",
        "evalsearch.parse",
    }
    assert _with_packages("evalsearch.parse.sheet", "evalsearch.parse.form") == {
        "evalsearch.parse.form"
    }
    # TYPE_CHECKING imports and imports inside functions are not module-level.
    assert "evalsearch.engine" not in graph["evalsearch.handle"]
    assert "evalsearch.handle" not in graph["evalsearch"]


def test_there_are_no_import_cycles() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle or ())


def test_only_the_engine_imports_whoosh() -> None:
    importers = set()
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        for node in ast.walk(tree):  # anywhere, functions included
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            if any(name == "whoosh" or name.startswith("whoosh.") for name in names):
                importers.add(module)
    assert importers == {"evalsearch.engine"}


def _loaded_after(code: str) -> set[str]:
    """Top-level packages in sys.modules after running ``code`` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("code", "absent"),
    [
        # The build's worker processes import the parser: no numerical libraries there.
        ("import evalsearch.parse", {"scipy", "sklearn", "whoosh"}),
        ("import evalsearch.search", {"scipy", "sklearn"}),
        ("import evalsearch.handle", {"scipy", "sklearn", "whoosh"}),
        ("import evalsearch", {"scipy", "sklearn", "whoosh", "sudachipy"}),
    ],
)
def test_importing_does_not_load_heavy_libraries(code: str, absent: set[str]) -> None:
    assert not _loaded_after(code) & absent


def test_a_handle_loads_only_what_its_question_needs(sample_index) -> None:
    path = json.dumps(str(sample_index.path))
    shown = _loaded_after(f"import evalsearch\nevalsearch.open({path}).record('12276')")
    assert not shown & {"whoosh", "scipy", "sklearn"}
    searched = _loaded_after(f"import evalsearch\nevalsearch.open({path}).search('交流')")
    assert "whoosh" in searched
    assert not searched & {"scipy", "sklearn"}
    similar = _loaded_after(f"import evalsearch\nevalsearch.open({path}).similar('12276')")
    assert "scipy" in similar
    assert not similar & {"whoosh", "sklearn"}


def test_every_data_file_is_shipped_with_the_package() -> None:
    # Files read with importlib.resources must be package data, or an installed (not
    # editable) evalsearch cannot find them.
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["evalsearch"]
    for folder in ("data", "templates"):
        for path in sorted((PACKAGE / folder).rglob("*")):
            if path.is_file():
                name = path.relative_to(PACKAGE).as_posix()
                assert any(fnmatch(name, pattern) for pattern in patterns), name
