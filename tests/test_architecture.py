"""The architecture DESIGN.md promises ("Layers"), checked from the outside.

Two guards: no import cycle among the modules of ``src/zephyr``, with every
import counted (module-level, function-local and ``if TYPE_CHECKING:``); and a
bare ``import zephyr`` stays light: no optional extra, no deferred feature and
none of the heavier stdlib modules an app may never use.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pytest

from tests.conftest import write_tree

SRC_PACKAGE = Path(__file__).resolve().parents[1] / "src" / "zephyr"


# --- the import graph, built from the source with `ast` --------------------------------------


@dataclass(frozen=True)
class ImportSite:
    """One import statement: the file and line it is on, and when it runs."""

    path: Path
    line: int
    kind: str  # "module-level", "class body", "function-local" or "TYPE_CHECKING"


# importer -> imported -> the statements that make the edge
ImportGraph: TypeAlias = dict[str, dict[str, list[ImportSite]]]


def module_name(path: Path, root: Path) -> str:
    """The dotted name of ``path`` in the package at ``root`` (``__init__.py``: the package)."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_modules(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``, by dotted name."""
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _inner_kind(node: ast.AST, kind: str) -> str:
    """The kind of the imports found inside ``node``, given the kind of ``node`` itself."""
    if kind == "TYPE_CHECKING":
        return kind
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        return "function-local"
    if isinstance(node, ast.ClassDef) and kind == "module-level":
        return "class body"
    return kind


def iter_imports(
    nodes: Iterable[ast.AST], kind: str = "module-level"
) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement under ``nodes``, however deeply nested, with its kind."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, kind
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from iter_imports(node.body, "TYPE_CHECKING")
            yield from iter_imports(node.orelse, kind)
        else:
            yield from iter_imports(ast.iter_child_nodes(node), _inner_kind(node, kind))


