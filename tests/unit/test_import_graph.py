"""The package graph of src/infermeter has no cycles (issue 13; the layer order is in README.md, Layout).

What counts as a dependency: every `import` and `from ... import` in a module, at any depth — at module
level, inside functions, under `if TYPE_CHECKING:` — relative ones resolved. A lazy import inside a
function is still a dependency of the package: it is deferred, not absent, and the function fails the
day the other side moves. A type-only import is one too: the module's interface names the other's type.
`from pkg import name` depends on pkg.name where that is a module of its own, else on pkg. Not imports,
so not edges: entry points (plugins.py; each registry loads classes of its own package, and
infermeter.testing only where INFERMETER_PLUGIN_MODULES names it) and `python -m` child processes.

Nodes: each subpackage (infermeter.engines, infermeter.loadgen, ...) and each top-level module
(infermeter.config, infermeter.runner, ...) is one node; imports inside a node are not edges.
servers/common/ is a node of its own, apart from servers: it is the machinery every framework's folder
shares, so it must never import an adapter, the adapter interface or the registry (servers/<framework>/
folders collapse into servers). The root package `infermeter` (its __init__.py) is a node too.

One exception, in EXCEPTIONS below: the root's `load_results`, a call-time facade for users of
`infermeter.load_results(...)`. Python imports the root package before any module inside it, so the root
can only sit below everything (it defines __version__ and SCHEMA_VERSION, which results/ reads); the
facade's import runs when it is called, by which time every package is importable. Any other edge out
of the root, or a new exception, is a cycle like any other.

The same graph shows that no production module imports a test double (infermeter.testing), in any
import form: `from infermeter import testing` and relative ones included.

Run alone: `pytest -q tests/unit/test_import_graph.py`; a failure prints each cycle with the import
lines that make it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from test_layout import import_statements

SRC = Path(__file__).resolve().parents[2] / "src" / "infermeter"
OWN_NODE = ("servers", "common")  # a subpackage that is a node of its own, not collapsed into its parent
TEST_DOUBLES = "infermeter.testing"

# (importing module, imported module): why this edge is not a dependency of the importer's package.
EXCEPTIONS = {
    ("infermeter", "infermeter.results.frame"):
        "infermeter.load_results(), the public facade: imported when called, never at package import",
}

Edge = tuple[str, str]  # (node, node)
Site = tuple[str, int, str]  # (file, line, imported module)


def module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str, src: Path = SRC) -> bool:
    rel = Path(*name.split(".")[1:]) if "." in name else Path()
    return (src / rel).is_dir() or (src / rel).with_suffix(".py").is_file()


def imports(source: str, module: str, is_package: bool, src: Path = SRC) -> list[tuple[int, str]]:
    """(line, module) of every infermeter module that `source` (module `module`) imports, at any depth."""
    found: list[tuple[int, str]] = []
    for line, base, names in import_statements(source, module, is_package):
        if not names:
            found.append((line, base))
        for name in names:
            sub = f"{base}.{name}"
            found.append((line, sub if is_module(sub, src) else base))
    return [(line, m) for line, m in found if m == "infermeter" or m.startswith("infermeter.")]


def node_of(module: str) -> str:
    parts = module.split(".")
    if tuple(parts[1:3]) == OWN_NODE:
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def package_graph(src: Path = SRC) -> dict[Edge, list[Site]]:
    """Node -> node edges, each with the import lines that make it; EXCEPTIONS left out."""
    edges: dict[Edge, list[Site]] = defaultdict(list)
    for path in sorted(src.rglob("*.py")):
        module = module_name(path, src)
        for line, target in imports(path.read_text(), module, path.name == "__init__.py", src):
            a, b = node_of(module), node_of(target)
            site = (str(path.relative_to(src.parent)), line, target)
            if a != b and (module, target) not in EXCEPTIONS and site not in edges[(a, b)]:
                edges[(a, b)].append(site)
    return dict(edges)


def components(edges: dict[Edge, list[Site]]) -> list[set[str]]:
    """The strongly connected components with more than one node (Tarjan): each holds every cycle."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def cycles(edges: dict[Edge, list[Site]]) -> list[list[str]]:
    """Every elementary cycle, each once, as [a, b, ..., a] from its least node. Searched only inside the
    components above, so that the walk stays small (the whole graph has many paths, its cycles few)."""
    found: list[list[str]] = []
    for component in components(edges):
        graph = {v: sorted(b for a, b in edges if a == v and b in component) for v in component}

        def walk(start: str, path: list[str]) -> None:
            for w in graph[path[-1]]:
                if w == start:
                    found.append(path + [start])
                elif w > start and w not in path:
                    walk(start, path + [w])

        for v in sorted(component):
            walk(v, [v])
    return sorted(found)


