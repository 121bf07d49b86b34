"""Which variables move which metrics, around the best design.

Two estimates, both in the same unit: change of a metric, normalised like its target violation
(divided by ``|bound|``, or by ``|value|`` for a metric without a target), per full range of a
variable in the unit cube. A value of ``0.5`` means sweeping that variable across its range moves
the metric by about half its target.

* From the GP (free): the gradient of each metric model's posterior mean at the best design,
  plus the ARD relevance ``1/lengthscale`` (how quickly the metric varies along that variable at
  all, anywhere in the data).
* From finite differences (optional, ``2 d`` extra simulations): central differences of size
  ``FD_STEP`` of the unit range, widened until a stepped variable really changes, one-sided at a
  bound. Ground truth, no model assumptions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ckt.opt.models import LABEL, Surrogates, posterior_mean_grad

if TYPE_CHECKING:
    from ckt.opt.evaluator import Evaluator
    from ckt.opt.loop import Observer, Run

FD_STEP = 0.05
"""Finite-difference half-step as a fraction of each variable's unit range."""

GP_MAX_POINTS = 300
"""The sensitivity GPs train on at most this many designs nearest the best one."""


def _scale(spec, name: str, value: float | None) -> float:
    for t in spec.targets:
        if t.name == name:
            return t._scale(t.lo if t.lo is not None else t.hi)
    if value is not None and math.isfinite(value) and value != 0:
        return abs(value)
    return 1.0


def analyse(run: Run, evaluator: Evaluator | None = None, observers: Sequence[Observer] = ()
            ) -> tuple[dict | None, int]:
    """Sensitivity tables around the run's best design; returns ``(tables, extra simulations)``.

    With an ``evaluator``, ``2 d`` extra simulations (reported to ``observers`` as kind
    ``sensitivity``) give finite differences too.

    Tables: ``{"variables": [...], "metrics": [...], "gp_gradient": {metric: {var: x}},
    "gp_relevance": {...}, "finite_difference": {...} or None, "at": params}``.
    """
    spec, space, archive = run.spec, run.space, run.archive
    best = archive.best_index()
    if best is None or not archive.scores[best].valid:
        return None, 0
    x = archive.points[best]
    base = archive.values[best] or {}
    metrics = list(spec.metric_names)
    tables: dict = {"variables": list(space.names), "metrics": metrics, "at": space.from_unit(x),
                    "gp_gradient": None, "gp_relevance": None, "finite_difference": None}
    X, values, ok = archive.training_data()
    if ok.sum() >= 3:
        near = np.argsort(((X - x) ** 2).sum(1), kind="stable")[:GP_MAX_POINTS]
        fitted = Surrogates().fit(X[near], {k: v[near] for k, v in values.items()}, ok[near])
        grad: dict = {}
        rel: dict = {}
        for name in metrics:
            fo = fitted.get(name)
            if fo is None or name == LABEL:
                continue
            g = posterior_mean_grad(fo, x)
            y = base.get(name)
            if fo.transform == "log":
                g = g * (y if y is not None else 1.0)
            g = g / _scale(spec, name, y)
            grad[name] = dict(zip(space.names, map(float, g)))
            inv = 1.0 / fo.lengthscales
            rel[name] = dict(zip(space.names, map(float, inv / inv.max())))
        tables["gp_gradient"], tables["gp_relevance"] = grad, rel
    n_extra = 0
    if evaluator is not None:
        tables["finite_difference"], n_extra = _finite_differences(run, evaluator, observers, x, base)
    return tables, n_extra


def _fd_points(space, x: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Per variable ``(j, lower, upper)`` unit points that really differ from ``x`` after snapping."""
    out = []
    for j in range(space.dim):
        h = FD_STEP
        lo = hi = x
        while h <= 0.5:
            up = x.copy()
            dn = x.copy()
            up[j] = min(x[j] + h, 1.0)
            dn[j] = max(x[j] - h, 0.0)
            hi, lo = space.round_trip(up), space.round_trip(dn)
            if hi[j] != lo[j]:
                break
            h *= 2
        if hi[j] != lo[j]:
            out.append((j, lo, hi))
    return out


def _finite_differences(run: Run, evaluator: Evaluator, observers: Sequence[Observer], x: np.ndarray,
                        base: dict) -> tuple[dict, int]:
    from ckt.opt.loop import evaluate

    space, spec = run.space, run.spec
    plan = _fd_points(space, x)
    designs = []
    for _, lo, hi in plan:
        designs += [space.from_unit(lo), space.from_unit(hi)]
    outs = evaluate(run, evaluator, designs, observers, kind="sensitivity") if designs else []
    table: dict = {name: {} for name in spec.metric_names}
    for k, (j, lo, hi) in enumerate(plan):
        o_lo, o_hi = outs[2 * k], outs[2 * k + 1]
        for name in spec.metric_names:
            a, b = o_lo.values.get(name), o_hi.values.get(name)
            if not (o_lo.ok and o_hi.ok) or a is None or b is None:
                table[name][space.names[j]] = None
                continue
            d = (b - a) / (hi[j] - lo[j]) / _scale(spec, name, base.get(name))
            table[name][space.names[j]] = float(d)
    return table, len(designs)