def _known_prefix(name: str, modules: Collection[str]) -> str | None:
    """The longest dotted prefix of ``name`` that is a module of the package, if any."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_targets(
    node: ast.Import | ast.ImportFrom, importer: str, *, is_package: bool, modules: Collection[str]
) -> Iterator[str]:
    """The package's modules one import statement in ``importer`` names.

    ``import p.a.b`` names ``p.a.b``; ``from p.a import b`` names ``p.a.b`` when that is a
    module, else ``p.a``. Relative imports are resolved against ``importer``.
    """
    if isinstance(node, ast.Import):
        for alias in node.names:
            if (target := _known_prefix(alias.name, modules)) is not None:
                yield target
        return
    base = node.module or ""
    if node.level:
        package = importer if is_package else importer.rpartition(".")[0]
        anchor = package.rsplit(".", node.level - 1)[0]
        base = f"{anchor}.{node.module}" if node.module else anchor
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        target = submodule if submodule in modules else _known_prefix(base, modules)
        if target is not None:
            yield target


def import_graph(root: Path) -> ImportGraph:
    """Who imports whom inside the package at ``root``, every kind of import counted.

    Importing a submodule ``p.pkg.mod`` is an edge to ``p.pkg.mod`` only, not to ``p.pkg``:
    Python does run ``p/pkg/__init__.py`` first, but whether a package's ``__init__`` drags
    in too much is a separate question (the `import zephyr` test below answers it for the
    top level); counting it here would make every ``__init__`` that re-exports its own
    submodules look like a cycle.
    """
    modules = package_modules(root)
    graph: ImportGraph = {name: {} for name in modules}
    for importer, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, kind in iter_imports(tree.body):
            site = ImportSite(path, node.lineno, kind)
            is_package = path.name == "__init__.py"
            for target in import_targets(node, importer, is_package=is_package, modules=modules):
                if target == importer:
                    # `from . import name` in an `__init__` for a name it defines: no cycle.
                    continue
                sites = graph[importer].setdefault(target, [])
                if site not in sites:
                    sites.append(site)
    return graph


def strongly_connected_components(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit): every component, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> tuple[str, Iterator[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        return node, iter(graph.get(node, ()))

    for start in graph:
        if start in index:
            continue
        work = [visit(start)]
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    work.append(visit(successor))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while not component or component[-1] != node:
                        component.append(stack.pop())
                        on_stack.discard(component[-1])
                    components.append(sorted(component))
    return components


def import_cycles(graph: ImportGraph) -> list[list[str]]:
    """The components that hold a cycle (self-imports are never edges, so: more than one)."""
    return sorted(c for c in strongly_connected_components(graph) if len(c) > 1)


def shortest_loop(graph: ImportGraph, component: Collection[str]) -> list[str]:
    """A shortest import loop inside ``component``, first module repeated at the end."""
    best: list[str] = []
    for start in sorted(component):
        came_from: dict[str, str] = {}
        queue = deque([start])
        while queue and start not in came_from:
            node = queue.popleft()
            for successor in sorted(graph[node]):
                if successor in component and successor not in came_from:
                    came_from[successor] = node
                    queue.append(successor)
        loop = [start]
        while len(loop) == 1 or loop[-1] != start:
            loop.append(came_from[loop[-1]])
        if not best or len(loop) < len(best):
            best = loop[::-1]
    return best


def describe_cycles(graph: ImportGraph, cycles: list[list[str]]) -> str:
    """A report a developer can act on: each cycle, a shortest loop, every edge with file:line."""
    lines = [f"{len(cycles)} import cycle(s); cut imports until none is left:"]
    for number, component in enumerate(cycles, 1):
        members = set(component)
        lines += [
            "",
            f"cycle {number}: {len(component)} modules: {', '.join(component)}",
            f"  a shortest loop: {' -> '.join(shortest_loop(graph, members))}",
            "  its edges:",
        ]
        for importer in component:
            for target, sites in sorted(graph[importer].items()):
                if target in members:
                    where = ", ".join(
                        f"{os.path.relpath(s.path)}:{s.line} ({s.kind})" for s in sites
                    )
                    lines.append(f"    {importer} -> {target}: {where}")
    return "\n".join(lines)


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph(SRC_PACKAGE)
    if cycles := import_cycles(graph):
        pytest.fail(describe_cycles(graph, cycles), pytrace=False)


ACYCLIC_TREE = {
    # Importing its own submodule: an edge pkg -> pkg.a only, never pkg.a -> pkg back.
    "__init__.py": "from .a import f\n",
    "a.py": "import pkg.b\n\n\ndef f():\n    from pkg.sub import d\n",
    "b.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from . import c\n",
    "c.py": "import os\n\nVALUE = 1\n",
    "sub/__init__.py": "",
    "sub/d.py": "from .. import c\nfrom ..b import TYPE_CHECKING\n",
}


def test_graph_resolves_every_kind_of_import(tmp_path: Path) -> None:
    graph = import_graph(write_tree(tmp_path / "pkg", ACYCLIC_TREE))
    edges = {importer: set(targets) for importer, targets in graph.items()}
    assert edges == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.b", "pkg.sub.d"},
        "pkg.b": {"pkg.c"},
        "pkg.c": set(),
        "pkg.sub": set(),
        "pkg.sub.d": {"pkg.b", "pkg.c"},
    }
    assert import_cycles(graph) == []


def test_cycle_through_function_local_and_type_checking_imports_is_found(tmp_path: Path) -> None:
    # c closes the loop a -> b (TYPE_CHECKING) -> c -> a with an import inside a method.
    cyclic = {**ACYCLIC_TREE, "c.py": "class C:\n    def m(self):\n        from .a import f\n"}
    graph = import_graph(write_tree(tmp_path / "pkg", cyclic))
    cycles = import_cycles(graph)
    assert cycles == [["pkg.a", "pkg.b", "pkg.c", "pkg.sub.d"]]
    report = describe_cycles(graph, cycles)
    assert f"pkg.b -> pkg.c: {os.path.relpath(tmp_path / 'pkg' / 'b.py')}:4 (TYPE_CHECKING)" in (
        report
    )
    assert f"pkg.c -> pkg.a: {os.path.relpath(tmp_path / 'pkg' / 'c.py')}:3 (function-local)" in (
        report
    )
    assert "a shortest loop: pkg.a -> pkg.b -> pkg.c -> pkg.a" in report


# --- `import zephyr` stays light ------------------------------------------------------------

# Run in a fresh interpreter: record what asyncio and msgspec load (every app has them), then
# what `import zephyr` adds. A meta path finder that finds nothing is asked about each module
# the first time anything looks for it; it records the `__name__` of every module on the call
# stack at that moment, innermost first (the import system's own frames left out). The first
# is the importing module; the chain also catches what an import statement alone would miss,
# such as `importlib.import_module` or a package's lazy `__getattr__`.
PROBE = """
import asyncio, msgspec, sys
before = set(sys.modules)
importers = {}

