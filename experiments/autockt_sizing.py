"""The AutoCkt two-stage op-amp sizing experiment: every method on the same sampled targets.

AutoCkt (Settaluri et al., DATE 2020) samples target specs of a two-stage op-amp (45 nm PTM,
``netlists/autockt_two_stage.cir``; ranges in ``netlists/autockt_two_stage.yaml``) and reports how many
a trained RL agent reaches. Here each target is a constraint-satisfaction problem (no objective:
stop at the first feasible design) solved from scratch, with no training, by every method through
one harness: the ``ckt size`` loop (``ckt.opt.loop.optimize``) with each ``ckt.opt.baselines``
method, one ngspice evaluator and one budget. ``sims_to_feasible`` counts distinct designs a method simulated for that target up to and
including the first feasible one.

Simulations are deterministic, so a design already simulated for another target or method is
served from an in-process memo instead of running ngspice again: it still counts as a simulation
for the method that asked for it (budgets and sims-to-feasible are unaffected); only wall time
shrinks, and the JSON records how many ngspice runs were real.

Usage::

    python experiments/autockt_sizing.py --targets 100 --budget 200 --methods turbo,random,cmaes,bo,optuna \
        --seed 0 --workers 2 --out experiments/results [--resume]

``--resume`` continues an interrupted run; naming more methods on resume adds only their runs on
the targets already done (each method's seed depends on the target and the method's name only).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
NETLIST = ROOT / "netlists" / "autockt_two_stage.cir"
RANGES = ROOT / "netlists" / "autockt_two_stage.yaml"

sys.path.insert(0, str(ROOT))

from ckt.netlist.read import read_netlist  # noqa: E402
from ckt.opt.baselines import METHODS, make_method  # noqa: E402
from ckt.opt.evaluator import Evaluator, Outcome, SimEvaluator  # noqa: E402
from ckt.opt.loop import Budget, Problem, optimize  # noqa: E402
from ckt.opt.space import Variable  # noqa: E402
from ckt.opt.spec import Spec, Target  # noqa: E402

BATCH = 4
"""Designs per batch for every method (two workers each run two designs per batch)."""


def variables(ranges: dict) -> tuple[Variable, ...]:
    """The published grid, searched in log coordinates.

    Transistor multipliers 1..100 matter by ratio (mirror ratios, gm ratios), and cc spans two
    decades, so every variable is declared ``log``; the grid (min, max, step) is exactly the
    published one, only the optimisers' coordinates change.
    """
    return tuple(Variable(name, float(lo), float(hi), float(step), True)
                 for name, (lo, hi, step) in ranges["variables"].items())


def sample_targets(ranges: dict, n: int, seed: int) -> list[dict[str, float]]:
    """``n`` targets drawn uniformly from the published ranges (AutoCkt's sampling)."""
    rng = np.random.default_rng(seed)
    t = ranges["targets"]
    out = []
    for _ in range(n):
        out.append({
            "gain_min": float(rng.uniform(*t["gain_min"])),
            "ugbw_min": float(rng.uniform(*t["ugbw_min"])),
            "phm_min": 60.0,
            "ibias_max": float(rng.uniform(*t["ibias_max"])),
        })
    return out


def make_spec(vars_: tuple[Variable, ...], target: Mapping[str, float]) -> Spec:
    return Spec(vars_, (Target("gain", lo=target["gain_min"]), Target("ugbw", lo=target["ugbw_min"]),
                        Target("pm", lo=target["phm_min"]), Target("supply_current", hi=target["ibias_max"])),
                source=str(RANGES))


class MemoEvaluator:
    """Serves designs simulated before (any target, any method) from memory; counts real runs."""

    def __init__(self, inner: Evaluator) -> None:
        self.inner = inner
        self.provides = inner.provides
        self.memo: dict[tuple, Outcome] = {}
        self.real = 0

    def evaluate(self, batch: Sequence[Mapping[str, float]]) -> Iterator[tuple[int, Outcome]]:
        keys = [tuple(sorted((k, float(f"{v:.10g}")) for k, v in p.items())) for p in batch]
        todo = [i for i, k in enumerate(keys) if k not in self.memo]
        for i, k in enumerate(keys):
            if k in self.memo:
                yield i, self.memo[k]
        if todo:
            self.real += len(todo)
            for j, o in self.inner.evaluate([batch[i] for i in todo]):
                self.memo[keys[todo[j]]] = o
                yield todo[j], o


def solve(spec: Spec, method: str, evaluator: Evaluator, budget: int, seed: int, initial: Mapping[str, float]) -> dict:
    """Run one method on one target with the ``ckt size`` loop until the first feasible design or the budget."""
    t0 = time.time()
    m = make_method(method, spec, batch_size=BATCH, seed=seed, x0=spec.space.to_unit(initial))
    run = optimize(Problem(spec, initial), evaluator, m, Budget(budget, BATCH))
    best = min((run.archive.scores[i].violation for i in run.own), default=math.inf)
    first = run.first_feasible
    out = {"success": first is not None, "sims_to_feasible": first, "sims": run.n_sims,
           "best_violation": best if math.isfinite(best) else None, "wall_s": round(time.time() - t0, 3)}
    i = run.best()
    if i is not None and run.archive.values[i] is not None:  # the design, so that others can re-run it
        out["best_params"] = spec.space.from_unit(run.archive.points[i])
        out["best_values"] = {t.name: run.archive.values[i].get(t.name) for t in spec.targets}
    return out


def summarise(records: list[dict], methods: list[str], budget: int) -> dict:
    """Per-method success rates, sims-to-feasible percentiles and wall time."""
    by_t: dict[int, dict[str, dict]] = {}
    for r in records:
        by_t.setdefault(r["target_index"], {})[r["method"]] = r
    done = [t for t, rs in by_t.items() if all(m in rs for m in methods)]
    feasible_t = [t for t in done if any(by_t[t][m]["success"] for m in methods)]
    out = {"n_targets": len(done), "n_feasible_targets": len(feasible_t), "methods": {}}
    for m in methods:
        rs = [by_t[t][m] for t in done]
        succ = [r["sims_to_feasible"] for r in rs if r["success"]]
        censored = [r["sims_to_feasible"] if r["success"] else budget + 1 for r in rs]
        out["methods"][m] = {
            "success_all": len(succ) / max(len(rs), 1),
            "success_feasible": sum(by_t[t][m]["success"] for t in feasible_t) / max(len(feasible_t), 1),
            "median_sims_successes": float(np.median(succ)) if succ else None,
            "p90_sims_successes": float(np.percentile(succ, 90)) if succ else None,
            "median_sims_censored": float(np.median(censored)) if censored else None,
            "p90_sims_censored": float(np.percentile(censored, 90)) if censored else None,
            "mean_sims_spent": float(np.mean([r["sims"] for r in rs])) if rs else None,
            "wall_s_total": round(sum(r["wall_s"] for r in rs), 1),
            "wall_s_median": float(np.median([r["wall_s"] for r in rs])) if rs else None,
        }
    return out


def markdown(summary: dict, budget: int) -> str:
    lines = [f"Targets: {summary['n_targets']} (met by at least one method: {summary['n_feasible_targets']}); "
             f"budget {budget} simulations; 'censored' counts a failure as {budget + 1}.", "",
             "| method | success (all) | success (feasible targets) | median sims (successes) | p90 sims (successes) "
             "| median sims (censored) | p90 sims (censored) | wall total (s) | wall median (s) |",
             "|---|---|---|---|---|---|---|---|---|"]

    def f(x, pct=False):
        if x is None:
            return "—"
        return f"{100 * x:.1f}%" if pct else f"{x:g}"

    for m, s in summary["methods"].items():
        lines.append(f"| {m} | {f(s['success_all'], True)} | {f(s['success_feasible'], True)} | "
                     f"{f(s['median_sims_successes'])} | {f(s['p90_sims_successes'])} | {f(s['median_sims_censored'])} "
                     f"| {f(s['p90_sims_censored'])} | {s['wall_s_total']:.1f} | {f(s['wall_s_median'])} |")
    return "\n".join(lines)


def plot(records: list[dict], methods: list[str], budget: int, summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    n_t = max(summary["n_targets"], 1)
    for m in methods:
        xs = sorted(r["sims_to_feasible"] for r in records if r["method"] == m and r["success"])
        if xs:
            a.step([0] + xs, [0] + [(i + 1) / n_t for i in range(len(xs))], where="post", label=m)
        else:
            a.plot([0, budget], [0, 0], label=m)
    a.set_xlim(0, budget)
    a.set_ylim(0, 1)
    a.set_xlabel("simulations")
    a.set_ylabel("fraction of all targets met")
    a.set_title("CDF of simulations to the first feasible design")
    a.legend()
    rates = [summary["methods"][m]["success_feasible"] for m in methods]
    b.bar(methods, rates, color=[f"C{i}" for i in range(len(methods))])
    b.tick_params(axis="x", labelrotation=25)
    for label in b.get_xticklabels():
        label.set_horizontalalignment("right")
    b.set_ylim(0, 1.05)
    b.set_ylabel("success rate on feasible targets")
    b.set_title(f"{summary['n_feasible_targets']} feasible of {summary['n_targets']} targets, budget {budget}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=100)
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--methods", default="turbo,random,cmaes,bo,optuna")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "experiments" / "results"))
    ap.add_argument("--name", default="autockt_sizing", help="stem of the JSON and PNG files")
    ap.add_argument("--resume", action="store_true", help="continue from the JSON of an interrupted run")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="start no new target after this many minutes (the JSON says how many were done)")
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / f"{args.name}.json", out / f"{args.name}.png"

    from ckt.sim.executor import make_executor

    ranges = yaml.safe_load(RANGES.read_text())
    vars_ = variables(ranges)
    targets = sample_targets(ranges, args.targets, args.seed)
    config = {"targets": args.targets, "budget": args.budget, "methods": methods, "seed": args.seed,
              "batch": BATCH, "workers": args.workers, "netlist": str(NETLIST.relative_to(ROOT))}
    records: list[dict] = []
    real_sims = 0
    elapsed_before = 0.0
    if args.resume and json_path.exists():
        old = json.loads(json_path.read_text())
        same = {k: v for k, v in old["config"].items() if k != "methods"} == \
            {k: v for k, v in config.items() if k != "methods"}
        if not same:
            print(f"{json_path}: was written with another configuration; not resuming", file=sys.stderr)
            return 2
        # a resume may name more methods: only their runs are added (records are per target and method)
        methods = list(dict.fromkeys(old["config"]["methods"] + methods))
        config["methods"] = methods
        records = old["records"]
        elapsed_before = old.get("elapsed_s", 0.0)
        real_sims = old.get("real_ngspice_runs", 0)
    done = {(r["target_index"], r["method"]) for r in records}

    spec0 = make_spec(vars_, targets[0])
    executor = make_executor("local", workers=args.workers)
    sim = SimEvaluator(read_netlist(NETLIST), spec0, executor, source=str(NETLIST))
    memo = MemoEvaluator(sim)
    t_start = time.time()

    def save() -> dict:
        summary = summarise(records, methods, args.budget)
        json_path.write_text(json.dumps({"config": config, "targets": targets, "summary": summary,
                                         "real_ngspice_runs": real_sims + memo.real,
                                         "elapsed_s": round(elapsed_before + time.time() - t_start, 1),
                                         "stopped_early": stopped_early,
                                         "machine": "2-core x86 VM, ngspice 39 (libngspice workers)",
                                         "records": records}, indent=1) + "\n")
        return summary

    stopped_early = False
    try:
        for ti, target in enumerate(targets):
            if args.max_minutes is not None and time.time() - t_start > 60 * args.max_minutes:
                stopped_early = True
                print(f"time limit reached: {ti} of {len(targets)} targets done", flush=True)
                break
            spec = make_spec(vars_, target)
            line = []
            for m in methods:
                if (ti, m) in done:
                    continue
                seed = args.seed * 100003 + ti * 101 + METHODS.index(m)  # independent of the list's order
                r = solve(spec, m, memo, args.budget, seed=seed, initial=sim.initial)
                records.append({"target_index": ti, "method": m, "target": target, **r})
                line.append(f"{m} {r['sims_to_feasible'] if r['success'] else 'x'}")
            if line:
                save()
                print(f"[target {ti + 1}/{len(targets)}] gain>={target['gain_min']:.0f} "
                      f"ugbw>={target['ugbw_min']:.3g} I<={target['ibias_max']:.3g}: {', '.join(line)} "
                      f"({time.time() - t_start:.0f} s)", flush=True)
    finally:
        executor.close()
    summary = save()
    plot(records, methods, args.budget, summary, png_path)
    print(markdown(summary, args.budget))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
