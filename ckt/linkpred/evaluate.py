"""Link-prediction metrics: accuracy and AUC on balanced pairs, and completion ranks.

* ``pair_metrics``: accuracy (probability >= 0.5 called a link) and ROC AUC (the Mann–Whitney
  statistic, ties counting one half) of scored pairs: the balanced hard negatives of our protocol,
  or the uniform negatives of GNN-ACLP's.
* ``completion_metrics``: for each query (a pin whose connection was removed), the rank of its true
  net among every net of its circuit; ties count against the true net, so a model that scores
  everything alike ranks it last. Reported as top-1, top-3 and mean reciprocal rank (MRR).
* ``protocol_metrics``: a model's test metrics on a dataset under either protocol, within or across
  datasets; ``evaluate_linkpred`` does it for a run folder (``ckt eval linkpred``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ckt.errors import CheckpointError, ModelConfigError
from ckt.linkpred.datasets import PinCircuits, open_circuits
from ckt.linkpred.model import LinkModel
from ckt.linkpred.samples import (
    Pair,
    Query,
    aclp_split,
    balanced_pairs,
    completion_pairs,
    hard_queries,
    isolated_positives,
)

PROTOCOLS = ("hard", "aclp")
MODEL_FILE = "model.json"


@torch.no_grad()
def item_probabilities(model: LinkModel, items: Sequence[Any], batch_size: int = 256) -> Tensor:
    """``[len(items)]`` link probabilities of prepared items (``model.prepare``), in eval mode."""
    model.eval()
    out = [torch.sigmoid(model(list(items[a:a + batch_size]))).cpu()
           for a in range(0, len(items), batch_size)]
    return torch.cat(out) if out else torch.zeros(0)


@torch.no_grad()
def pair_probabilities(model: LinkModel, pairs: Sequence[Pair], batch_size: int = 256) -> Tensor:
    """``[len(pairs)]`` link probabilities (prepared a batch at a time, so memory stays flat)."""
    out = [item_probabilities(model, model.prepare(list(pairs[a:a + batch_size])), batch_size)
           for a in range(0, len(pairs), batch_size)]
    return torch.cat(out) if out else torch.zeros(0)


def auc(labels: Tensor, scores: Tensor) -> float:
    """ROC AUC: the chance a random positive outscores a random negative (ties one half); NaN
    without both classes."""
    pos, neg = scores[labels > 0.5], scores[labels <= 0.5]
    if not pos.numel() or not neg.numel():
        return float("nan")
    order = torch.cat([pos, neg]).double()
    ranks = _average_ranks(order)
    return float((ranks[: pos.numel()].sum() - pos.numel() * (pos.numel() + 1) / 2) / (pos.numel() * neg.numel()))


def _average_ranks(values: Tensor) -> Tensor:
    """1-based ranks, tied values sharing their mean rank."""
    sorted_v, order = torch.sort(values)
    ranks = torch.empty_like(values)
    i, n = 0, len(values)
    while i < n:
        j = i
        while j + 1 < n and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pair_metrics(labels: Tensor, probs: Tensor) -> dict[str, Any]:
    """``{"n", "accuracy", "auc"}`` of scored pairs."""
    correct = ((probs >= 0.5).float() == (labels > 0.5).float()).float()
    return {"n": int(labels.numel()), "accuracy": float(correct.mean()) if labels.numel() else float("nan"),
            "auc": auc(labels, probs)}


def rank_of_true(scores: Sequence[float], true_index: int) -> int:
    """1 + how many other candidates score at least as high as the true one."""
    s = scores[true_index]
    return 1 + sum(1 for i, v in enumerate(scores) if i != true_index and v >= s)


def ranks_metrics(ranks: Sequence[int]) -> dict[str, Any]:
    """Top-1, top-3 and MRR of true-candidate ranks."""
    n = len(ranks)
    if not n:
        return {"queries": 0, "top1": float("nan"), "top3": float("nan"), "mrr": float("nan")}
    return {"queries": n, "top1": sum(r == 1 for r in ranks) / n, "top3": sum(r <= 3 for r in ranks) / n,
            "mrr": sum(1.0 / r for r in ranks) / n}


def completion_ranks(model: LinkModel, queries: Sequence[Query], batch_size: int = 256) -> list[int]:
    """The rank of each query's true net among its circuit's nets."""
    pairs = [p for q in queries for p in completion_pairs(q)]
    probs = pair_probabilities(model, pairs, batch_size).tolist()
    ranks, a = [], 0
    for q in queries:
        scores = probs[a:a + len(q.nets)]
        ranks.append(rank_of_true(scores, q.nets.index(q.true_net)))
        a += len(q.nets)
    return ranks


def completion_metrics(model: LinkModel, queries: Sequence[Query], batch_size: int = 256) -> dict[str, Any]:
    """Completion top-1, top-3 and MRR of ``model`` over ``queries``, with the mean candidate count."""
    out = ranks_metrics(completion_ranks(model, queries, batch_size))
    out["mean_candidates"] = sum(len(q.nets) for q in queries) / len(queries) if queries else float("nan")
    return out


def protocol_metrics(model: LinkModel, circuits: PinCircuits, protocol: str, trained_on: str,
                     trained_protocol: str, eval_pins: int | None, seed: int) -> dict[str, Any]:
    """Test metrics of ``model`` on ``circuits`` under ``protocol``.

    The circuits scored: the test side of the group split when the model was trained on this dataset
    with the hard protocol or on another dataset; all circuits for an ACLP-trained model on its own
    dataset, whose test edges are then those its training split held out (``seed`` is the run's).
    ``hard`` gives balanced accuracy and AUC and completion ranks; ``aclp`` accuracy and AUC on
    uniform negatives over the merged test graphs.
    """
    own_edges = protocol == "aclp" and trained_protocol == "aclp" and trained_on == circuits.name
    graphs = list(circuits.graphs) if own_edges else circuits.side("test")
    if protocol == "hard":
        queries = hard_queries(graphs, eval_pins, seed + 1)
        pairs = balanced_pairs(queries, seed + 1)
        labels = torch.tensor([p.label for p in pairs])
        result: dict[str, Any] = {
            "protocol": "hard", "circuits": len(graphs), **pair_metrics(labels, pair_probabilities(model, pairs)),
            "completion": completion_metrics(model, queries), "isolated_positives": isolated_positives(queries),
        }
        if trained_protocol == "aclp" and trained_on == circuits.name:
            result["note"] = "ACLP-trained: its random edge split saw edges of these circuits"
        return result
    # on its own dataset, the very edge split the model was trained with (same seed), so no test edge
    # was a training edge; elsewhere a fresh one
    split = aclp_split(graphs, seed=seed if own_edges else seed + 1,
                       max_eval=None if eval_pins is None else math.ceil(0.1 * len(circuits.graphs) * eval_pins))
    labels = torch.tensor([p.label for p in split.test])
    return {"protocol": "aclp", "circuits": len(graphs),
            **pair_metrics(labels, pair_probabilities(model, split.test)),
            "cross_circuit_negatives": sum(1 for p in split.test if p.label == 0 and not p.same_graph)}


def read_record(folder: str | Path) -> dict[str, Any]:
    """A trained run folder's ``model.json``.

    Raises:
        CheckpointError: the folder holds no trained link model.
    """
    path = Path(folder) / MODEL_FILE
    if not path.is_file() or not (Path(folder) / "best.pt").is_file():
        raise CheckpointError(f"{folder}: not a trained link-prediction folder (needs best.pt and {MODEL_FILE}; "
                              f"make one with: ckt train linkpred --out {folder})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: not valid JSON: {exc}") from exc


def evaluate_linkpred(folder: str | Path, dataset: str | None = None, protocol: str = "hard",
                      root: str | None = None, source: str | None = None, n: int | None = None,
                      eval_pins: int | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Metrics of the run in ``folder`` on ``dataset`` (default: the one it was trained on) under
    ``protocol`` (``protocol_metrics``); ``root``/``source``/``n`` default to the training run's on its
    own dataset.

    Raises:
        CheckpointError, DatasetError, ModelConfigError: see ``read_record``, ``load_model``, ``open_circuits``.
    """
    from ckt.linkpred.model import load_model

    if protocol not in PROTOCOLS:
        raise ModelConfigError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    record = read_record(folder)
    model = load_model(Path(folder) / "best.pt")
    req = record["request"]
    name = dataset or record["dataset"]
    same = name == record["dataset"]
    circuits = open_circuits(name, req["seed"], root or (req["root"] if same else None),
                             source or (req["source"] if same else None), n or (req["n"] if same else None),
                             req.get("dataset_options") if same else None)
    pins = eval_pins or req["eval_pins"]
    metrics = protocol_metrics(model, circuits, protocol, record["dataset"], record["protocol"], pins, req["seed"])
    return finite({"model": str(folder), "trained_on": record["dataset"], "dataset": name, **metrics})


def finite(obj: Any) -> Any:
    """NaN (an AUC without both classes) as None, so the JSON is standard."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    if isinstance(obj, Tensor):
        return finite(obj.tolist())
    return obj
