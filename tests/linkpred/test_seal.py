"""DRNL labels and enclosing subgraphs on hand-made graphs."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

from ckt.graph.features import PIN_NODE_COLUMNS
from ckt.linkpred.samples import Pair
from ckt.linkpred.seal import drnl, enclosing_subgraph, sort_k


def _graph(edges: list[tuple[int, int]], n: int) -> Data:
    src = [a for a, b in edges] + [b for a, b in edges]
    dst = [b for a, b in edges] + [a for a, b in edges]
    return Data(x=torch.zeros(n, len(PIN_NODE_COLUMNS)), edge_index=torch.tensor([src, dst]),
                edge_type=torch.zeros(len(src), dtype=torch.long), node_type=torch.ones(n, dtype=torch.long),
                num_nodes=n)


def test_drnl_formula_matches_the_seal_table():
    inf = np.inf
    a = np.array([0, inf, 1, 1, 2, 1, 2, 3, inf])
    b = np.array([inf, 0, 1, 2, 2, 3, 3, 1, 2])
    assert drnl(a, b, cap=40).tolist() == [1, 1, 2, 3, 5, 4, 7, 4, 0]
    assert drnl(np.array([5.0]), np.array([5.0]), cap=10).tolist() == [10]  # 1+5+5*4=26, capped


def test_enclosing_subgraph_labels_by_hand():
    # 0 = pin, 1 = net; 0-2-3-1 is the only path; 4 hangs off 2; 5 is 3 hops from the pin only.
    g = _graph([(0, 2), (2, 3), (3, 1), (2, 4), (4, 5)], 7)  # node 6 is far from everything
    enc = enclosing_subgraph(Pair(g, 0, g, 1, 1.0), hops=2, cap=40)
    nodes = enc.parts[0][1].tolist()
    labels = dict(zip(nodes, enc.labels.tolist()))
    assert sorted(nodes) == [0, 1, 2, 3, 4]  # 5 is 3 hops from the pin and 4 from the net; 6 unreachable
    # distances (to pin with the net removed, to net with the pin removed): 2 (1, 2), 3 (2, 1), 4 (2, 3)
    assert labels == {0: 1, 1: 1, 2: 3, 3: 3, 4: 7}
    assert enc.edge_index.shape[1] == 8  # the 4 undirected edges among the kept nodes


def test_cross_graph_pair_is_two_components_with_only_the_ends_labelled():
    a, b = _graph([(0, 1), (1, 2)], 3), _graph([(0, 1)], 2)
    enc = enclosing_subgraph(Pair(a, 0, b, 1, 0.0), hops=2, cap=40)
    assert enc.num_nodes == 5 and enc.labels.tolist() == [1, 0, 0, 0, 1]
    assert int(enc.edge_index.max()) == 4 and enc.edge_index.shape[1] == 6


def test_sort_k_is_the_60th_percentile_at_least_ten():
    assert sort_k([5, 6, 7]) == 10 and sort_k(list(range(1, 101))) == 60 and sort_k([]) == 10
