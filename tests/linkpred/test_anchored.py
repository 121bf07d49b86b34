"""The pin-anchored GNN: distance labels by hand, one anchored graph per query, scores that depend
on the anchor; the trainer's query batches and balanced weights."""

from __future__ import annotations

import torch
from torch_geometric.data import Data

from ckt.graph.features import PIN_NODE_COLUMNS
from ckt.linkpred.anchored import AnchoredGNN, anchor
from ckt.linkpred.samples import Pair, balanced_pairs, hard_queries, positive_groups
from ckt.linkpred.train import _batches, _pair_weights
from tests.linkpred.circuits import tiny_circuits


def _chain(n: int) -> Data:
    src = list(range(n - 1)) + list(range(1, n))
    dst = list(range(1, n)) + list(range(n - 1))
    return Data(x=torch.zeros(n, len(PIN_NODE_COLUMNS)), edge_index=torch.tensor([src, dst]),
                edge_type=torch.ones(len(src), dtype=torch.long), node_type=torch.ones(n, dtype=torch.long),
                num_nodes=n)


def test_distances_from_the_anchor_are_capped_and_unanchored_is_all_unreachable():
    g = _chain(6)
    assert anchor(g, 2, cap=2).distance.tolist() == [2, 1, 0, 1, 2, 3]
    assert anchor(g, None, cap=2).distance.tolist() == [3] * 6


def test_pairs_of_one_query_share_one_anchored_graph_and_cross_graph_nets_are_unanchored():
    g, h = _chain(5), _chain(4)
    model = AnchoredGNN(hidden=8, layers=2, max_distance=4)
    items = model.prepare([Pair(g, 0, g, 3, 1.0), Pair(g, 0, g, 4, 0.0), Pair(g, 1, g, 4, 0.0), Pair(g, 0, h, 2, 0.0)])
    assert items[0].pin_side is items[1].pin_side is items[0].net_side is items[3].pin_side
    assert items[2].pin_side is not items[0].pin_side
    assert items[3].net_side.graph is h and items[3].net_side.distance.tolist() == [5] * 4


def test_a_nets_score_depends_on_which_pin_anchors_the_pass():
    torch.manual_seed(0)
    g = _chain(7)
    model = AnchoredGNN(hidden=8, layers=3, max_distance=6).eval()
    with torch.no_grad():
        a, b = model(model.prepare([Pair(g, 0, g, 2, 0.0), Pair(g, 6, g, 2, 0.0)]))
        again = model(model.prepare([Pair(g, 0, g, 2, 0.0)]))
    assert float(a) != float(b)  # identical features and net: only the anchor's distance differs
    assert torch.allclose(again, a.reshape(1))  # batch composition does not change a score


def test_every_negative_and_weights_that_balance_each_query():
    circuits = tiny_circuits()
    queries = hard_queries(circuits.side("train"), 2, seed=0)
    pairs = balanced_pairs(queries, seed=0, negatives=None)
    assert len(pairs) == sum(len(q.nets) for q in queries)
    groups = positive_groups(pairs)
    assert len(groups) == len(queries) and all(pairs[g[0]].label == 1.0 for g in groups)
    weights = _pair_weights(pairs)
    for g in groups:
        negatives = [i for i in g if pairs[i].label == 0.0]
        assert abs(float(weights[negatives].sum()) - 1.0) < 1e-6 and float(weights[g[0]]) == 1.0
    one = balanced_pairs(queries, seed=0, negatives=1)
    assert torch.equal(_pair_weights(one), torch.ones(len(one)))


def test_batches_keep_queries_whole_in_the_given_order():
    groups = [range(0, 3), range(3, 5), range(5, 9), range(9, 10)]
    batches = _batches(groups, [2, 0, 3, 1], size=4)
    assert batches == [[5, 6, 7, 8], [0, 1, 2, 9], [3, 4]]
    assert sorted(i for b in batches for i in b) == list(range(10))


def test_name_dropout_hides_only_name_columns_and_only_in_training():
    from ckt.linkpred.anchored import NAME_COLUMNS

    torch.manual_seed(1)
    g = _chain(5)
    g.x = torch.rand(5, len(PIN_NODE_COLUMNS))
    blind = g.clone()
    blind.x = g.x.clone()
    blind.x[:, list(NAME_COLUMNS)] = 0.0
    before = g.x.clone()
    model = AnchoredGNN(hidden=8, layers=2, max_distance=4, name_dropout=1.0)
    model.set_input_normalisation(g.x)
    with torch.no_grad():
        model.eval()
        seen, hidden_names = (float(model(model.prepare([Pair(x, 0, x, 3, 0.0)]))) for x in (g, blind))
        model.train()
        dropped = float(model(model.prepare([Pair(g, 0, g, 3, 0.0)])))
    assert seen != hidden_names and abs(dropped - hidden_names) < 1e-6
    assert torch.equal(g.x, before)  # the graph itself is never edited
