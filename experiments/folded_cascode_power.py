"""Power minimisation on the folded cascode: every method, several seeds, one harness.

The problem is ``netlists/folded_cascode.yaml`` on ``netlists/folded_cascode.cir`` (PTM 180 nm,
12 variables, gain >= 68 dB, UGBW >= 50 MHz, PM >= 60 deg, minimise ``power_w``; the netlist's own
sizes miss the gain and UGBW targets). Each (method, seed) pair is one ``ckt.opt.loop.optimize``
call with the same budget and batch size, starting from the netlist's sizes, the loop
``ckt size --method M --seed S`` runs (without its history folder, so no run warm-starts from
another), so the methods differ only in how they choose designs.

Recorded per run: whether a feasible design was found, the simulations to the first one, and the
best feasible power after every simulation. The figure shows the median over seeds of that curve
per method (a point is drawn once more than half the seeds are feasible there) with the band
between the best and worst seed that is feasible, and the fraction of seeds feasible.

Usage::

    python experiments/folded_cascode_power.py --seeds 0,1,2 --budget 150 --methods turbo,bo,random,cmaes \
        --workers 2 --out experiments/results [--resume]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NETLIST = ROOT / "netlists" / "folded_cascode.cir"
SPEC = ROOT / "netlists" / "folded_cascode.yaml"
NAME = "folded_cascode_power"

sys.path.insert(0, str(ROOT))

from ckt.errors import CktError  # noqa: E402
from ckt.netlist.read import read_netlist  # noqa: E402
from ckt.opt.baselines import METHODS, make_method  # noqa: E402
from ckt.opt.evaluator import SimEvaluator  # noqa: E402
from ckt.opt.loop import Budget, Problem, optimize  # noqa: E402
from ckt.opt.run import summarise  # noqa: E402
from ckt.opt.spec import load_spec  # noqa: E402
from ckt.sim.executor import make_executor  # noqa: E402


def config(args: argparse.Namespace, spec_digest: str, context: str) -> dict:
    """What must match for ``--resume`` to mix earlier runs with new ones (``context``: the
    evaluator's key of netlist, testbench, model files and simulator)."""
    return {"netlist": NETLIST.relative_to(ROOT).as_posix(), "spec": SPEC.relative_to(ROOT).as_posix(),
            "spec_digest": spec_digest, "context": context, "budget": args.budget, "batch": args.batch}


def one_run(spec, evaluator, method: str, seed: int, budget: int, batch: int) -> dict:
    """One sizing run: the ``ckt size`` loop, fresh (no history, so no warm start)."""
    t0 = time.time()
    m = make_method(method, spec, batch_size=batch, seed=seed, x0=spec.space.to_unit(evaluator.initial))
    run = optimize(Problem(spec, evaluator.initial), evaluator, m, Budget(budget, batch))
    res = summarise(run, seed, t0)
    metrics = res.best["metrics"] if res.best else {}
    return {
        "method": method, "seed": seed, "feasible": res.feasible, "sims_to_feasible": res.sims_to_feasible,
        "best_power_w": metrics.get("power_w") if res.feasible else None,
        "best_metrics": metrics, "best_params": res.best["params"] if res.best else None,
        "n_sims": res.n_sims, "n_failed": res.n_failed, "stopped": res.stopped, "wall_s": res.wall_s,
        # best feasible power after each simulation; None until the first feasible design
        "trace_power_w": res.convergence["objective"],
    }


def curves(runs: Sequence[dict], budget: int) -> np.ndarray:
    """``(seeds, budget)`` best feasible power after each simulation, ``inf`` while infeasible.

    A run that stopped early keeps its last value to the end of the budget.
    """
    out = np.full((len(runs), budget), np.inf)
    for i, r in enumerate(runs):
        tr = [math.inf if v is None else v for v in r["trace_power_w"]][:budget]
        if tr:
            out[i, :len(tr)] = tr
            out[i, len(tr):] = tr[-1]
    return out


def summary(runs: Sequence[dict], methods: Sequence[str]) -> list[dict]:
    """Per method: feasible seeds, median simulations to feasible, best feasible power statistics."""
    rows = []
    for m in methods:
        mine = [r for r in runs if r["method"] == m]
        if not mine:
            continue
        feas = [r for r in mine if r["feasible"]]
        powers = [r["best_power_w"] for r in feas]
        sims = [r["sims_to_feasible"] for r in feas]
        rows.append({
            "method": m, "runs": len(mine), "feasible": len(feas),
            "median_sims_to_feasible": float(np.median(sims)) if sims else None,
            "median_best_power_w": float(np.median(powers)) if powers else None,
            "min_best_power_w": min(powers) if powers else None,
            "max_best_power_w": max(powers) if powers else None,
            "median_wall_s": float(np.median([r["wall_s"] for r in mine])),
        })
    return rows


def markdown(rows: Sequence[dict], default_power_w: float | None) -> str:
    def uw(x: float | None) -> str:
        return "–" if x is None else f"{x * 1e6:.1f}"

    lines = ["| method | feasible runs | median sims to feasible | median best power of feasible runs (µW) "
             "| best–worst (µW) | median wall (s) |", "|---|---|---|---|---|---|"]
    for r in rows:
        sims = "–" if r["median_sims_to_feasible"] is None else f"{r['median_sims_to_feasible']:g}"
        lo, hi = r["min_best_power_w"], r["max_best_power_w"]
        spread = "–" if lo is None else f"{uw(lo)}–{uw(hi)}"
        lines.append(f"| {r['method']} | {r['feasible']}/{r['runs']} | {sims} | {uw(r['median_best_power_w'])} "
                     f"| {spread} | {r['median_wall_s']:.0f} |")
    if default_power_w is not None:
        lines.append(f"\nThe netlist's own sizes (infeasible): {uw(default_power_w)} µW.")
    return "\n".join(lines)


def plot(runs: Sequence[dict], methods: Sequence[str], budget: int, default_power_w: float | None,
         path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, axf) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    x = np.arange(1, budget + 1)
    for m in methods:
        mine = [r for r in runs if r["method"] == m]
        if not mine:
            continue
        c = curves(mine, budget) * 1e6
        med = np.median(c, axis=0)  # inf while half or more of the seeds are infeasible
        finite = np.isfinite(c)
        lo = np.where(finite.any(axis=0), np.min(c, axis=0), np.nan)
        hi = np.where(finite.any(axis=0), np.max(np.where(finite, c, -np.inf), axis=0), np.nan)
        line, = ax.step(x, np.where(np.isfinite(med), med, np.nan), where="post",
                        label=f"{m} (median of {len(mine)})")
        ax.fill_between(x, lo, hi, step="post", alpha=0.12, color=line.get_color(), linewidth=0)
        axf.step(x, finite.mean(axis=0), where="post", color=line.get_color())
    if default_power_w is not None:
        ax.axhline(default_power_w * 1e6, color="grey", linestyle="--", linewidth=1,
                   label="netlist sizes (infeasible)")
    ax.set_ylabel("best feasible power (µW)")
    ax.set_title("folded cascode (PTM 180 nm): power under gain/UGBW/PM targets\n"
                 "line: median over seeds, drawn once more than half are feasible; "
                 "band: best to worst feasible seed", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    axf.set_ylabel("seeds feasible")
    axf.set_ylim(-0.05, 1.05)
    axf.set_xlabel("simulations")
    axf.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _write(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--budget", type=int, default=150, help="simulations per run")
    ap.add_argument("--batch", type=int, default=4, help="designs per batch")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated, from " + ", ".join(METHODS))
    ap.add_argument("--workers", type=int, default=2, help="ngspice worker processes")
    ap.add_argument("--out", default=str(ROOT / "experiments" / "results"), help="folder for the JSON and PNG")
    ap.add_argument("--resume", action="store_true", help="skip (method, seed) pairs already in the JSON")
    args = ap.parse_args(argv)

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {', '.join(unknown)}; expected {', '.join(METHODS)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / f"{NAME}.json", out / f"{NAME}.png"

    spec = load_spec(SPEC)
    with make_executor("local", workers=args.workers) as executor:
        evaluator = SimEvaluator(read_netlist(NETLIST), spec, executor, source=str(NETLIST))
        cfg = config(args, spec.digest(), evaluator.context)
        data = {"config": cfg, "machine": f"{platform.platform()}, {os.cpu_count()} CPUs", "default_design": None,
                "runs": []}
        if args.resume and json_path.exists():
            old = json.loads(json_path.read_text())
            if old.get("config") != cfg:
                raise CktError(f"{json_path}: recorded with {old.get('config')}, not {cfg}; "
                               "run without --resume (or with another --out) to start over")
            data = old
        done = {(r["method"], r["seed"]) for r in data["runs"]}
        todo = [(m, s) for s in seeds for m in methods if (m, s) not in done]
        if data["default_design"] is None:
            (_, o), = evaluator.evaluate([evaluator.initial])
            score = spec.score(o.values if o.ok else None)
            data["default_design"] = {"params": evaluator.initial, "metrics": o.values, "feasible": score.feasible}
        for k, (m, s) in enumerate(todo, 1):
            t0 = time.time()
            run = one_run(spec, evaluator, m, s, args.budget, args.batch)
            data["runs"].append(run)
            _write(json_path, data)
            power = "–" if run["best_power_w"] is None else f"{run['best_power_w'] * 1e6:.1f} µW"
            first = "never" if run["sims_to_feasible"] is None else f"first after {run['sims_to_feasible']} sims"
            print(f"[{k}/{len(todo)}] {m} seed {s}: feasible {'yes' if run['feasible'] else 'no'}"
                  f" ({first}), best power {power}, {run['n_sims']} sims,"
                  f" {time.time() - t0:.1f} s", flush=True)

    all_methods = [m for m in METHODS if any(r["method"] == m for r in data["runs"])]
    rows = summary(data["runs"], all_methods)
    data["summary"] = rows
    _write(json_path, data)
    default_power = data["default_design"]["metrics"].get("power_w")
    plot(data["runs"], all_methods, cfg["budget"], default_power, png_path)
    print(markdown(rows, default_power))
    print(f"\nwrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CktError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
