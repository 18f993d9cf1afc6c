"""The plugin's import graph: no cycles between its modules, no import of the example.

Every import counts, also the ones inside functions (a lazy import still ties two
modules together) and relative ones (resolved against the importing module).
`from package import name` counts as an import of the submodule `package.name`
when that submodule exists, else of `package`. Importing `a.b.c` also runs the
`__init__` of `a.b` and `a`; those implicit edges are left out (a package's
`__init__` re-exporting its submodules is how a package is built), but a module
that explicitly imports a name from its own package's `__init__` while that
`__init__` imports it back is a cycle like any other. Imports under
`if TYPE_CHECKING:` never run, so they make no cycle (they are how a type hint
names a module that imports this one); they still may not name the example.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lakehouse_jobs.lib

LIB = "lakehouse_jobs.lib"
LIB_DIR = Path(lakehouse_jobs.lib.__file__).parent
EXAMPLE = ("lakehouse_jobs.defs", "lakehouse_jobs.definitions")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(LIB_DIR.rglob("*.py")):
        parts = list(path.relative_to(LIB_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join([LIB, *parts])] = path
    return modules


MODULES = _modules()


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _resolve(package: str, level: int, name: str | None) -> str:
    """The absolute module of `from <level dots><name> import ...` written in a module of `package`."""
    if not level:
        return name or ""
    base = package.split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _type_checking_only(tree: ast.Module) -> set[int]:
    """The ids of the nodes inside `if TYPE_CHECKING:` / `if typing.TYPE_CHECKING:` bodies."""
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            guarded |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
    return guarded


def _imports(module: str, *, type_checking: bool = True) -> list[tuple[str, int]]:
    """Every module `module` imports (absolute names), with the line of the import."""
    path = MODULES[module]
    package = module if _is_package(module) else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = set() if type_checking else _type_checking_only(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(package, node.level, node.module)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in MODULES else target, node.lineno))
    return found


def _graph() -> dict[str, dict[str, int]]:
    """module -> {imported lib module: line}: the imports that run."""
    graph: dict[str, dict[str, int]] = {}
    for module in MODULES:
        edges = graph.setdefault(module, {})
        for target, line in _imports(module, type_checking=False):
            if target in MODULES and target != module:
                edges.setdefault(target, line)
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_a_cycle(graph, sorted(component)) for component in components]


def _a_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself (breadth first)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node]):
            if target not in members:
                continue
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if target not in previous:
                previous[target] = node
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")


def _describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    steps = [f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:], strict=False)]
    return " -> ".join([*steps, cycle[-1]])


def test_the_walk_sees_every_kind_of_import():
    """Guards the walker itself: function-level, relative and `from package import module` imports."""
    graph = _graph()
    assert f"{LIB}.runtime.spark" in MODULES and f"{LIB}.jobs.cli" in MODULES
    assert f"{LIB}.jobs.result_states" in graph[f"{LIB}.jobs.cli"]  # module level
    assert f"{LIB}.jobs.repair" in graph[f"{LIB}.jobs.cli"]  # inside a function
    assert f"{LIB}.jobs.task_values" in graph[f"{LIB}.jobs"]  # `from lakehouse_jobs.lib.jobs import task_values`
    assert f"{LIB}.tags" in graph[f"{LIB}.jobs.cli"]  # `from lakehouse_jobs.lib import tags`
    assert _resolve(f"{LIB}.jobs.tasks", 1, "registry") == f"{LIB}.jobs.tasks.registry"  # from .registry import
    assert _resolve(f"{LIB}.jobs.tasks", 2, "spec") == f"{LIB}.jobs.spec"  # from ..spec import
    assert _resolve(f"{LIB}.jobs", 2, None) == LIB  # from .. import tags
    source = "import typing\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\nif typing.TYPE_CHECKING:\n    import b\nimport c\n"
    tree = ast.parse(source)
    kept = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) and id(n) not in _type_checking_only(tree) for a in n.names]
    assert kept == ["typing", "c"]
    assert _cycles({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}}) == [["a", "b", "c", "a"]]


def test_no_import_cycle_between_plugin_modules():
    graph = _graph()
    cycles = [_describe(graph, cycle) for cycle in _cycles(graph)]
    assert not cycles, "import cycles in lakehouse_jobs.lib:\n" + "\n".join(cycles)


def test_the_plugin_never_imports_the_example():
    offending = [
        f"{module} (line {line}) imports {target}"
        for module in MODULES
        for target, line in _imports(module)
        if any(target == name or target.startswith(name + ".") for name in EXAMPLE)
    ]
    assert not offending, "lakehouse_jobs.lib must not depend on the example lakehouse:\n" + "\n".join(offending)
