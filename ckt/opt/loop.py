"""The sizing loop: ask a method, evaluate, record, repeat — then write the run's outputs.

``run_sizing`` owns the run's life cycle: history (every evaluation committed as it completes),
warm start from earlier runs on the same circuit, ``resume`` after a crash or kill, the stopping
rule, the progress line, and the output folder (``result.json``, ``best.cir``, plots,
``report.md``). It knows nothing of ngspice: any ``Evaluator`` will do.

Budget accounting: ``n_sims`` counts this run's search simulations. A design that was already
evaluated (in this run, an earlier run, or a warm-start database) is never simulated again; its
stored outcome is reused and costs nothing. Sensitivity finite differences and the final Bode
simulation are extra and reported separately.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ckt.errors import CktError, SpecError
from ckt.opt.baselines import METHODS, make_method
from ckt.opt.evaluator import Evaluator, Outcome
from ckt.opt.history import Evaluation, History
from ckt.opt.models import Archive
from ckt.opt.spec import Spec

STALL_LIMIT = 20
"""Consecutive batches with no new design after which the run stops (the method has converged
onto designs that were all evaluated before, e.g. on a coarse step grid)."""


@dataclass
class SizingResult:
    """What ``run_sizing`` returns and writes to ``result.json``."""

    feasible: bool
    n_sims: int
    sims_to_feasible: int | None
    best: dict | None
    wall_s: float
    method: str
    seed: int
    budget: int
    batch: int
    targets: dict
    objective: dict | None
    binding_constraints: list[str] | None
    n_failed: int
    n_reused: int
    n_warm: int
    n_extra_sims: int
    stopped: str
    convergence: dict = field(default_factory=dict)
    sensitivity: dict | None = None
    files: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def file_hash(path: str | Path) -> str:
    """SHA-256 (first 16 hex digits) of a file's bytes: identifies a netlist across runs."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


class _Progress:
    """One line per batch to stderr, in the format the brief asks for."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def line(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)


class _Run:
    """State of one run while it is going (kept off the public API)."""

    def __init__(self, spec: Spec, evaluator: Evaluator, history: History, run_id: int, method, progress: _Progress,
                 budget: int) -> None:
        self.spec = spec
        self.space = spec.space
        self.evaluator = evaluator
        self.history = history
        self.run_id = run_id
        self.method = method
        self.progress = progress
        self.budget = budget
        self.archive = Archive(spec)
        self.known: dict[tuple, Outcome] = {}
        self.own: list[int] = []  # archive indices of this run's simulations, in completion order
        self.n_reused = 0
        self.n_warm = 0
        self.first_feasible: int | None = None
        self.batch_id = 0
        self.iteration = 0
        self.trace: list[tuple[float, float]] = []

    @property
    def n_sims(self) -> int:
        return len(self.own)

    def _record(self, params: Mapping[str, float], outcome: Outcome, own: bool) -> None:
        x = self.space.to_unit(params)
        (score,) = self.archive.add([x], [outcome])
        self.known[self.space.key(params)] = outcome
        if own:
            self.own.append(len(self.archive) - 1)
            if score.feasible and self.first_feasible is None:
                self.first_feasible = self.n_sims
            self.trace.append(self._best_so_far())

    def _best_so_far(self) -> tuple[float, float]:
        best = self.archive.best_index()
        s = self.archive.scores[best]
        obj = s.objective if (s.feasible and s.objective is not None) else math.nan
        return (obj, s.violation)

    def warm(self, evals: Sequence[Evaluation]) -> None:
        """Tell the method about designs from earlier runs, re-scored by this spec."""
        pts, outs = [], []
        for e in evals:
            if not self.space.contains(e.params) or self.space.key(e.params) in self.known:
                continue
            self._record(e.params, e.outcome, own=False)
            pts.append(self.space.to_unit(e.params))
            outs.append(e.outcome)
        if pts:
            self.method.tell(pts, outs, warm=True)
            if self.archive.scores and any(s.feasible for s in self.archive.scores):
                self.first_feasible = 0
        self.n_warm = len(pts)

    def replay(self, evals: Sequence[Evaluation]) -> list[Evaluation]:
        """Tell the method this run's finished evaluations batch by batch; return the pending ones."""
        pending = []
        by_batch: dict[int, list[Evaluation]] = {}
        for e in evals:
            self.batch_id = max(self.batch_id, e.batch_id)  # new batches get fresh ids
            if e.kind != "search":
                continue
            if e.pending:
                pending.append(e)
            else:
                by_batch.setdefault(e.batch_id, []).append(e)
        for bid in sorted(by_batch):
            group = by_batch[bid]
            for e in group:
                self._record(e.params, e.outcome, own=True)
            self.method.tell([self.space.to_unit(e.params) for e in group], [e.outcome for e in group])
        self.iteration = len(by_batch)
        return pending

    def evaluate_rows(self, rows: list[tuple[int, dict[str, float]]], kind: str = "search") -> list[Outcome]:
        """Evaluate designs that already have history rows; commit each as it completes."""
        outcomes: list[Outcome | None] = [None] * len(rows)
        for i, raw in self.evaluator.evaluate([p for _, p in rows]):
            outcomes[i] = Outcome(raw.status, self.spec.complete(raw.values) if raw.ok else raw.values,
                                  raw.seconds, raw.message)
            self._store(rows[i], outcomes[i], kind)
        for i, o in enumerate(outcomes):
            if o is None:
                outcomes[i] = Outcome("error", message="the evaluator returned no outcome for this design")
                self._store(rows[i], outcomes[i], kind)
        return outcomes  # type: ignore[return-value]

    def _store(self, row: tuple[int, dict[str, float]], outcome: Outcome, kind: str) -> None:
        self.history.complete(row[0], outcome)
        if kind == "search":
            self._record(row[1], outcome, own=True)

    def step(self, q: int) -> bool:
        """One batch; False when the method has nothing new to propose."""
        points = self.method.ask(q)
        if not points:
            return False
        self.batch_id += 1
        self.iteration += 1
        params = [self.space.from_unit(p) for p in points]
        new_rows: list[tuple[int, dict[str, float]]] = []
        slots: dict[tuple, int] = {}
        for slot, p in enumerate(params):
            key = self.space.key(p)
            if key in self.known or key in slots:
                continue
            slots[key] = len(new_rows)
            new_rows.append((self.history.propose(self.run_id, self.batch_id, slot, p, self.method.name), p))
        fresh = self.evaluate_rows(new_rows) if new_rows else []
        outs = []
        for p in params:
            key = self.space.key(p)
            if key in slots:
                outs.append(fresh[slots[key]])
            else:
                outs.append(self.known[key])
                self.n_reused += 1
        self.method.tell(points, outs)
        self.report_progress()
        return bool(new_rows)

    def report_progress(self) -> None:
        best = self.archive.best_index()
        if best is None:
            return
        s = self.archive.scores[best]
        obj = ""
        if self.spec.objective is not None:
            shown = f"{s.objective:.4g}" if s.objective is not None and s.valid else "n/a"
            obj = f"  best {self.spec.objective.name} {shown}"
        state = getattr(self.method, "state", None)
        tr = f"  TR len {state.length:.3g}" if state is not None and getattr(self.method, "trust_region", False) else ""
        viol = f"{s.violation:.3g}" if math.isfinite(s.violation) else "inf"
        self.progress.line(f"[it {self.iteration}] sims {self.n_sims}/{self.budget}{obj}  violation {viol}{tr}"
                           f"  feasible {'yes' if s.feasible else 'no'}")


