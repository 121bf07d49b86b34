"""The ``Method`` protocol every optimiser follows, the baselines, and ``make_method``.

All methods see the same unit cube, the same spec scoring and the same loop, so ``ckt size
--method turbo|random|cmaes|bo|optuna`` changes only how the next designs are chosen:

* ``turbo``: SCBO Thompson sampling in a TuRBO trust region (``ckt.opt.turbo``);
* ``bo``: the same SCBO Thompson sampling over the whole cube, no trust region, no restarts —
  plain global BO with one GP per metric (chosen over constrained EI so that the comparison with
  ``turbo`` isolates the trust region);
* ``random``: uniform random designs (the netlist's own sizes first);
* ``cmaes``: CMA-ES (the ``cma`` package) on the rank of each design in its generation
  (feasible by objective, then infeasible by violation, failures last); stepped variables are
  rounded before simulation while CMA-ES keeps its continuous samples (Hansen's recommended
  handling for a few integer variables); on ``tolx``-style stops it restarts from the best design;
* ``optuna``: Optuna's TPE with constraints (``ckt.opt.tpe``; needs ``pip install 'ckt[optuna]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ckt.opt.evaluator import Outcome
from ckt.opt.models import Archive
from ckt.opt.spec import Spec
from ckt.opt.tpe import OptunaTPE
from ckt.opt.turbo import TurboMethod

METHODS = ("turbo", "bo", "random", "cmaes", "optuna")


class Method(Protocol):
    """An optimiser in the unit cube.

    ``archive`` is the run's one record of every design told (points, values, scores): the method
    appends to it in ``tell`` and the loop, the sensitivity analysis and the result read it.
    """

    name: str
    archive: Archive

    def ask(self, n: int) -> list[np.ndarray]:
        """``n`` unit points `(d,)` to evaluate next."""
        ...

    def tell(self, points: Sequence[np.ndarray], outcomes: Sequence[Outcome], *, warm: bool = False) -> None:
        """Results for points (asked, replayed from history, or ``warm`` from earlier runs)."""
        ...


class RandomSearch:
    """Uniform random designs, grid-snapped and never repeated."""

    name = "random"

    def __init__(self, spec: Spec, *, seed: int = 0, x0: np.ndarray | None = None, archive: Archive | None = None,
                 **_: object) -> None:
        self.spec = spec
        self.space = spec.space
        self.archive = archive if archive is not None else Archive(spec)
        self._rng = np.random.default_rng(seed)
        self._x0 = None if x0 is None else self.space.round_trip(x0)
        self._seen: set[tuple[float, ...]] = set()

    def ask(self, n: int) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        if self._x0 is not None:
            if self.space.unit_key(self._x0) not in self._seen:
                out.append(self._x0)
            self._x0 = None
        for _ in range(100 * n):
            if len(out) >= n:
                break
            x = self.space.round_trip(self._rng.random(self.space.dim))
            k = self.space.unit_key(x)
            if k not in self._seen and all(k != self.space.unit_key(y) for y in out):
                out.append(x)
        self._seen.update(self.space.unit_key(x) for x in out)
        return out

    def tell(self, points: Sequence[np.ndarray], outcomes: Sequence[Outcome], *, warm: bool = False) -> None:
        self.archive.add(points, outcomes)
        self._seen.update(self.space.unit_key(self.space.round_trip(p)) for p in points)


class CMAES:
    """CMA-ES with generations sized to a multiple of the batch, ranked by the spec."""

    name = "cmaes"

    def __init__(self, spec: Spec, *, batch_size: int = 4, seed: int = 0, x0: np.ndarray | None = None,
                 sigma0: float = 0.25, archive: Archive | None = None, **_: object) -> None:
        self.spec = spec
        self.space = spec.space
        self.archive = archive if archive is not None else Archive(spec)
        self.batch_size = batch_size
        self.seed = seed
        self.sigma0 = sigma0
        self._x0 = np.full(self.space.dim, 0.5) if x0 is None else np.asarray(x0, dtype=np.float64)
        self._es: Any = None  # cma.CMAEvolutionStrategy, made on the first ask
        self._restarts = 0
        self._generation: list[np.ndarray] = []
        self._handed = 0
        self._results: dict[int, tuple] = {}
        self._asked_at: dict[tuple[float, ...], list[int]] = {}

    def _new_es(self):
        import cma

        d = self.space.dim
        default = 4 + int(3 * np.log(d))
        popsize = self.batch_size * int(np.ceil(default / self.batch_size))
        best = self.archive.best_index()
        mean = self.archive.points[best] if best is not None else self._x0
        opts = {"bounds": [0.0, 1.0], "seed": self.seed * 1000 + self._restarts + 1, "popsize": popsize,
                "verbose": -9, "verb_log": 0, "verb_disp": 0}
        self._restarts += 1
        return cma.CMAEvolutionStrategy(np.clip(mean, 0.0, 1.0).tolist(), self.sigma0, opts)

    def ask(self, n: int) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        while len(out) < n:
            if self._es is None or self._handed >= len(self._generation):
                if self._es is not None and len(self._results) < len(self._generation):
                    break  # the rest of this generation is still being evaluated
                self._start_generation()
            x = self._generation[self._handed]
            snapped = self.space.round_trip(np.clip(x, 0.0, 1.0))
            self._asked_at.setdefault(self.space.unit_key(snapped), []).append(self._handed)
            self._handed += 1
            out.append(snapped)
        return out

    def _start_generation(self) -> None:
        if self._es is None or self._es.stop():
            self._es = self._new_es()
        self._generation = [np.asarray(x) for x in self._es.ask()]
        self._handed = 0
        self._results = {}

    def tell(self, points: Sequence[np.ndarray], outcomes: Sequence[Outcome], *, warm: bool = False) -> None:
        scores = self.archive.add(points, outcomes)
        for p, s in zip(points, scores):
            slots = self._asked_at.get(self.space.unit_key(self.space.round_trip(p)))
            if slots:
                self._results[slots.pop(0)] = s.rank_key(self.spec)
        if self._generation and len(self._results) == len(self._generation):
            order = sorted(range(len(self._generation)), key=lambda i: self._results[i])
            ranks = np.empty(len(order))
            ranks[order] = np.arange(len(order), dtype=np.float64)
            self._es.tell([x.tolist() for x in self._generation], ranks.tolist())
            self._handed = len(self._generation)
            self._asked_at = {}


def make_method(name: str, spec: Spec, *, batch_size: int = 4, seed: int = 0, x0: np.ndarray | None = None,
                archive: Archive | None = None) -> Method:
    """Build a method by name (one of ``METHODS``), recording into ``archive`` (a new one if None)."""
    if name == "turbo":
        return TurboMethod(spec, batch_size=batch_size, seed=seed, x0=x0, archive=archive)
    if name == "bo":
        return TurboMethod(spec, batch_size=batch_size, seed=seed, x0=x0, trust_region=False, feasibility_first=False,
                           archive=archive)
    if name == "random":
        return RandomSearch(spec, seed=seed, x0=x0, archive=archive)
    if name == "cmaes":
        return CMAES(spec, batch_size=batch_size, seed=seed, x0=x0, archive=archive)
    if name == "optuna":
        return OptunaTPE(spec, seed=seed, x0=x0, archive=archive)
    raise ValueError(f"unknown method {name!r}; expected one of {', '.join(METHODS)}")
