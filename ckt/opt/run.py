"""A whole sizing run as ``ckt size`` does it: the pure loop composed with its folder and outputs.

``size`` = ``RunFolder`` (lock, history, resume, warm start) + ``optimize`` (with the history
``Recorder`` and a console ``Progress`` as observers) + the outputs written here afterwards:
``result.json``, ``best.cir``, plots and ``report.md``. With the spec's ``corners:`` the best design's
value at every corner is recorded, and with ``mc`` samples its Monte Carlo mismatch yield
(``ckt.opt.montecarlo``), both as extra simulations after the search. Nothing is written when the run stops on an
error (an unknown name, an environment failure): a stale ``result.json`` or ``report.md`` of an
earlier run in the folder is removed when a run starts, so the folder never shows a verdict the
current run did not reach.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ckt.errors import SpecError
from ckt.opt.baselines import METHODS, make_method
from ckt.opt.evaluator import Evaluator
from ckt.opt.history import RunFolder
from ckt.opt.loop import Budget, Observer, Problem, Run, optimize
from ckt.opt.models import Archive
from ckt.opt.spec import Spec

BEST_DIGITS = 6
"""Significant digits of the sizes written to ``best.cir`` (readable; the exact values are in
``result.json``)."""


@dataclass(frozen=True)
class RunOptions:
    """How ``ckt size`` runs (its flags), apart from the problem and the evaluator."""

    budget: int = 100
    batch: int = 4
    method: str = "turbo"
    seed: int = 0
    resume: bool = False
    warm_start: tuple[str, ...] = ()
    sensitivity_fd: bool = False
    progress: bool = True
    mc: int = 0
    mc_seed: int = 1

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise SpecError(f"unknown method {self.method!r}; expected one of {', '.join(METHODS)}")
        if self.mc < 0:
            raise SpecError(f"the number of Monte Carlo samples cannot be negative, got {self.mc}")
        if self.mc_seed < 1:
            raise SpecError(f"the Monte Carlo seed must be a positive integer, got {self.mc_seed}")


@dataclass
class SizingResult:
    """What ``size`` returns and writes to ``result.json``."""

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
    margin: float = 0.0
    trust_deck: bool = False
    first_failure: dict | None = None
    convergence: dict = field(default_factory=dict)
    sensitivity: dict | None = None
    corners: list[dict] | None = None
    mc_yield: dict | None = None
    files: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


class Progress(Observer):
    """One line per batch to stderr, and the first failure message once."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._failure_shown = False

    def _print(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)

    def batch_done(self, run: Run) -> None:
        if run.first_failure is not None and not self._failure_shown:
            self._failure_shown = True
            n, message = run.first_failure
            self._print(f"first failure (simulation {n}): {message}")
        best = run.best()
        if best is None:
            return
        s = run.archive.scores[best]
        obj = ""
        if run.spec.objective is not None:
            shown = f"{s.objective:.4g}" if s.objective is not None and s.valid else "n/a"
            obj = f"  best {run.spec.objective.name} {shown}"
        state = getattr(run.method, "state", None)
        tr = f"  TR len {state.length:.3g}" if state is not None and getattr(run.method, "trust_region", False) else ""
        viol = f"{s.violation:.3g}" if math.isfinite(s.violation) else "inf"
        self._print(f"[it {run.iteration}] sims {run.n_sims}/{run.budget.sims}{obj}  violation {viol}{tr}"
                    f"  feasible {'yes' if s.feasible else 'no'}")


def size(spec: Spec, evaluator: Evaluator, out_dir: str | Path, options: RunOptions = RunOptions(), *,
         initial: Mapping[str, float] | None = None, netlist=None) -> SizingResult:
    """Size a circuit into ``out_dir``: lock it, run ``optimize`` with history, write the outputs.

    Args:
        spec: the problem.
        evaluator: ``SimEvaluator`` or a fake; its ``context`` keys reuse across runs.
        out_dir: the run's folder.
        options: the ``ckt size`` flags.
        initial: the netlist's current sizes (evaluated first).
        netlist: the parsed ``Netlist``, for ``best.cir`` (none written without it).
    """
    t0 = time.time()
    out = Path(out_dir)
    if options.mc:  # before any simulation: a PDK without mismatch is the user's error, not the run's
        check_mismatch(spec)
    problem = Problem(spec, initial)
    with RunFolder(out) as folder:
        session = folder.start(spec, evaluator.context, method=options.method, seed=options.seed,
                               batch=options.batch, budget=options.budget, resume=options.resume,
                               warm_start=options.warm_start)
        for stale in ("result.json", "report.md"):
            (out / stale).unlink(missing_ok=True)
        x0 = None if initial is None else spec.space.to_unit(initial)
        method = make_method(session.method, spec, batch_size=session.batch, seed=session.seed, x0=x0,
                             archive=Archive(spec))
        observers: Sequence[Observer] = (session.recorder, Progress(options.progress))
        history = folder.history
        assert history is not None
        try:
            run = optimize(problem, evaluator, method, Budget(options.budget, session.batch), observers,
                           session.prior)
        except BaseException:
            history.finish_run(session.run_id, "failed")
            raise
        result = summarise(run, session.seed, t0)
        from ckt.opt.sensitivity import analyse

        result.sensitivity, result.n_extra_sims = analyse(run, evaluator if options.sensitivity_fd else None,
                                                          [session.recorder])
        robustness(result, spec, evaluator, options)
        history.finish_run(session.run_id, "finished")
        write_outputs(out, result, spec, evaluator, netlist)
        result.wall_s = round(time.time() - t0, 3)
        (out / "result.json").write_text(json.dumps(result.to_json(), indent=2, default=_json_default) + "\n")
        from ckt.report.run_report import write_report

        write_report(out, result, spec)
    return result


