"""Metrics on hand examples."""

from __future__ import annotations

import math

import pytest
import torch

from ckt.linkpred.evaluate import auc, pair_metrics, rank_of_true, ranks_metrics


def test_auc_and_accuracy_by_hand():
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    probs = torch.tensor([0.9, 0.4, 0.5, 0.1])
    assert auc(labels, probs) == pytest.approx(0.75)
    assert auc(labels, torch.tensor([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)  # ties count one half
    m = pair_metrics(labels, probs)
    assert m["n"] == 4 and m["accuracy"] == pytest.approx(0.5)  # 0.9 right, 0.4 wrong, 0.5 wrong, 0.1 right
    assert math.isnan(auc(torch.tensor([1.0]), torch.tensor([0.3])))


def test_completion_ranks_count_ties_against_the_true_net():
    assert rank_of_true([0.1, 0.9, 0.5], 1) == 1
    assert rank_of_true([0.1, 0.9, 0.5], 2) == 2
    assert rank_of_true([0.5, 0.5, 0.5], 0) == 3
    m = ranks_metrics([1, 2, 4])
    assert m == {"queries": 3, "top1": pytest.approx(1 / 3), "top3": pytest.approx(2 / 3),
                 "mrr": pytest.approx((1 + 0.5 + 0.25) / 3)}


class _LowestNetFirst(torch.nn.Module):
    """A stand-in model that prefers lower net indices (logit = -net), so ranks are known by hand."""

    def prepare(self, pairs):
        return list(pairs)

    def forward(self, items):
        return torch.tensor([-float(p.net) for p in items])


def test_completion_metrics_rank_every_net_of_the_circuit():
    from ckt.linkpred.evaluate import completion_metrics
    from ckt.linkpred.samples import hard_queries
    from tests.linkpred.circuits import graphs

    queries = hard_queries(graphs(1), None, 0)
    m = completion_metrics(_LowestNetFirst(), queries)
    expected = [q.nets.index(q.true_net) + 1 for q in queries]  # the true net's place in ascending order
    assert m["queries"] == len(queries) and m["mean_candidates"] == len(queries[0].nets)
    assert m["top1"] == pytest.approx(sum(r == 1 for r in expected) / len(expected))
    assert m["top3"] == pytest.approx(sum(r <= 3 for r in expected) / len(expected))
    assert m["mrr"] == pytest.approx(sum(1 / r for r in expected) / len(expected))
    assert 0 < m["top1"] < m["top3"] < 1
