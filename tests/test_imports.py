"""``ckt/`` has no import cycle: between modules (any import, even inside a function) nor between
its subpackages (``sim`` never imports ``report``, ``netlist`` never imports ``sim``...).

The graph is read from the source with ``ast``, so a lazy import inside a function counts: it
still ties the two modules together. Importing ``a.b.c`` also runs ``a/b/__init__``, so an import
adds an edge to each package above the target that is not above the importer as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ckt"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of ``ckt`` that ``name`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            targets = [module]
            # ``from pkg import mod`` imports the submodule pkg.mod when there is one.
            targets += [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in known]
        for target in targets:
            while target and target not in known:  # ``import ckt.sim.result.X``-style attribute paths
                target = target.rpartition(".")[0]
            if not target.startswith("ckt") or name.startswith(target + "."):
                continue  # outside ckt, or a package already imported before the importer
            found.add(target)
            parts = target.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if not (name == parent or name.startswith(parent + ".")):
                    found.add(parent)
    found.discard(name)
    return found


def module_graph() -> nx.DiGraph:
    """Module -> module it imports, over every module of ``ckt``."""
    modules = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        graph.add_edges_from((name, target) for target in _imports(name, path, set(modules)))
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def package_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """Subpackage (``ckt.sim``, ``ckt.report``...) -> subpackage it imports from."""
    layers = nx.DiGraph()
    for a, b in graph.edges:
        la, lb = _layer(a), _layer(b)
        if la != lb and lb != "ckt":
            layers.add_edge(la, lb, via=f"{a} -> {b}")
    return layers


def _describe(graph: nx.DiGraph, cycle: list[str]) -> str:
    steps = [graph.edges[a, b].get("via", f"{a} -> {b}") for a, b in zip(cycle, [*cycle[1:], cycle[0]])]
    return " -> ".join([*cycle, cycle[0]]) + "\n  " + "\n  ".join(steps)


def test_graph_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    graph = module_graph()
    assert graph.has_edge("ckt.sim.executor", "ckt.sim.scheduler")
    assert graph.has_edge("ckt.cli", "ckt.errors")
    # a function-level import still counts
    source = tmp_path / "ckt" / "a.py"
    source.parent.mkdir()
    source.write_text("def f():\n    from ckt.b import g\n    from . import c\n")
    found = _imports("ckt.a", source, {"ckt", "ckt.a", "ckt.b", "ckt.c"})
    assert found == {"ckt.b", "ckt.c"}


def test_no_module_import_cycle() -> None:
    graph = module_graph()
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, "import cycles in ckt/:\n" + "\n".join(_describe(graph, c) for c in cycles[:10])


def test_no_subpackage_import_cycle() -> None:
    layers = package_graph(module_graph())
    cycles = list(nx.simple_cycles(layers))
    assert not cycles, "subpackages import each other:\n" + "\n".join(_describe(layers, c) for c in cycles[:10])


def test_sim_does_not_import_report() -> None:
    layers = package_graph(module_graph())
    assert not layers.has_edge("ckt.sim", "ckt.report"), layers.edges["ckt.sim", "ckt.report"]["via"]