def check_mismatch(spec: Spec) -> None:
    """Raise unless Monte Carlo mismatch can run on ``spec``: a generated testbench on a PDK whose
    models carry mismatch (``SpecError`` naming the spec file, with the PDK's reason)."""
    from ckt.errors import PdkError
    from ckt.sim.montecarlo import mismatch_switch

    where = spec.source or "<spec>"
    if spec.testbench is None:
        raise SpecError(f"{where}: Monte Carlo (--mc) needs a generated testbench (a testbench: block)")
    try:
        mismatch_switch(spec.pdk)
    except PdkError as exc:
        raise SpecError(f"{where}: --mc: {exc}") from None


def robustness(result: SizingResult, spec: Spec, evaluator: Evaluator, options: RunOptions) -> None:
    """The best design's value at every corner (``corners:``) and its Monte Carlo yield (``mc``),
    recorded in ``result`` with the simulations they cost."""
    if result.best is None:
        return
    params = result.best["params"]
    corner_values = getattr(evaluator, "corner_values", None)
    if spec.corners is not None and corner_values is not None:
        result.corners = corner_values(params)
        result.n_extra_sims += len(result.corners)
    if options.mc:
        from ckt.opt.montecarlo import estimate_yield

        result.mc_yield = estimate_yield(spec, evaluator, params, options.mc, options.mc_seed).to_json()
        result.n_extra_sims += options.mc * (spec.corners.size if spec.corners is not None else 1)


def write_outputs(out: Path, result: SizingResult, spec: Spec, evaluator: Evaluator, netlist) -> None:
    """Plots, ``best.cir`` and (testbench runs) the Bode plot and the closed-loop step response;
    records them in ``result.files``."""
    from ckt.report.run_report import write_run_outputs

    result.files = write_run_outputs(out, result, spec)
    if result.best is None:
        return
    params = result.best["params"]
    if netlist is not None:
        write_best_netlist(out / "best.cir", netlist, spec, params)
        result.files["best_netlist"] = "best.cir"
    responses = getattr(evaluator, "responses", None)
    if responses is None:
        return
    bode, step = responses(params)
    result.n_extra_sims += 2
    if bode is not None:
        from ckt.report.bode import plot_bode

        plot_bode(bode[0], bode[1], out / "bode.png", title="best design: open-loop response")
        result.files["bode"] = "bode.png"
    if step is not None:
        from ckt.report.step import plot_step

        tol = getattr(getattr(evaluator, "testbench", None), "settle_tol", 0.01)
        plot_step(step[0], step[1], out / "step.png", tol=tol, title="best design: unity-gain follower step")
        result.files["step"] = "step.png"


def write_best_netlist(path: Path, netlist, spec: Spec, params: Mapping[str, float]) -> Path:
    """The netlist with the best sizes, runnable from anywhere: includes absolute, the PDK bound
    (its model files included by absolute path), sizes at ``BEST_DIGITS`` significant digits."""
    from ckt.netlist.write import write_spice
    from ckt.sim.deck import prepare

    readable = {k: float(f"{float(v):.{BEST_DIGITS}g}") for k, v in params.items()}
    prepared = prepare(netlist, overrides=readable, pdk=spec.pdk, models=spec.models)
    path.write_text(write_spice(prepared.netlist))
    return path


def summarise(run: Run, seed: int, t0: float) -> SizingResult:
    """The ``SizingResult`` of a finished ``Run`` (outputs and sensitivity filled in later)."""
    spec = run.spec
    archive = run.archive
    best_i = run.best()
    best: dict[str, Any] | None = None
    targets: dict = {}
    binding = None
    feasible = False
    if best_i is not None:
        s = archive.scores[best_i]
        feasible = s.feasible
        values = archive.values[best_i] or {}
        metric_names = set(spec.metric_names) | {n for n, _ in spec.derived}
        best = {
            "params": run.space.from_unit(archive.points[best_i]),
            "measurements": {k: v for k, v in values.items() if k not in metric_names},
            "metrics": {k: v for k, v in values.items() if k in metric_names},
            "from_this_run": best_i in set(run.own),
            "status": "ok" if s.valid else "failed",
        }
        for t in spec.targets:
            v = values.get(t.name)
            targets[t.name] = {"min": t.lo, "max": t.hi, "value": _finite(v), "margin": _finite(t.margin(v)),
                               "required_margin": 0.0 if t.implied_by else spec.margin,
                               "implied_by": t.implied_by, "met": t.violation(v, spec.margin) == 0.0}
        if not feasible:
            binding = [t.describe(0.0 if t.implied_by else spec.margin) for t in spec.targets
                       if not targets[t.name]["met"]]
    objective = None
    if spec.objective is not None:
        objective = {"name": spec.objective.name, "sense": "minimize" if spec.objective.minimize else "maximize",
                     "value": _finite(best["metrics"].get(spec.objective.name)) if best else None}
    failure = None
    if run.first_failure is not None:
        failure = {"simulation": run.first_failure[0], "message": run.first_failure[1]}
    return SizingResult(
        feasible=feasible, n_sims=run.n_sims, sims_to_feasible=run.first_feasible, best=best,
        wall_s=round(time.time() - t0, 3), method=run.method.name, seed=seed, budget=run.budget.sims,
        batch=run.budget.batch, targets=targets, objective=objective, binding_constraints=binding,
        n_failed=sum(1 for i in run.own if not archive.scores[i].valid), n_reused=run.n_reused,
        n_warm=run.n_warm, n_extra_sims=0, stopped=run.stopped, margin=spec.margin, trust_deck=spec.trust_deck,
        first_failure=failure,
        convergence={"objective": [_finite(o) for o, _ in run.trace], "violation": [_finite(v) for _, v in run.trace]},
    )


def _json_default(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)
