"""Task data: the queried edge is gone from the graph the model sees, negatives come from the same
circuit, and the ACLP protocol holds its evaluation edges out of the observed graph."""

from __future__ import annotations

import torch

from ckt.linkpred.samples import (
    aclp_split,
    balanced_pairs,
    completion_pairs,
    hard_queries,
    isolated_positives,
    net_nodes,
    pin_nets,
    remove_pin_edge,
)
from tests.linkpred.circuits import graphs


def _linked(graph, pin: int, net: int) -> bool:
    ei = graph.edge_index
    return bool((((ei[0] == pin) & (ei[1] == net)) | ((ei[0] == net) & (ei[1] == pin))).any())


def test_remove_pin_edge_drops_both_directions_and_nothing_else():
    g = graphs(1)[0]
    links = pin_nets(g)
    pin = sorted(links)[3]
    out = remove_pin_edge(g, pin)
    assert _linked(g, pin, links[pin]) and not _linked(out, pin, links[pin])
    assert out.edge_index.shape[1] == g.edge_index.shape[1] - 2
    assert pin not in pin_nets(out) and {p: n for p, n in links.items() if p != pin} == pin_nets(out)
    assert bool(((out.edge_index[0] == pin) | (out.edge_index[1] == pin)).any())  # its device edge stays
    assert out.x is g.x and g.edge_index.shape[1] == 4 * len(links)  # shallow copy; the input is untouched


def test_queries_hide_their_edge_and_pairs_share_the_graph():
    gs = graphs(4)
    queries = hard_queries(gs, 3, seed=0)
    assert len(queries) == 12
    for q in queries:
        original = gs[q.circuit]
        assert pin_nets(original)[q.pin] == q.true_net
        assert not _linked(q.graph, q.pin, q.true_net)
        assert q.pin not in pin_nets(q.graph)  # no pin-net edge of the queried pin at all: nothing leaks
        assert list(q.nets) == net_nodes(original)
        assert torch.equal(q.graph.x, original.x)  # node features do not change with the edge
    pairs = balanced_pairs(queries, seed=0)
    assert [p.label for p in pairs] == [1.0, 0.0] * len(queries)
    for q, pos, neg in zip(queries, pairs[::2], pairs[1::2]):
        assert pos.net == q.true_net and neg.net != q.true_net and neg.net in q.nets  # same circuit
        assert pos.pin_graph is neg.pin_graph is neg.net_graph is q.graph and pos.pin == neg.pin == q.pin
    assert balanced_pairs(queries, seed=0)[1].net == pairs[1].net  # seeded
    assert [p.net for p in completion_pairs(queries[0])] == list(queries[0].nets)


def test_pins_are_a_seeded_subsample_and_none_means_every_pin():
    gs = graphs(2)
    assert [q.pin for q in hard_queries(gs, 2, 5)] == [q.pin for q in hard_queries(gs, 2, 5)]
    every = hard_queries(gs, None, 0)
    assert len(every) == sum(len(pin_nets(g)) for g in gs)


def test_a_one_pin_net_left_isolated_is_counted():
    g = graphs(1)[0]  # inp, inn and bias are single-pin nets (gates only; ota(0) has no bias resistor)
    queries = hard_queries([g], None, 0)
    assert isolated_positives(queries) == 3


def test_aclp_split_holds_evaluation_edges_out():
    gs = graphs(6)
    split = aclp_split(gs, seed=1)
    links = {(id(g), p, n) for g in gs for p, n in pin_nets(g).items()}
    assert len(split.train) + len(split.val) + len(split.test) == 2 * len(links)
    for side in (split.train, split.val, split.test):
        assert [p.label for p in side] == [1.0, 0.0] * (len(side) // 2)
        for pair in side:
            assert not _linked(pair.pin_graph, pair.pin, pair.net) or not pair.same_graph
            if pair.label == 0.0:
                assert pair.pin not in pin_nets(pair.pin_graph) or pin_nets(pair.pin_graph)[pair.pin] != pair.net \
                    or not pair.same_graph
    test_pins = {(p.pin, id(p.pin_graph)) for p in split.test if p.label == 1.0}
    assert all(pin not in pin_nets(g) for pin, gid in test_pins for g in [next(p.pin_graph for p in split.test
                                                                             if id(p.pin_graph) == gid)])
    cross = sum(1 for p in split.test if p.label == 0.0 and not p.same_graph)
    assert cross > len(split.test) // 4  # uniform negatives mostly join two circuits


def test_aclp_edge_split_depends_on_the_seed_not_the_caps():
    """Evaluation re-draws the split with the training seed: its test edges must be ones training held out."""
    gs = graphs(6)

    def links(split, side):  # (circuit, pin, net) of a side's positives; observed graphs share x with gs
        return {(next(c for c, g in enumerate(gs) if g.x is p.pin_graph.x), p.pin, p.net)
                for p in getattr(split, side) if p.label == 1.0}

    trained = aclp_split(gs, seed=3, max_train=5, max_eval=4)
    scored = aclp_split(gs, seed=3, max_eval=4)
    held_out = links(aclp_split(gs, seed=3), "val") | links(aclp_split(gs, seed=3), "test")
    assert links(scored, "test") <= held_out and not links(scored, "test") & links(trained, "train")
    assert links(aclp_split(gs, seed=4), "test") != links(aclp_split(gs, seed=3), "test")