def describe(found: list[list[str]], edges: dict[Edge, list[Site]]) -> str:
    lines = []
    for path in found:
        lines.append("cycle: " + " -> ".join(path))
        for a, b in zip(path, path[1:]):
            lines.append(f"  {a} -> {b}:")
            lines += [f"    {f}:{n} imports {m}" for f, n, m in edges[(a, b)]]
    return "\n".join(lines)


def test_the_package_graph_has_no_cycles():
    edges = package_graph()
    nodes = {n for e in edges for n in e}
    # The walk saw the packages it is about (a wrong SRC or a broken walk would find no cycle either).
    assert {"infermeter.cli", "infermeter.config", "infermeter.servers", "infermeter.servers.common", "infermeter.loadgen",
            "infermeter.validity", "infermeter.results", "infermeter.engines", "infermeter.workloads"} <= nodes
    found = cycles(edges)
    assert not found, "the package graph has cycles:\n" + describe(found, edges)


def test_no_production_module_imports_a_test_double():
    """infermeter.testing (FakeEngine, FakeTiny) is registered only where INFERMETER_PLUGIN_MODULES names it
    (tests/unit/test_plugins.py runs that); here, no other node may import it, in any import form."""
    edges = package_graph()
    assert (TEST_DOUBLES, "infermeter.engines") in edges  # the walk sees the package
    offenders = [f"{f}:{n} imports {m}" for (a, b), sites in edges.items() if b == TEST_DOUBLES for f, n, m in sites]
    assert not offenders, offenders


def test_every_exception_is_still_an_import_of_the_code():
    """An exception for an import that is gone would silently let that edge come back."""
    seen = {(module_name(p), m) for p in SRC.rglob("*.py")
            for _, m in imports(p.read_text(), module_name(p), p.name == "__init__.py")}
    assert set(EXCEPTIONS) <= seen


def test_the_walk_sees_lazy_relative_and_type_only_imports_and_every_cycle(tmp_path):
    """The checks above could not fail if the walk missed an import kind, merged servers/common away, or
    named one cycle of a tangle and hid the others."""
    src = tmp_path / "infermeter"
    for d in ("loadgen", "validity", "results", "servers/common", "servers/triton", "testing"):
        (src / d).mkdir(parents=True)
        (src / d / "__init__.py").write_text("")
    files = {
        "__init__.py": "",
        "config.py": "",
        "loadgen/endpoint.py": "def f():\n    from infermeter.validity import sanity\n",  # lazy
        "validity/sanity.py": ("from typing import TYPE_CHECKING\nfrom infermeter.results import stats\n"
                               "if TYPE_CHECKING:\n    from ..loadgen.endpoint import f\n"),  # type-only, relative
        "results/stats.py": "",
        "results/summary.py": "import infermeter.loadgen.endpoint\n",
        "servers/triton/adapter.py": "from ..common import process\nfrom infermeter import config\n",
        "servers/common/process.py": "import infermeter.servers.triton.adapter\n",
        "testing/engine.py": "",
        "results/store.py": "from infermeter import testing\n",
        "loadgen/settings.py": "from ..testing import engine\n",
    }
    for name, text in files.items():
        (src / name).write_text(text)
    edges = package_graph(src)
    assert set(edges) == {("infermeter.loadgen", "infermeter.validity"), ("infermeter.validity", "infermeter.loadgen"),
                          ("infermeter.validity", "infermeter.results"), ("infermeter.results", "infermeter.loadgen"),
                          ("infermeter.servers", "infermeter.servers.common"), ("infermeter.servers", "infermeter.config"),
                          ("infermeter.servers.common", "infermeter.servers"),
                          ("infermeter.results", TEST_DOUBLES), ("infermeter.loadgen", TEST_DOUBLES)}
    assert cycles(edges) == [["infermeter.loadgen", "infermeter.validity", "infermeter.loadgen"],
                             ["infermeter.loadgen", "infermeter.validity", "infermeter.results", "infermeter.loadgen"],
                             ["infermeter.servers", "infermeter.servers.common", "infermeter.servers"]]
    assert "infermeter/loadgen/endpoint.py:2 imports infermeter.validity.sanity" in describe(cycles(edges), edges)
