"""One fixed AutoCkt spec, ten seeds per method: how reliably and how soon each method meets it.

The spec is the one the BoTorch SCBO tutorial's AutoCkt comparison uses: gain >= 300 V/V,
UGBW >= 10 MHz, PM >= 60 deg on the AutoCkt two-stage op-amp (``netlists/autockt_two_stage.cir``,
7 variables on the published grid, searched in log coordinates), 150 simulations, batch 4, stop
at the first feasible design. A failed seed counts as ``budget + 1`` in the censored median.

Usage::

    python experiments/autockt_spec_seeds.py --methods turbo,optuna,bo --seeds 10 --budget 150 \
        --workers 1 --out experiments/results [--name autockt_spec_seeds]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

from autockt_sizing import BATCH, NETLIST, RANGES, MemoEvaluator, solve, variables  # noqa: E402

from ckt.netlist.read import read_netlist  # noqa: E402
from ckt.opt.evaluator import SimEvaluator  # noqa: E402
from ckt.opt.spec import Spec, Target  # noqa: E402

SPEC = {"gain_min": 300.0, "ugbw_min": 1e7, "phm_min": 60.0}


def summarise(records: list[dict], methods: list[str], budget: int) -> dict:
    """Per method: successes, median and p90 of sims-to-feasible with failures as ``budget + 1``."""
    out = {}
    for m in methods:
        rs = [r for r in records if r["method"] == m]
        cens = [r["sims_to_feasible"] if r["success"] else budget + 1 for r in rs]
        out[m] = {"successes": sum(r["success"] for r in rs), "runs": len(rs),
                  "median_censored": float(np.median(cens)) if cens else None,
                  "p90_censored": float(np.percentile(cens, 90)) if cens else None,
                  "wall_s_median": float(np.median([r["wall_s"] for r in rs])) if rs else None,
                  "sims": cens}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default="turbo,optuna,bo")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "experiments" / "results"))
    ap.add_argument("--name", default="autockt_spec_seeds")
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    from ckt.sim.executor import make_executor

    vars_ = variables(yaml.safe_load(RANGES.read_text()))
    spec = Spec(vars_, (Target("gain", lo=SPEC["gain_min"]), Target("ugbw", lo=SPEC["ugbw_min"]),
                        Target("pm", lo=SPEC["phm_min"])), source=str(RANGES))
    executor = make_executor("local", workers=args.workers)
    sim = SimEvaluator(read_netlist(NETLIST), spec, executor, source=str(NETLIST))
    memo = MemoEvaluator(sim)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []

    def save() -> dict:
        summary = summarise(records, methods, args.budget)
        (out / f"{args.name}.json").write_text(json.dumps(
            {"config": {"spec": SPEC, "budget": args.budget, "batch": BATCH, "seeds": args.seeds, "methods": methods,
                        "netlist": str(NETLIST.relative_to(ROOT))},
             "summary": summary, "real_ngspice_runs": memo.real, "records": records}, indent=1) + "\n")
        return summary

    try:
        for m in methods:
            for seed in range(args.seeds):
                r = solve(spec, m, memo, args.budget, seed=seed, initial=sim.initial)
                records.append({"method": m, "seed": seed, **r})
                save()  # after every run: a run stopped part-way keeps what it did
                print(f"{m} seed {seed}: {r['sims_to_feasible'] if r['success'] else 'x'} ({r['wall_s']:.0f} s)",
                      flush=True)
    finally:
        executor.close()
    summary = save()
    print(f"| method | feasible seeds | median sims (failure = {args.budget + 1}) | p90 |")
    print("|---|---|---|---|")
    for m, s in summary.items():
        print(f"| {m} | {s['successes']}/{s['runs']} | {s['median_censored']:g} | {s['p90_censored']:g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
