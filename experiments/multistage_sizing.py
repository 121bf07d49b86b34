"""Three-stage amplifiers at 20+ variables: every method, several seeds, feasibility rate and power.

The problems are ``netlists/three_stage_nmc.yaml`` (nested Miller with a nulling resistor, 20
variables) and ``netlists/three_stage_nmcf.yaml`` (nested Miller with a feedforward stage, 21
variables), both PTM 180 nm into 10 pF: gain >= 100 dB, UGBW >= 5 MHz, PM >= 60 deg (closed-loop
stable), minimise ``power_w``; the netlists' own sizes miss the phase margin and the gain.

Each (circuit, method, seed) triple is one run of the loop ``ckt size --method M --seed S`` runs,
fresh (no history folder, so nothing warm-starts), from the netlist's sizes, with the same budget
and batch size; ``one_run``, ``curves`` and ``summary`` are those of
``experiments/folded_cascode_power.py``, so both tables mean the same. Recorded per circuit and
method: feasible runs, simulations to the first feasible design and the median best feasible power
over the feasible runs. The figure shows per circuit the median best feasible power after every
simulation (drawn once more than half the seeds are feasible) and the fraction of seeds feasible.

Usage (the recorded ``experiments/results/multistage_sizing.json``: seeds 0-2, about 31 minutes on a
shared 2-core VM; more seeds with ``--resume --seeds 0,...,9`` from the same checkout)::

    OMP_NUM_THREADS=1 python experiments/multistage_sizing.py --seeds 0,1,2 --budget 100 \
        --methods turbo,bo,cmaes,random --workers 2 --out experiments/results [--resume]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CIRCUITS = ("three_stage_nmc", "three_stage_nmcf")
NAME = "multistage_sizing"

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

from folded_cascode_power import curves, one_run, summary  # noqa: E402

from ckt.errors import CktError  # noqa: E402
from ckt.netlist.read import read_netlist  # noqa: E402
from ckt.opt.baselines import METHODS  # noqa: E402
from ckt.opt.evaluator import SimEvaluator  # noqa: E402
from ckt.opt.spec import load_spec  # noqa: E402
from ckt.sim.executor import make_executor  # noqa: E402


def config(args: argparse.Namespace, circuits: dict[str, dict]) -> dict:
    """What must match for ``--resume`` to mix earlier runs with new ones (per circuit: the spec's
    digest and the evaluator's context key of netlist, testbench, model files and simulator)."""
    return {"circuits": circuits, "budget": args.budget, "batch": args.batch}


def markdown(rows: Sequence[dict]) -> str:
    """The per-circuit, per-method table."""
    def uw(x: float | None) -> str:
        return "–" if x is None else f"{x * 1e6:.1f}"

    lines = ["| circuit | method | feasible runs | median sims to feasible | median best power of feasible "
             "runs (µW) | best–worst (µW) | median wall (s) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        sims = "–" if r["median_sims_to_feasible"] is None else f"{r['median_sims_to_feasible']:g}"
        lo, hi = r["min_best_power_w"], r["max_best_power_w"]
        spread = "–" if lo is None else f"{uw(lo)}–{uw(hi)}"
        lines.append(f"| {r['circuit']} | {r['method']} | {r['feasible']}/{r['runs']} | {sims} "
                     f"| {uw(r['median_best_power_w'])} | {spread} | {r['median_wall_s']:.0f} |")
    return "\n".join(lines)


def plot(data: dict, methods: Sequence[str], budget: int, path: Path) -> None:
    """One column per circuit: median best feasible power over seeds, and the fraction feasible."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(data["circuits"])
    fig, axes = plt.subplots(2, len(names), figsize=(6 * len(names), 6.5), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1]})
    x = np.arange(1, budget + 1)
    for col, name in enumerate(names):
        ax, axf = axes[0, col], axes[1, col]
        for m in methods:
            mine = [r for r in data["runs"] if r["circuit"] == name and r["method"] == m]
            if not mine:
                continue
            c = curves(mine, budget) * 1e6
            med = np.median(c, axis=0)
            line, = ax.step(x, np.where(np.isfinite(med), med, np.nan), where="post",
                            label=f"{m} (median of {len(mine)})")
            axf.step(x, np.isfinite(c).mean(axis=0), where="post", color=line.get_color())
        d = data["circuits"][name]
        ax.set_title(f"{name} ({d['n_variables']} variables)\nmedian over seeds, drawn once more than "
                     "half are feasible", fontsize=9)
        ax.set_ylabel("best feasible power (µW)")
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
    ap.add_argument("--budget", type=int, default=100, help="simulations per run")
    ap.add_argument("--batch", type=int, default=4, help="designs per batch")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated, from " + ", ".join(METHODS))
    ap.add_argument("--circuits", default=",".join(CIRCUITS), help="comma-separated, from " + ", ".join(CIRCUITS))
    ap.add_argument("--workers", type=int, default=2, help="ngspice worker processes")
    ap.add_argument("--out", default=str(ROOT / "experiments" / "results"), help="folder for the JSON and PNG")
    ap.add_argument("--resume", action="store_true", help="skip (circuit, method, seed) triples already in the JSON")
    args = ap.parse_args(argv)

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {', '.join(unknown)}; expected {', '.join(METHODS)}")
    circuits = [c.strip() for c in args.circuits.split(",") if c.strip()]
    bad = [c for c in circuits if c not in CIRCUITS]
    if bad:
        ap.error(f"unknown circuit(s) {', '.join(bad)}; expected {', '.join(CIRCUITS)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / f"{NAME}.json", out / f"{NAME}.png"

    with make_executor("local", workers=args.workers) as executor:
        problems = {}
        described = {}
        for name in circuits:
            netlist, spec_path = ROOT / "netlists" / f"{name}.cir", ROOT / "netlists" / f"{name}.yaml"
            spec = load_spec(spec_path)
            evaluator = SimEvaluator(read_netlist(netlist), spec, executor, source=str(netlist))
            problems[name] = (spec, evaluator)
            described[name] = {"netlist": netlist.relative_to(ROOT).as_posix(),
                               "spec": spec_path.relative_to(ROOT).as_posix(), "spec_digest": spec.digest(),
                               "context": evaluator.context, "n_variables": len(spec.variables)}
        cfg = config(args, described)
        data = {"config": cfg, "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
                "circuits": {n: {**d, "default_design": None} for n, d in described.items()}, "runs": []}
        if args.resume and json_path.exists():
            old = json.loads(json_path.read_text())
            if old.get("config") != cfg:
                raise CktError(f"{json_path}: recorded with {old.get('config')}, not {cfg}; "
                               "run without --resume (or with another --out) to start over")
            data = old
        for name, (spec, evaluator) in problems.items():
            if data["circuits"][name]["default_design"] is None:
                (_, o), = evaluator.evaluate([evaluator.initial])
                score = spec.score(o.values if o.ok else None, evaluator.initial)
                data["circuits"][name]["default_design"] = {"params": evaluator.initial, "metrics": o.values,
                                                            "feasible": score.feasible}
        done = {(r["circuit"], r["method"], r["seed"]) for r in data["runs"]}
        todo = [(c, m, s) for s in seeds for c in circuits for m in methods if (c, m, s) not in done]
        for k, (c, m, s) in enumerate(todo, 1):
            t0 = time.time()
            spec, evaluator = problems[c]
            run = {"circuit": c, **one_run(spec, evaluator, m, s, args.budget, args.batch)}
            data["runs"].append(run)
            _write(json_path, data)
            power = "–" if run["best_power_w"] is None else f"{run['best_power_w'] * 1e6:.1f} µW"
            first = "never" if run["sims_to_feasible"] is None else f"first after {run['sims_to_feasible']} sims"
            print(f"[{k}/{len(todo)}] {c} {m} seed {s}: feasible {'yes' if run['feasible'] else 'no'}"
                  f" ({first}), best power {power}, {run['n_sims']} sims, {time.time() - t0:.1f} s", flush=True)

    all_methods = [m for m in METHODS if any(r["method"] == m for r in data["runs"])]
    rows = []
    for name in data["circuits"]:
        mine = [r for r in data["runs"] if r["circuit"] == name]
        rows += [{"circuit": name, **row} for row in summary(mine, all_methods)]
    data["summary"] = rows
    _write(json_path, data)
    plot(data, all_methods, cfg["budget"], png_path)
    print(markdown(rows))
    print(f"\nwrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CktError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