class Recorder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name in importers:
            return None
        chain, frame = [], sys._getframe(1)
        while frame is not None:
            module = frame.f_globals.get("__name__", "?")
            if not module.startswith("importlib._bootstrap") and module not in chain[-1:]:
                chain.append(module)
            frame = frame.f_back
        importers[name] = chain

sys.meta_path.insert(0, Recorder)
import zephyr
sys.meta_path.remove(Recorder)
new = sorted(set(sys.modules) - before)
import json
print(json.dumps({"new": new, "importers": {name: importers.get(name, []) for name in new}}))
"""

FORBIDDEN = [
    # Deferred features of Zephyr itself.
    "zephyr.security",
    "zephyr.cors",
    "zephyr.openapi",
    "zephyr.dev",
    "zephyr.server",
    "zephyr.testing",
    "zephyr.templating",
    "zephyr.components",
    "zephyr.flash_messages",
    "zephyr._template_loader",
    "zephyr._template_blocks",
    "zephyr._template_context",
    "zephyr._template_errors",
    # Heavier stdlib modules. asyncio itself already loads ssl, subprocess and
    # concurrent.futures, and msgspec loads uuid and decimal, so for those five the check is
    # that zephyr adds nothing of them (e.g. a submodule the baseline did not need) rather
    # than that they stay out of the process.
    "email",
    "uuid",
    "decimal",
    "tomllib",
    "ssl",
    "subprocess",
    "http.cookies",
    "concurrent.futures",
    # Optional extras, and dependencies an app may not use.
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "asyncpg",
    "redis",
    "pydantic",
    "httpx",
    "argon2",
    "jwt",
    "opentelemetry",
    "granian",
    "uvicorn",
    "click",
    "jinja2",
    "markupsafe",
    "itsdangerous",
    "python_multipart",
    "multipart",
]


@pytest.fixture(scope="module")
def zephyr_import() -> dict[str, Any]:
    """What a bare ``import zephyr`` loads, and who imported each module (one subprocess)."""
    # The environment (PYTHONPATH included) is inherited unchanged.
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    probe: dict[str, Any] = json.loads(result.stdout)
    return probe


def _is_in(module: str, name: str) -> bool:
    return module == name or module.startswith(f"{name}.")


def _pulled_in_by(module: str, name: str, importers: Mapping[str, list[str]]) -> list[str]:
    """``module`` and its importers, up to the first zephyr module outside ``name``."""
    chain = [module]
    for importer in importers.get(module, []):
        chain.append(importer)
        if _is_in(importer, "zephyr") and not _is_in(importer, name):
            break
    return chain


@pytest.mark.parametrize("name", FORBIDDEN)
def test_import_zephyr_does_not_load(name: str, zephyr_import: dict[str, Any]) -> None:
    loaded = [module for module in zephyr_import["new"] if _is_in(module, name)]
    culprits: dict[str, list[str]] = {}
    for module in loaded:
        chain = _pulled_in_by(module, name, zephyr_import["importers"])
        culprits.setdefault(chain[-1], chain)
    pulled = "; ".join(
        f"{culprit} pulled it in ({' <- '.join(chain)})" for culprit, chain in culprits.items()
    )
    assert not loaded, f"`import zephyr` loads {name!r} ({len(loaded)} modules): {pulled}"
