"""The sizing loop: ask a method, evaluate, tell, repeat — and nothing else.

``optimize`` knows no files: history, resume and warm start reach it as a ``Prior`` (what was
evaluated before) and as ``Observer``s (told of every proposal and outcome as it happens, e.g.
``ckt.opt.history.Recorder`` commits each to SQLite); outputs and reports are written by the caller
(``ckt.opt.run.size``) from the returned ``Run``. The experiments call the same function.

Budget accounting: ``Run.n_sims`` counts the run's search simulations. A design already evaluated
(in this run, an earlier one, or a warm-start database) is never simulated again; its stored
outcome is reused and costs nothing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ckt.errors import EnvironmentFailure, SpecError
from ckt.opt.baselines import Method
from ckt.opt.evaluator import Evaluator, Outcome
from ckt.opt.spec import Spec
from ckt.sim.result import Status

STALL_LIMIT = 20
"""Consecutive batches with no new design after which the run stops (the method has converged
onto designs that were all evaluated before, e.g. on a coarse step grid)."""

SEARCH = "search"
"""``kind`` of the evaluations the budget counts (others: ``sensitivity``)."""

DESIGN_FAILURES = (Status.NONCONVERGENCE, Status.TIMEOUT)
"""Statuses that depend on the design; a batch failing only with these is not an environment fault."""


@dataclass(frozen=True)
class Problem:
    """What to size: the spec and the netlist's own sizes (evaluated first, the CMA-ES start)."""

    spec: Spec
    initial: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if self.initial is not None:
            missing = [n for n in self.spec.space.names if n not in self.initial]
            if missing:
                raise SpecError(f"{self.spec.source or '<spec>'}: variable(s) {', '.join(missing)} are not .param "
                                f"values of the netlist (it defines: {', '.join(sorted(self.initial)) or 'none'})")


@dataclass(frozen=True)
class Budget:
    """How much a run may spend: ``sims`` search simulations in batches of ``batch``."""

    sims: int
    batch: int = 4
    stall_limit: int = STALL_LIMIT

    def __post_init__(self) -> None:
        if self.sims < 1 or self.batch < 1:
            raise SpecError(f"budget and batch size must be positive, got {self.sims} and {self.batch}")


Design = tuple[Mapping[str, float], Outcome]


@dataclass(frozen=True)
class Prior:
    """What was evaluated before this call.

    Attributes:
        warm: designs of earlier runs (same context): they inform the method and cost nothing.
        done: this run's finished batches (a resume): replayed in order, counted in the budget.
        pending: this run's designs that never finished (killed mid-batch): evaluated first.
        last_batch: the highest batch id used so far (new batches continue from it).
    """

    warm: tuple[Design, ...] = ()
    done: tuple[tuple[Design, ...], ...] = ()
    pending: tuple[Mapping[str, float], ...] = ()
    last_batch: int = 0


class Observer:
    """Told of every proposal and outcome as it happens; override what you need."""

    def proposed(self, batch: int, designs: Sequence[Mapping[str, float]], kind: str) -> None:
        """``designs`` of batch ``batch`` are about to be evaluated."""

    def evaluated(self, batch: int, slot: int, outcome: Outcome, kind: str) -> None:
        """Design ``slot`` of batch ``batch`` finished (in completion order)."""

    def batch_done(self, run: Run) -> None:
        """A search batch was told to the method."""


class Run:
    """A run's state while ``optimize`` goes, and its record afterwards.

    Attributes:
        archive: the one archive of the run (the method's): every design told, scored by the spec.
        own: archive indices of this run's search simulations, in completion order.
        first_feasible: ``n_sims`` at the first feasible design (0 when a warm-start one is).
        first_failure: ``(n_sims, message)`` of the first evaluation with a failure message.
        trace: ``(best objective or nan, best violation)`` after each own simulation.
        stopped: ``budget``, ``feasible`` or ``converged`` once finished.
    """

    def __init__(self, problem: Problem, method: Method, budget: Budget) -> None:
        self.spec = problem.spec
        self.space = problem.spec.space
        self.method = method
        self.budget = budget
        self.archive = method.archive
        self.known: dict[tuple, Outcome] = {}
        self.own: list[int] = []
        self.n_reused = 0
        self.n_warm = 0
        self.first_feasible: int | None = None
        self.first_failure: tuple[int, str] | None = None
        self.trace: list[tuple[float, float]] = []
        self.batch_id = 0
        self.iteration = 0
        self.stopped = ""

    @property
    def n_sims(self) -> int:
        return len(self.own)

    def best(self) -> int | None:
        """Archive index of the best design told so far."""
        return self.archive.best_index()

    def tell(self, points: Sequence, outcomes: Sequence[Outcome], fresh: Sequence[bool], *, warm: bool = False) -> None:
        """Tell the method; the archive entries of ``fresh`` designs become this run's own."""
        start = len(self.archive)
        self.method.tell(points, outcomes, warm=warm)
        for j, (p, o, new) in enumerate(zip(points, outcomes, fresh)):
            self.known[self.space.unit_key(p)] = o
            if warm or not new:
                continue
            self.own.append(start + j)
            if o.message and self.first_failure is None:
                self.first_failure = (self.n_sims, o.message)
            if self.archive.scores[start + j].feasible and self.first_feasible is None:
                self.first_feasible = self.n_sims
            self.trace.append(self._best_so_far())

    def _best_so_far(self) -> tuple[float, float]:
        best = self.best()
        assert best is not None, "called after a design was told"
        s = self.archive.scores[best]
        obj = s.objective if (s.feasible and s.objective is not None) else math.nan
        return (obj, s.violation)

    def done(self) -> bool:
        return self.spec.objective is None and self.first_feasible is not None


