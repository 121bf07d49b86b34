"""Graph views of a flat netlist: bipartite device–net and pin-level device–pin–net, each as a
networkx graph and as a PyTorch Geometric ``Data``, each with an exact inverse back to the IR.

The networkx views import no torch; the PyG names (``to_bipartite_pyg``, ``from_bipartite_pyg``,
``to_pins_pyg``, ``from_pins_pyg``, ``save_graph``, ``load_graph``) load torch on first use, so
``ckt graph --json`` stays quick.
"""

from __future__ import annotations

import importlib
from typing import Any

from ckt.graph.bipartite import from_bipartite_nx, to_bipartite_nx
from ckt.graph.codec import graph_from_json, graph_to_json
from ckt.graph.features import BIPARTITE_NODE_COLUMNS, EDGE_TYPES, PIN_NODE_COLUMNS
from ckt.graph.pins import NODE_TYPES, PYG_EDGE_TYPES, RELATIONS, from_pins_nx, to_pins_nx

_PYG = ("to_bipartite_pyg", "from_bipartite_pyg", "to_pins_pyg", "from_pins_pyg", "save_graph", "load_graph")

__all__ = [
    "BIPARTITE_NODE_COLUMNS",
    "EDGE_TYPES",
    "NODE_TYPES",
    "PIN_NODE_COLUMNS",
    "PYG_EDGE_TYPES",
    "RELATIONS",
    "from_bipartite_nx",
    "from_pins_nx",
    "graph_from_json",
    "graph_to_json",
    "to_bipartite_nx",
    "to_pins_nx",
    *_PYG,
]


def __getattr__(name: str) -> Any:
    if name in _PYG:
        return getattr(importlib.import_module("ckt.graph.to_pyg"), name)
    raise AttributeError(f"module 'ckt.graph' has no attribute {name!r}")