def run_sizing(
    spec: Spec,
    evaluator: Evaluator,
    *,
    out_dir: str | Path,
    budget: int = 100,
    batch_size: int = 4,
    method: str = "turbo",
    seed: int = 0,
    resume: bool = False,
    initial: Mapping[str, float] | None = None,
    netlist_hash: str = "",
    warm_start: Sequence[str | Path] = (),
    sensitivity_fd: bool = False,
    progress: bool = True,
    write_outputs: Callable[[Path, "SizingResult", _Run], dict] | None = None,
) -> SizingResult:
    """Size a circuit: evaluate up to ``budget`` designs and write the run's outputs.

    Args:
        spec: the problem.
        evaluator: evaluates batches of designs (``SimEvaluator`` or a fake).
        out_dir: folder for ``history.sqlite``, ``result.json`` and the report.
        budget: most search simulations this run may spend (counting those before a resume).
        batch_size: designs per batch.
        method: one of ``ckt.opt.baselines.METHODS``.
        seed: seeds the method.
        resume: continue the last run in ``out_dir/history.sqlite`` (its method, seed and batch
            size are used; the spec must be unchanged).
        initial: the netlist's current sizes, evaluated first (also the CMA-ES start).
        netlist_hash: identifies the circuit across runs for warm starts.
        warm_start: other history databases to learn from (same netlist hash and variables).
        sensitivity_fd: spend ``2 d`` extra simulations on finite differences around the best design.
        progress: print a line per batch to stderr.
        write_outputs: extra output writer ``(out_dir, result, run) -> {name: path}`` (the CLI uses it
            for ``best.cir`` and the Bode plot).
    """
    if method not in METHODS:
        raise SpecError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if budget < 1 or batch_size < 1:
        raise SpecError(f"budget and batch size must be positive, got {budget} and {batch_size}")
    t0 = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    space = spec.space
    x0 = None
    if initial is not None:
        missing = [n for n in space.names if n not in initial]
        if missing:
            raise SpecError(f"{spec.source or '<spec>'}: variable(s) {', '.join(missing)} are not .param values "
                            f"of the netlist (it defines: {', '.join(sorted(initial)) or 'none'})")
        x0 = space.to_unit(initial)
    with History(out / "history.sqlite") as history:
        pending: list[Evaluation] = []
        if resume:
            info = history.last_run()
            if info is None:
                raise CktError(f"{out / 'history.sqlite'}: nothing to resume (no run recorded)")
            if info.spec_hash != spec.digest():
                raise SpecError(f"{spec.source or '<spec>'}: the spec changed since the run in {out} was started; "
                                "start a new run (without --resume) to reuse its evaluations as a warm start")
            run_id, method, seed, batch_size = info.id, info.method, info.seed, info.batch
            history.update_budget(run_id, budget)
        else:
            run_id = history.start_run(netlist_hash=netlist_hash, spec_hash=spec.digest(), variables=space.names,
                                       seed=seed, method=method, batch=batch_size, budget=budget)
        m = make_method(method, spec, batch_size=batch_size, seed=seed, x0=x0)
        run = _Run(spec, evaluator, history, run_id, m, _Progress(progress), budget)
        warm_evals = history.designs_for(netlist_hash, space.names, exclude_run=run_id)
        for path in warm_start:
            with History(path) as other:
                warm_evals += other.designs_for(netlist_hash, space.names)
        run.warm(warm_evals)
        if resume:
            pending = run.replay(history.evaluations(run_id))
            if pending:
                run.progress.line(f"resume: {run.n_sims} finished evaluations replayed, "
                                  f"{len(pending)} unfinished re-evaluated")
                outs = run.evaluate_rows([(e.id, e.params) for e in pending])
                m.tell([space.to_unit(e.params) for e in pending], outs)
        stopped = "budget"
        stalls = 0
        while run.n_sims < budget:
            if spec.objective is None and run.first_feasible is not None:
                stopped = "feasible"
                break
            if run.step(min(batch_size, budget - run.n_sims)):
                stalls = 0
            else:
                stalls += 1
                if stalls >= STALL_LIMIT:
                    stopped = "converged"
                    break
        if spec.objective is None and run.first_feasible is not None:
            stopped = "feasible"
        result = _result(run, spec, method, seed, batch_size, budget, stopped, t0)
        from ckt.opt.sensitivity import analyse

        result.sensitivity, result.n_extra_sims = analyse(run, fd=sensitivity_fd)
        history.finish_run(run_id, "finished")
        from ckt.report.run_report import write_run_outputs

        result.wall_s = round(time.time() - t0, 3)
        files = write_run_outputs(out, result, spec)
        if write_outputs is not None:
            files.update(write_outputs(out, result, run))
        result.files = files
        result.wall_s = round(time.time() - t0, 3)
        (out / "result.json").write_text(json.dumps(result.to_json(), indent=2, default=_json_default) + "\n")
        from ckt.report.run_report import write_report

        write_report(out, result, spec)
    return result