def evaluate(run: Run, evaluator: Evaluator, designs: Sequence[Mapping[str, float]],
             observers: Sequence[Observer], kind: str = SEARCH) -> list[Outcome]:
    """Evaluate one batch, telling observers of each outcome as it arrives (derived values added).

    A design the evaluator returns no outcome for becomes an ``error`` outcome, never a crash.
    """
    run.batch_id += 1
    bid = run.batch_id
    for ob in observers:
        ob.proposed(bid, designs, kind)
    outcomes: list[Outcome | None] = [None] * len(designs)

    def settle(i: int, raw: Outcome) -> None:
        o = Outcome(raw.status, run.spec.complete(raw.values, designs[i]) if raw.ok else raw.values, raw.seconds,
                    raw.message)
        outcomes[i] = o
        for ob in observers:
            ob.evaluated(bid, i, o, kind)

    for i, raw in evaluator.evaluate(designs):
        settle(i, raw)
    for i, o in enumerate(outcomes):
        if o is None:
            settle(i, Outcome(Status.ERROR, message="the evaluator returned no outcome for this design"))
    return outcomes  # type: ignore[return-value]


def _environment_fault(outcomes: Sequence[Outcome]) -> EnvironmentFailure | None:
    """The shared failure of a batch in which every design failed with one message, if so."""
    if not outcomes or any(o.ok or o.status in DESIGN_FAILURES for o in outcomes):
        return None
    messages = Counter(o.message.strip() for o in outcomes)
    if len(messages) != 1:
        return None
    (message,) = messages
    return EnvironmentFailure(message or f"status {outcomes[0].status}", len(outcomes))


def _search_batch(run: Run, evaluator: Evaluator, designs: Sequence[Mapping[str, float]],
                  observers: Sequence[Observer], points: Sequence | None = None) -> bool:
    """Evaluate the new designs among ``designs``, tell the method all of them; False if none was new."""
    space = run.space
    points = [space.to_unit(p) for p in designs] if points is None else points
    keys = [space.unit_key(p) for p in points]
    fresh: dict[tuple, int] = {}
    for j, key in enumerate(keys):
        if key not in run.known and key not in fresh:
            fresh[key] = j
    first = run.n_sims == 0
    outs_new = evaluate(run, evaluator, [designs[j] for j in fresh.values()], observers) if fresh else []
    if first and fresh:
        fault = _environment_fault(outs_new)
        if fault is not None:
            raise fault
    by_key = dict(zip(fresh, outs_new))
    outs, is_new = [], []
    for j, key in enumerate(keys):
        new = fresh.get(key) == j
        outs.append(by_key[key] if key in by_key else run.known[key])
        is_new.append(new)
        run.n_reused += not new
    run.iteration += 1
    run.tell(points, outs, is_new)
    for ob in observers:
        ob.batch_done(run)
    return bool(fresh)


def _replay(run: Run, prior: Prior) -> None:
    space = run.space
    warm = [(p, o) for p, o in prior.warm if space.contains(p)]
    seen: set[tuple] = set()
    pts, outs = [], []
    for p, o in warm:
        x = space.to_unit(p)
        if space.unit_key(x) in seen:
            continue
        seen.add(space.unit_key(x))
        pts.append(x)
        outs.append(o)
    if pts:
        run.tell(pts, outs, [False] * len(pts), warm=True)
        if any(s.feasible for s in run.archive.scores):
            run.first_feasible = 0
    run.n_warm = len(pts)
    for group in prior.done:
        run.tell([space.to_unit(p) for p, _ in group], [o for _, o in group], [True] * len(group))
        run.iteration += 1
    run.batch_id = max(run.batch_id, prior.last_batch)


def optimize(problem: Problem, evaluator: Evaluator, method: Method, budget: Budget,
             observers: Sequence[Observer] = (), prior: Prior = Prior()) -> Run:
    """Size ``problem``: evaluate up to ``budget.sims`` designs proposed by ``method``.

    Every target, objective and derived name is checked against what the evaluator measures
    before the first simulation. Stops at the budget, at the first feasible design when there is
    no objective, or after ``budget.stall_limit`` batches with nothing new.

    Raises:
        UnknownNameError: the spec names something the evaluator does not measure.
        EnvironmentFailure: every design of the run's first batch failed with the same message.
    """
    spec = problem.spec
    provided = evaluator.provides
    if provided is not None:
        spec.check_names(provided.names, provided.source)
    run = Run(problem, method, budget)
    _replay(run, prior)
    if prior.pending:
        pending = [dict(p) for p in prior.pending][: max(0, budget.sims - run.n_sims)]
        if pending:
            _search_batch(run, evaluator, pending, observers)
    stalls = 0
    run.stopped = "budget"
    while run.n_sims < budget.sims and not run.done():
        points = method.ask(min(budget.batch, budget.sims - run.n_sims))
        new = bool(points) and _search_batch(run, evaluator, [run.space.from_unit(p) for p in points],
                                             observers, points)
        stalls = 0 if new else stalls + 1
        if stalls >= budget.stall_limit:
            run.stopped = "converged"
            break
    if run.done():
        run.stopped = "feasible"
    return run
