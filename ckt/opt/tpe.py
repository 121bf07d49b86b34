"""Optuna's TPE with constraints behind the ``Method`` protocol (``--method optuna``).

The baseline most users reach for: ``optuna.samplers.TPESampler`` with its defaults (seeded), driven
through Optuna's ask/tell interface by the same loop, budget and spec scoring as every other method.

* Variables are declared in their own units: an integer grid is an ``IntDistribution`` (``log``
  when the variable is), any other grid a stepped ``FloatDistribution``; a log-scaled variable on a
  non-integer grid (0.1-10 pF by 0.1 pF) cannot be both in Optuna, so it is sampled on a log axis
  and snapped to its grid like every method's proposals.
* Each target's normalised violation is one constraint (``Trial.set_constraint``); the objective
  is the spec's objective, or without one the total violation (zero once feasible). A metric the
  simulation could not produce (no unity-gain crossing) is judged by its worst observed value, as
  the GP methods see it, so near-working dead designs still rank; a failed simulation is a
  completed trial violating every constraint by ``FAILED_VIOLATION``, not a lost one.
* A proposal that snaps to an already-evaluated design is told its known result at once and Optuna
  is asked again (a repeat costs no simulation, but the loop needs new designs).
* Designs the loop replays (resume, warm start) become ``create_trial`` trials, so a resumed study
  holds the same data as the original one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ckt.errors import CktError
from ckt.opt.evaluator import Outcome
from ckt.opt.models import Archive
from ckt.opt.space import Variable
from ckt.opt.spec import Spec

FAILED_VIOLATION = 1e3
"""Constraint value of every target for a design whose simulation failed (worse than any miss)."""

REPEAT_TRIES = 20
"""Asks per slot before a repeated design is handed to the loop anyway (it then costs nothing)."""


class OptunaMissingError(CktError):
    """``--method optuna`` was asked for but the ``optuna`` package is not installed."""


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:
        raise OptunaMissingError("method 'optuna' needs Optuna: pip install 'ckt[optuna]'") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _integral(x: float) -> bool:
    return float(x).is_integer()


def distribution(v: Variable) -> Any:
    """The Optuna distribution of one variable, in its own units."""
    dist = _optuna().distributions
    if v.step is not None and _integral(v.lo) and _integral(v.step):
        k = math.floor((v.hi - v.lo) / v.step + 1e-9)
        if v.log and v.step == 1:
            return dist.IntDistribution(int(v.lo), int(v.lo) + k, log=True)
        if not v.log:
            return dist.IntDistribution(int(v.lo), int(v.lo) + k * int(v.step), step=int(v.step))
    if v.step is not None and not v.log:
        k = math.floor((v.hi - v.lo) / v.step + 1e-9)
        return dist.FloatDistribution(v.lo, v.lo + k * v.step, step=v.step)
    return dist.FloatDistribution(v.lo, v.hi, log=v.log)


def _param(d: Any, value: float) -> float | int:
    """``value`` (a snapped design value) as a member of distribution ``d``."""
    if isinstance(d, _optuna().distributions.IntDistribution):
        return int(round(value))
    return min(max(float(value), d.low), d.high)


class OptunaTPE:
    """TPE with constraints (Optuna) in the unit cube of a spec.

    Args:
        spec: the problem.
        seed: the sampler's seed (a seed reproduces the run).
        x0: unit point of the netlist's own sizes, enqueued as the first trial.
        archive: the run's archive (a new one if None).
    """

    name = "optuna"

    def __init__(self, spec: Spec, *, seed: int = 0, x0: np.ndarray | None = None, archive: Archive | None = None,
                 **_: object) -> None:
        optuna = _optuna()
        self.spec = spec
        self.space = spec.space
        self.archive = archive if archive is not None else Archive(spec)
        self.distributions = {v.name: distribution(v) for v in self.space.variables}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-feature notices of the sampler's defaults
            sampler = optuna.samplers.TPESampler(seed=seed)
        direction = "maximize" if spec.objective is not None and not spec.objective.minimize else "minimize"
        self.study = optuna.create_study(sampler=sampler, direction=direction)
        if x0 is not None:
            self.study.enqueue_trial(self._params(self.space.round_trip(x0)))
        self._pending: dict[tuple[float, ...], list[Any]] = {}
        self._told: dict[tuple[float, ...], tuple[float, dict[str, float]]] = {}

    def _params(self, x: np.ndarray) -> dict[str, float | int]:
        design = self.space.from_unit(x)
        return {n: _param(self.distributions[n], design[n]) for n in self.space.names}

    def _judge(self, i: int) -> tuple[float, dict[str, float]]:
        """``(objective value, constraints)`` of archive entry ``i``, as Optuna should see it."""
        _, values, ok = self.archive.training_data()
        if not ok[i]:
            cons = {t.name: FAILED_VIOLATION for t in self.spec.targets}
            return FAILED_VIOLATION, cons
        cons = {t.name: t.violation(float(values[t.name][i]), self.spec.margin) for t in self.spec.targets}
        obj = self.spec.objective
        scored = self.archive.scores[i].objective
        if obj is not None and scored is not None:
            return float(scored), cons
        if obj is not None:  # simulated, objective not measured: worst observed
            return float(values[obj.name][i]) if obj.name in values else FAILED_VIOLATION, cons
        return float(sum(cons.values())), cons

    def ask(self, n: int) -> list[np.ndarray]:
        """``n`` new unit points; proposals that repeat a known design are answered from memory."""
        out: list[np.ndarray] = []
        batch: set[tuple[float, ...]] = set()
        for _ in range(n):
            for attempt in range(REPEAT_TRIES):
                trial = self.study.ask(self.distributions)
                x = self.space.round_trip(self.space.to_unit(trial.params))
                key = self.space.unit_key(x)
                if key in self._told and attempt + 1 < REPEAT_TRIES:
                    self._finish(trial, *self._told[key])
                    continue
                if key in batch and attempt + 1 < REPEAT_TRIES:
                    self.study.tell(trial, state=_optuna().trial.TrialState.FAIL)
                    continue
                self._pending.setdefault(key, []).append(trial)
                batch.add(key)
                out.append(x)
                break
        return out

    def _finish(self, trial: Any, value: float, cons: dict[str, float]) -> None:
        for name, c in cons.items():
            trial.set_constraint(name, c)
        self.study.tell(trial, value)

    def tell(self, points: Sequence[np.ndarray], outcomes: Sequence[Outcome], *, warm: bool = False) -> None:
        """Record designs: asked ones finish their trials, others (replayed, warm) are added."""
        pts = [self.space.round_trip(np.asarray(p, dtype=np.float64)) for p in points]
        start = len(self.archive)
        self.archive.add(pts, outcomes)
        optuna = _optuna()
        for j, x in enumerate(pts):
            key = self.space.unit_key(x)
            value, cons = self._judge(start + j)
            self._told[key] = (value, cons)
            waiting = self._pending.get(key)
            if waiting:
                self._finish(waiting.pop(0), value, cons)
                continue
            self.study.add_trial(optuna.trial.create_trial(params=self._params(x), distributions=self.distributions,
                                                           value=value, constraints=cons))
