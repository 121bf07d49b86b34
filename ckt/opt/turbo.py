"""Trust-region Bayesian optimisation with constraints (TuRBO-1 + SCBO), in the unit cube.

Follows Eriksson et al., "Scalable Global Optimization via Local Bayesian Optimization" (NeurIPS
2019) and Eriksson & Poloczek, "Scalable Constrained Bayesian Optimization" (AISTATS 2021), as
the BoTorch tutorials present them, with these differences:

* the trust-region state is a frozen dataclass; ``update_state`` returns a new one;
* designs are ranked by the spec (feasible first, then objective, else total normalised
  violation), so a batch "succeeds" when it improves that ranking;
* a restart keeps all data (the GPs still learn from it) but opens a new *epoch*: its first batch is
  Thompson-sampled over the whole cube (the GPs already know every earlier design, so a fresh
  Sobol design would re-learn what they know) and the new region is centred on the best point of
  that epoch;
* Thompson samples are pathwise function draws (``ckt.opt.models.sample_outputs``), cheap at
  thousands of candidates; candidates are snapped to the variables' step grid and designs already
  evaluated or chosen are never proposed again;
* failed simulations train a success-label GP that acts as one more constraint;
* the box always reaches the centre's neighbours on each stepped variable's grid (``grid_neighbours``):
  on a log-scaled grid the first steps are wider than a shrunken region;
* feasibility first: until some design is feasible, the first design of each batch maximises
  the probability of meeting every target under the GPs' marginals (``log_feasibility``): the
  likeliest candidates are climbed by gradient ascent inside the region (random candidates
  rarely land on a thin diagonal manifold; a climb follows it); the rest are Thompson samples.
  Thompson sampling of the total violation alone creeps along a local minimum of the violation;
  the probability of feasibility weighs how far each constraint is from its bound against how
  uncertain its model is there;
* without an objective the sampled design with the largest worst-case slack is preferred among
  the feasible-by-sample ones (there is nothing else to rank them by).

With ``trust_region=False`` the same machinery searches the whole cube and never restarts: that is
the plain global BO baseline (``--method bo``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import qmc

from ckt.errors import SpecError
from ckt.opt.evaluator import Outcome
from ckt.opt.models import LABEL, Archive, FittedOutput, Surrogates, sample_outputs, torch_threads
from ckt.opt.space import Space
from ckt.opt.spec import Spec

INF_KEY = (math.inf, math.inf)

CLIMB_MAXITER = 50
"""L-BFGS-B iterations of each descent in ``TurboMethod._climb`` (a few ms each on a GP of
hundreds of designs)."""

CLIMB_STARTS = 4
"""Candidates with the largest probability of feasibility that a descent starts from (and the
region's centre)."""


@dataclass(frozen=True, slots=True)
class TurboState:
    """Trust-region state. ``best_key`` is the spec rank key of the best design of this epoch."""

    dim: int
    batch_size: int
    length: float = 0.8
    length_min: float = 0.5**4
    length_max: float = 1.6
    failure_counter: int = 0
    failure_tolerance: int = 1
    success_counter: int = 0
    success_tolerance: int = 3
    best_key: tuple[float, float] = INF_KEY
    restart_triggered: bool = False
    epoch: int = 0


def make_state(dim: int, batch_size: int, epoch: int = 0) -> TurboState:
    """A fresh region; the failure tolerance ``ceil(max(4/q, d/q))`` is the TuRBO paper's."""
    tol = math.ceil(max(4.0 / batch_size, dim / batch_size))
    return TurboState(dim=dim, batch_size=batch_size, failure_tolerance=tol, epoch=epoch)


def improves(new: tuple[float, float], old: tuple[float, float]) -> bool:
    """Whether rank key ``new`` beats ``old`` by more than a relative ``1e-3`` (TuRBO's margin)."""
    if new[0] != old[0]:
        return new[0] < old[0]
    if not math.isfinite(old[1]):
        return math.isfinite(new[1])
    return new[1] < old[1] - 1e-3 * abs(old[1])


def update_state(state: TurboState, batch_keys: Sequence[tuple[float, float]]) -> TurboState:
    """The region after one batch: count success/failure, double/halve the length, flag restarts."""
    best = min(batch_keys, default=INF_KEY)
    if improves(best, state.best_key):
        success, failure = state.success_counter + 1, 0
    else:
        success, failure = 0, state.failure_counter + 1
    length = state.length
    if success == state.success_tolerance:
        length, success = min(2.0 * length, state.length_max), 0
    elif failure == state.failure_tolerance:
        length, failure = length / 2.0, 0
    return replace(
        state,
        length=length,
        success_counter=success,
        failure_counter=failure,
        best_key=min(state.best_key, best),
        restart_triggered=length < state.length_min,
    )


def tr_bounds(center: np.ndarray, lengthscales: np.ndarray, length: float) -> tuple[np.ndarray, np.ndarray]:
    """The TuRBO box: side ``length`` stretched per dimension by the normalised ARD lengthscales."""
    w = lengthscales / lengthscales.mean()
    w = w / np.prod(np.power(w, 1.0 / len(w)))
    lb = np.clip(center - w * length / 2.0, 0.0, 1.0)
    ub = np.clip(center + w * length / 2.0, 0.0, 1.0)
    return lb, ub


def grid_neighbours(space: Space, center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit coordinates `(d,)` of the grid points just below and above ``center`` on each stepped
    variable (the centre itself where there is no step or no neighbour on that side).

    A trust region must reach them: on a log-scaled grid the first steps are wide in unit terms
    (0.1 pF to 0.2 pF is 15 % of a 0.1-10 pF log axis, 2 to 3 is 9 % of 1-100), so a shrunken box
    around a design at the low end of such a variable snaps every candidate back to the centre
    and the region can no longer move that variable at all.
    """
    below, above = center.copy(), center.copy()
    params = space.from_unit(center)
    for j, v in enumerate(space.variables):
        if v.step is None:
            continue
        x = params[v.name]
        if x - v.step >= v.lo - 1e-12 * abs(v.lo):
            below[j] = v.to_unit(x - v.step)
        if x + v.step <= v.hi + 1e-12 * abs(v.hi):
            above[j] = v.to_unit(x + v.step)
    return below, above


def sample_violations(spec: Spec, samples: dict[str, np.ndarray],
                      log_metrics: frozenset[str] = frozenset()) -> tuple[np.ndarray, np.ndarray]:
    """Total normalised violation and worst normalised slack per sample and candidate, `(s, m)` each.

    For metrics in ``log_metrics`` (those modelled as ``log(y)``: bandwidths, currents, V/V gains)
    the slack is ``log(y / bound)`` (sign flipped for an upper bound) instead of the relative
    difference: a relative shortfall saturates at 1 for a lower bound while an upper bound's excess
    is unbounded, so on a metric spanning decades the sum would be dominated by the upper bounds. In
    log terms a 10x miss weighs the same on either side. The two agree to first order near the bound.
    """
    shape = next(iter(samples.values())).shape
    total = np.zeros(shape)
    slack = np.full(shape, np.inf)
    for t in spec.targets:
        y = samples[t.name]
        lo, hi = t.bounds(spec.margin)  # a margin tightens the bounds the samples must clear
        for bound, sign, given in ((lo, 1.0, t.lo), (hi, -1.0, t.hi)):
            if bound is None or given is None:
                continue
            if t.name in log_metrics and bound > 0:
                s = sign * (np.log(np.maximum(y, 1e-300)) - math.log(bound))
            else:
                s = sign * (y - bound) / t._scale(given)
            total += np.maximum(-s, 0.0)
            slack = np.minimum(slack, s)
    if LABEL in samples:
        s = (samples[LABEL] - 0.5) / 0.5
        total += np.maximum(-s, 0.0)
        slack = np.minimum(slack, s)
    return total, slack


def _log_feasibility_t(spec: Spec, outputs: dict[str, FittedOutput], Ct):
    """``log_feasibility`` as a differentiable torch expression of candidates ``Ct`` `(m, d)`."""
    import torch

    moments: dict[int, tuple] = {}
    total = torch.zeros(Ct.shape[0], dtype=torch.float64)

    def term(fo: FittedOutput, bound: float, sign: float):
        key = id(fo.model)
        if key not in moments:
            post = fo.model.posterior(Ct)
            moments[key] = (post.mean.reshape(Ct.shape[0], -1), post.variance.reshape(Ct.shape[0], -1))
        mean, var = moments[key]
        j = fo.index if fo.index is not None else 0
        if fo.transform == "log":
            if bound <= 0:
                return None
            bound = math.log(bound)
        z = (bound - fo.mean) / fo.std
        return torch.special.log_ndtr(sign * (mean[:, j] - z) / var[:, j].clamp_min(1e-12).sqrt())

    for t in spec.targets:
        fo = outputs.get(t.name)
        if fo is None:
            continue
        lo, hi = t.bounds(spec.margin)
        for bound, sign in ((lo, 1.0), (hi, -1.0)):
            if bound is not None:
                value = term(fo, bound, sign)
                total = total if value is None else total + value
    if LABEL in outputs:
        total = total + term(outputs[LABEL], 0.5, 1.0)
    return total


def log_feasibility(spec: Spec, outputs: dict[str, FittedOutput], C: np.ndarray) -> np.ndarray:
    """Log probability `(m,)` that candidates ``C`` meet every target (and simulate), from the
    GPs' posterior marginals, the constraints taken as independent (they have independent GPs).

    Bounds are mapped into each GP's space (standardised, ``log`` where the output is modelled
    so), where the posterior is Gaussian.
    """
    import torch

    with torch_threads(), torch.no_grad():
        return _log_feasibility_t(spec, outputs, torch.as_tensor(C, dtype=torch.float64)).numpy()


def sobol_points(d: int, n: int, seed: tuple[int, ...]) -> np.ndarray:
    """``n`` scrambled Sobol points `(n, d)` (any ``n``: the balance warning is moot here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return qmc.Sobol(d, scramble=True, seed=np.random.default_rng(list(seed))).random(n)


class TurboMethod:
    """SCBO-TuRBO behind the ``Method`` protocol (``ask``/``tell``).

    Args:
        spec: the problem (variables, targets, objective).
        batch_size: designs per batch ``q`` (sets the failure tolerance).
        seed: seeds the Sobol designs and the Thompson samples.
        x0: unit point of the netlist's current sizes, evaluated first when given.
        n_init: size of each epoch's Sobol design (default ``max(2q, min(2d, 20))``... at least 4).
        trust_region: False gives plain global BO (whole cube, no restarts).
        n_candidates: Thompson candidates per batch (default ``min(5000, max(1000, 100 d))``: the
            original TuRBO code's ``100 d``, floored for small ``d``; BoTorch's tutorial doubles it,
            which doubles the sampling cost, the largest part of an iteration that only conditions).
        max_train: when more designs than this are known, the GPs train on the ``max_train``
            nearest the region's centre (bounds the ``O(n^3)`` fit; TuRBO is local anyway).
        feasibility_first: until a design is feasible, each batch's first design maximises the
            probability of feasibility (off for the plain-BO baseline, which keeps SCBO's rule).
        regions: trust regions searched side by side (TuRBO-m), one batch each in turn, all on the
            same GPs; each region but the first opens with a batch over the whole cube, as a restart
            does, and restarts on its own.
    """

    name = "turbo"

    def __init__(self, spec: Spec, *, batch_size: int = 4, seed: int = 0, x0: np.ndarray | None = None,
                 n_init: int | None = None, trust_region: bool = True, n_candidates: int | None = None,
                 max_train: int = 500, feasibility_first: bool = True, regions: int = 1,
                 archive: Archive | None = None) -> None:
        self.spec = spec
        self.space = spec.space
        d = self.space.dim
        self.batch_size = batch_size
        self.seed = seed
        self.trust_region = trust_region
        if not trust_region:
            self.name = "bo"
        self.n_init = n_init or max(4, 2 * batch_size, min(2 * d, 20))
        self.n_candidates = n_candidates or min(5000, max(1000, 100 * d))
        self.max_train = max_train
        self.feasibility_first = feasibility_first
        self.archive = archive if archive is not None else Archive(spec)
        if regions < 1:
            raise SpecError(f"turbo: regions must be at least 1, got {regions}")
        self._states = [make_state(d, batch_size, epoch=r) for r in range(regions)]
        self._next_epoch = regions
        self._turn = 0
        self._global = set(range(1, regions))
        """Regions whose next batch is Thompson-sampled over the whole cube."""
        self.surrogates = Surrogates()
        self._x0 = None if x0 is None else self.space.round_trip(x0)
        self._init_queue: list[np.ndarray] | None = None
        self._sobol_calls = 0
        self._asked = 0
        self._seen: set[tuple[float, ...]] = set()
        self._from_ts: set[tuple[float, ...]] = set()
        self._owner: dict[tuple[float, ...], int] = {}
        """The region whose batch held each design (the first for the initial design and warm data)."""

    @property
    def state(self) -> TurboState:
        """The region whose batch is next (the only one when ``regions`` is 1)."""
        return self._states[self._turn]

    @state.setter
    def state(self, value: TurboState) -> None:
        self._states[self._turn] = value

    # -------------------------------------------------------------- protocol

    def ask(self, n: int) -> list[np.ndarray]:
        """``n`` new unit points (snapped to the grid, never a repeat of a known design)."""
        if self._init_queue is None:
            self._start_epoch()
        out: list[np.ndarray] = []
        while self._init_queue and len(out) < n:
            x = self._init_queue.pop(0)
            if self.space.unit_key(x) not in self._seen:
                out.append(x)
        if len(out) < n:
            X, _, ok = self.archive.training_data() if len(self.archive) else (None, None, np.zeros(0, bool))
            if ok.sum() >= 2:
                r = self._turn
                ts = self._thompson(n - len(out), out, r, whole_cube=r in self._global)
                self._global.discard(r)
                self._from_ts.update(self.space.unit_key(x) for x in ts)
                out += ts
                fill = self._sobol(n - len(out), exclude=out)
                self._owner.update((self.space.unit_key(x), r) for x in [*ts, *fill])
                out += fill
                self._turn = (r + 1) % len(self._states)
            else:
                out += self._sobol(n - len(out), exclude=out)
        for x in out:
            self._seen.add(self.space.unit_key(x))
        self._asked += 1
        return out

    def tell(self, points: Sequence[np.ndarray], outcomes: Sequence[Outcome], *, warm: bool = False) -> None:
        """Record evaluated designs; ``warm=True`` for data from earlier runs (it informs the
        models and the starting centre but does not count as this region's success or failure)."""
        pts = [self.space.round_trip(np.asarray(p, dtype=np.float64)) for p in points]
        owners = [self._owner.get(self.space.unit_key(x), 0) for x in pts]
        self.archive.add(pts, outcomes, epoch=[self._states[r].epoch for r in owners])
        keys = self.archive.model_keys()[len(self.archive) - len(pts):]
        for x in pts:
            self._seen.add(self.space.unit_key(x))
        for r in dict.fromkeys(owners):
            mine = [i for i, o in enumerate(owners) if o == r]
            state, region_keys = self._states[r], [keys[i] for i in mine]
            from_ts = any(self.space.unit_key(pts[i]) in self._from_ts for i in mine)
            if warm or not from_ts or not self.trust_region:
                self._states[r] = replace(state, best_key=min([state.best_key, *region_keys]))
                continue
            state = update_state(state, region_keys)
            if state.restart_triggered:
                state = make_state(self.space.dim, self.batch_size, epoch=self._next_epoch)
                self._next_epoch += 1
                self._init_queue = []
                self._global.add(r)
            self._states[r] = state

    # -------------------------------------------------------------- internals

    def _start_epoch(self) -> None:
        queue = [] if self._x0 is None else [self._x0]
        n = max(0, self.n_init - len(self.archive) - len(queue))
        self._init_queue = queue + self._sobol(n, exclude=queue)

    def _sobol(self, n: int, exclude: list[np.ndarray]) -> list[np.ndarray]:
        """``n`` fresh grid-snapped scrambled-Sobol points, skipping known designs."""
        out: list[np.ndarray] = []
        taken = self._seen | {self.space.unit_key(x) for x in exclude}
        for _ in range(50):
            if len(out) >= n:
                break
            self._sobol_calls += 1
            pts = self.space.round_trip(sobol_points(self.space.dim, 2 * (n - len(out)) + 8,
                                                     (self.seed, self.state.epoch, self._sobol_calls)))
            for x in pts:
                k = self.space.unit_key(x)
                if k not in taken and len(out) < n:
                    taken.add(k)
                    out.append(x)
        return out

    def training_set(self, region: int | None = None) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray,
                                                               np.ndarray]:
        """``(X, values, ok, center)``: data for the GPs (capped at ``max_train`` nearest the
        centre) and the centre of ``region`` (default: the one whose batch is next)."""
        X, values, ok = self.archive.training_data()
        state = self._states[self._turn if region is None else region]
        best = self.archive.best_index(state.epoch if self.trust_region else None, imputed=True)
        center = X[best]
        if len(X) > self.max_train:
            near = np.argsort(((X - center) ** 2).sum(1), kind="stable")[: self.max_train]
            X, ok = X[near], ok[near]
            values = {k: v[near] for k, v in values.items()}
        return X, values, ok, center

    def _box(self, center: np.ndarray, outputs, length: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A region's box (side ``length``, default the next region's), widened to reach the
        centre's grid neighbours."""
        lb, ub = tr_bounds(center, self.region_lengthscales(outputs), self.state.length if length is None else length)
        below, above = grid_neighbours(self.space, center)
        return np.minimum(lb, below), np.maximum(ub, above)

    def _candidates(self, box: tuple[np.ndarray, np.ndarray], center: np.ndarray, rng: np.random.Generator,
                    sobol: np.ndarray) -> np.ndarray:
        """TuRBO's candidates: Sobol points in the region ``box``, each perturbing a random subset of
        the centre's coordinates (``min(20/d, 1)`` of them on average)."""
        d = self.space.dim
        lb, ub = box
        pert = lb + (ub - lb) * sobol
        mask = rng.random((len(sobol), d)) <= min(20.0 / d, 1.0)
        none = ~mask.any(1)
        mask[none, rng.integers(0, d, size=none.sum())] = True
        return np.where(mask, pert, center)

    def _fresh(self, C: np.ndarray, taken: set[tuple[float, ...]]) -> np.ndarray:
        """``C`` snapped, de-duplicated (first occurrence kept) and without designs in ``taken``."""
        C = self.space.round_trip(C)
        C, first = np.unique(C, axis=0, return_index=True)
        C = C[np.argsort(first)]
        keep = np.array([self.space.unit_key(c) not in taken for c in C], dtype=bool)
        return C[keep]

    def _thompson(self, n: int, already: list[np.ndarray], region: int, whole_cube: bool = False) -> list[np.ndarray]:
        """``n`` designs for ``region`` by constrained Thompson sampling (the first, while no design is
        feasible and ``feasibility_first`` is on, by the largest probability of feasibility, climbed
        from the likeliest candidates by ``_climb``)."""
        X, values, ok, center = self.training_set(region)
        if ok.sum() < 2:
            return []
        outputs = self.surrogates.fit(X, values, ok)
        d = self.space.dim
        rng = np.random.default_rng((self.seed, self._asked, 7))
        sobol = sobol_points(d, self.n_candidates, (self.seed, self._asked, 11))
        taken = self._seen | {self.space.unit_key(x) for x in already}
        local = self.trust_region and not whole_cube
        box = self._box(center, outputs, self._states[region].length) if local else (np.zeros(d), np.ones(d))
        C = self._fresh(self._candidates(box, center, rng, sobol) if local else sobol, taken)
        if len(C) == 0:
            return []
        samples = sample_outputs(outputs, C, n, seed=hash((self.seed, self._asked)) % (2**31))
        logged = frozenset(name for name, fo in outputs.items() if fo.transform == "log")
        total, slack = sample_violations(self.spec, samples, logged)
        obj = None
        if self.spec.objective is not None:
            obj = self.spec.objective.to_min(samples[self.spec.objective.name])
        searching = not any(sc.feasible for sc in self.archive.scores)
        used = np.zeros(len(C), dtype=bool)
        chosen: list[np.ndarray] = []
        if self.feasibility_first and searching:
            lp = log_feasibility(self.spec, outputs, C)
            starts = np.argsort(-lp, kind="stable")[:CLIMB_STARTS]
            used[starts[0]] = True
            chosen.append(self._climb([*C[starts], center], lambda x: -_log_feasibility_t(self.spec, outputs, x),
                                      box, taken))
        keys = {self.space.unit_key(x) for x in chosen}
        j = len(chosen)
        while j < n:
            feas = (total[j] <= 0.0) & ~used
            if feas.any():
                score = obj[j] if obj is not None else -slack[j]
                pick = int(np.argmin(np.where(feas, score, np.inf)))
            else:
                viol = np.where(used, np.inf, total[j])
                if not np.isfinite(viol).any():
                    break
                pick = int(np.argmin(viol))
            used[pick] = True
            key = self.space.unit_key(C[pick])
            if key in keys:  # the climbed design may coincide with a candidate
                continue
            keys.add(key)
            chosen.append(C[pick])
            j += 1
        return chosen

    def _climb(self, starts: list[np.ndarray], criterion, box: tuple[np.ndarray, np.ndarray],
               taken: set[tuple[float, ...]]) -> np.ndarray:
        """The best grid design reached by L-BFGS-B descents of ``criterion`` (a torch function of
        `(1, d)` unit points, smaller is better) from each of ``starts`` inside ``box``; the first
        start when no descent reaches a new design that beats it.

        Random candidates in a box rarely land on a thin diagonal manifold (on the AutoCkt deck
        only designs whose two stage currents balance amplify at all); a descent moves along it,
        several variables at once. ``taken`` gains the returned design's key.
        """
        import torch
        from scipy.optimize import minimize

        def value_and_grad(u: np.ndarray) -> tuple[float, np.ndarray]:
            xt = torch.as_tensor(u.reshape(1, -1), dtype=torch.float64).requires_grad_(True)
            value = criterion(xt).sum()
            (grad,) = torch.autograd.grad(value, xt)
            return float(value.detach()), grad.reshape(-1).numpy()

        lb, ub = box
        with torch_threads():
            best, best_value = starts[0], value_and_grad(starts[0])[0]
            for x0 in starts:
                res = minimize(value_and_grad, np.clip(x0, lb, ub), jac=True, method="L-BFGS-B",
                               bounds=list(zip(lb, ub)), options={"maxiter": CLIMB_MAXITER})
                x = self.space.round_trip(np.clip(res.x, lb, ub))
                if self.space.unit_key(x) in taken:
                    continue
                value = value_and_grad(x)[0]
                if value < best_value:
                    best, best_value = x, value
        taken.add(self.space.unit_key(best))
        return best

    def region_lengthscales(self, outputs=None) -> np.ndarray:
        """Lengthscales `(d,)` shaping the region: the objective GP's, else the geometric mean
        over the constraint GPs (the SCBO tutorial uses the objective's; without one this is the
        natural summary)."""
        outputs = outputs or self.surrogates.outputs
        if self.spec.objective is not None and self.spec.objective.name in outputs:
            return outputs[self.spec.objective.name].lengthscales
        ls = [fo.lengthscales for name, fo in outputs.items() if name != LABEL]
        if not ls:
            return np.ones(self.space.dim)
        return np.exp(np.mean(np.log(np.stack(ls)), axis=0))