def _json_default(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _result(run: _Run, spec: Spec, method: str, seed: int, batch: int, budget: int, stopped: str,
            t0: float) -> SizingResult:
    best_i = run.archive.best_index()
    best = None
    targets: dict = {}
    binding = None
    feasible = False
    if best_i is not None:
        s = run.archive.scores[best_i]
        feasible = s.feasible
        values = run.archive.values[best_i] or {}
        params = run.space.from_unit(run.archive.points[best_i])
        metric_names = set(spec.metric_names) | {n for n, _ in spec.derived}
        best = {
            "params": params,
            "measurements": {k: v for k, v in values.items() if k not in metric_names},
            "metrics": {k: v for k, v in values.items() if k in metric_names},
            "from_this_run": best_i in set(run.own),
            "status": "ok" if s.valid else "failed",
        }
        for t in spec.targets:
            v = values.get(t.name)
            targets[t.name] = {"min": t.lo, "max": t.hi, "value": _finite(v), "margin": _finite(t.margin(v)),
                               "met": t.violation(v) == 0.0}
        if not feasible:
            binding = [t.describe() for t in spec.targets if not targets[t.name]["met"]]
    objective = None
    if spec.objective is not None:
        objective = {"name": spec.objective.name, "sense": "minimize" if spec.objective.minimize else "maximize",
                     "value": _finite(best["metrics"].get(spec.objective.name)) if best else None}
    n_failed = sum(1 for i in run.own if not run.archive.scores[i].valid)
    conv = {
        "objective": [_finite(o) for o, _ in run.trace],
        "violation": [_finite(v) for _, v in run.trace],
    }
    return SizingResult(
        feasible=feasible, n_sims=run.n_sims, sims_to_feasible=run.first_feasible, best=best,
        wall_s=round(time.time() - t0, 3), method=method, seed=seed, budget=budget, batch=batch,
        targets=targets, objective=objective, binding_constraints=binding, n_failed=n_failed,
        n_reused=run.n_reused, n_warm=run.n_warm, n_extra_sims=0, stopped=stopped, convergence=conv,
    )
