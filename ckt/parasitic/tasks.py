"""The three prediction tasks on a labelled pin-level graph, their log-scale labels and buckets.

* ground capacitance of each labelled, non-rail net, regressed as ``log10`` farads;
* the same, as one of ``N_BUCKETS`` classes on ``log10`` farads, by one of ``BUCKET_SCHEMES``:
  ``quantile`` (ours: edges at the 20/40/60/80 % quantiles of the *training* labels, so the training
  classes are balanced and the other sides keep their own, different, distribution) or
  ``circuitgcl`` (the anchor's fixed edges, ``CIRCUITGCL_EDGES``);
* coupling capacitance of each labelled pin–net, pin–pin and net–net pair, as ``log10`` farads.
  Pairs outside ``CC_RANGE`` are dropped, as CirGPS does: values below 1e-21 F are extraction
  noise, above 1e-15 F a handful of rail-sized couplings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Data

from ckt.errors import DatasetError, ModelConfigError
from ckt.parasitic.features import GraphInputs

N_BUCKETS = 5
BUCKET_SCHEMES = ("quantile", "circuitgcl")
CIRCUITGCL_EDGES = (-18.8, -17.6, -16.4, -15.2)
"""CircuitGCL's ground-capacitance classes (lixc929/CircuitGCL, ``sram_dataset.py``) as inner edges
in log10 farads: its label ``log10(C * 1e20) / 6`` clipped to [0, 1] and cut at 0.2/0.4/0.6/0.8,
i.e. fixed buckets 1.2 decades wide, whatever the data."""
CC_RANGE = (1e-21, 1e-15)
"""Coupling capacitances kept as labels (farads, exclusive bounds)."""


@dataclass(frozen=True, slots=True)
class Labels:
    """Targets of a labelled graph.

    Attributes:
        nets: ``[Nn]`` node indices of the labelled non-rail nets.
        net_y: ``[Nn]`` their ground capacitance, log10 farads.
        links: ``[2, L]`` node indices of the labelled coupling pairs.
        link_type: ``[L]`` 0 pin–net, 1 pin–pin, 2 net–net (``ckt.data.digtime.CC_TYPES``).
        link_y: ``[L]`` their coupling capacitance, log10 farads.
    """

    nets: Tensor
    net_y: Tensor
    links: Tensor
    link_type: Tensor
    link_y: Tensor


def labels(data: Data, inputs: GraphInputs) -> Labels:
    """The targets of a converted digtime-style graph (``net_cap``, ``cc_index``/``cc_cap``).

    Raises:
        DatasetError: the graph carries no parasitic labels.
    """
    if "net_cap" not in data or "cc_cap" not in data:
        raise DatasetError("this graph has no parasitic labels (net_cap, cc_index, cc_cap)")
    cap = data.net_cap
    nets = torch.nonzero(~torch.isnan(cap) & (cap > 0) & ~inputs.rail).flatten()
    cc = data.cc_cap
    keep = (cc > CC_RANGE[0]) & (cc < CC_RANGE[1]) & ~inputs.rail[data.cc_index].any(0)
    return Labels(nets=nets, net_y=torch.log10(cap[nets]).float(), links=data.cc_index[:, keep],
                  link_type=data.cc_type[keep], link_y=torch.log10(cc[keep]).float())


def bucket_edges(log_caps: Tensor, scheme: str = "quantile") -> Tensor:
    """The ``N_BUCKETS - 1`` inner bucket edges (log10 farads) of ``scheme``: quantiles of the
    training labels ``log_caps``, or CircuitGCL's fixed edges.

    Raises:
        DatasetError: too few labels to place quantiles.
        ModelConfigError: an unknown scheme.
    """
    if scheme == "circuitgcl":
        return torch.tensor(CIRCUITGCL_EDGES)
    if scheme != "quantile":
        raise ModelConfigError(f"unknown bucket scheme {scheme!r}; use one of {', '.join(BUCKET_SCHEMES)}")
    if log_caps.numel() < N_BUCKETS:
        raise DatasetError(f"{log_caps.numel()} labelled nets: too few for {N_BUCKETS} buckets")
    q = torch.arange(1, N_BUCKETS, dtype=torch.float) / N_BUCKETS
    return torch.quantile(log_caps.float(), q)


def bucket_of(log_caps: Tensor, edges: Tensor) -> Tensor:
    """Bucket index (0 smallest) of each log10 capacitance."""
    return torch.bucketize(log_caps.contiguous(), edges.contiguous(), right=True)


def bucket_names(edges: Tensor) -> list[str]:
    """Human names of the buckets, in farads (``<1.1e-18``, ``1.1e-18..2.4e-18``...)."""
    f = [f"{10 ** float(e):.2g}" for e in edges]
    return [f"<{f[0]}"] + [f"{a}..{b}" for a, b in zip(f[:-1], f[1:])] + [f">={f[-1]}"]


def r2(pred: Tensor, target: Tensor) -> float:
    """Coefficient of determination (nan for fewer than two targets)."""
    if target.numel() < 2:
        return math.nan
    ss_res = float(((pred - target) ** 2).sum())
    ss_tot = float(((target - target.mean()) ** 2).sum())
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan


def macro_f1(pred: Tensor, target: Tensor, n_classes: int) -> tuple[float, list[float]]:
    """Macro-F1 over the classes present in ``target`` or ``pred``, and the per-class F1."""
    per: list[float] = []
    present: list[float] = []
    for c in range(n_classes):
        tp = int(((pred == c) & (target == c)).sum())
        fp = int(((pred == c) & (target != c)).sum())
        fn = int(((pred != c) & (target == c)).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan
        per.append(f1)
        if tp + fp + fn:
            present.append(f1)
    return (sum(present) / len(present) if present else math.nan), per
