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

import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETLIST = ROOT / "netlists" / "folded_cascode.cir"
SPEC = ROOT / "netlists" / "folded_cascode.yaml"
NAME = "folded_cascode_power"

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

from _sizing_runs import (  # noqa: E402
    default_design,
    draw_curves,
    label_axes,
    markdown,
    methods_run,
    microwatts,
    parse_args,
    run_missing,
    start,
    summary,
    write_json,
)

from ckt.errors import CktError  # noqa: E402
from ckt.netlist.read import read_netlist  # noqa: E402
from ckt.opt.evaluator import SimEvaluator  # noqa: E402
from ckt.opt.spec import load_spec  # noqa: E402
from ckt.sim.executor import make_executor  # noqa: E402


def plot(runs: Sequence[dict], methods: Sequence[str], budget: int, default_power_w: float | None,
         path: Path) -> None:
    """The power curves with their best-to-worst band, the netlist's own power, the fraction feasible."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, axf) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    draw_curves(ax, axf, runs, methods, budget, band=True)
    if default_power_w is not None:
        ax.axhline(default_power_w * 1e6, color="grey", linestyle="--", linewidth=1,
                   label="netlist sizes (infeasible)")
    ax.set_title("folded cascode (PTM 180 nm): power under gain/UGBW/PM targets\n"
                 "line: median over seeds, drawn once more than half are feasible; "
                 "band: best to worst feasible seed", fontsize=9)
    label_axes(ax, axf)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv, __doc__, budget=150, resume_skips="(method, seed) pairs")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / f"{NAME}.json", out / f"{NAME}.png"

    spec = load_spec(SPEC)
    with make_executor("local", workers=args.workers) as executor:
        evaluator = SimEvaluator(read_netlist(NETLIST), spec, executor, source=str(NETLIST))
        # what must match for --resume to mix earlier runs with new ones (context: the evaluator's
        # key of netlist, testbench, model files and simulator)
        cfg = {"netlist": NETLIST.relative_to(ROOT).as_posix(), "spec": SPEC.relative_to(ROOT).as_posix(),
               "spec_digest": spec.digest(), "context": evaluator.context, "budget": args.budget,
               "batch": args.batch}
        data = start(json_path, cfg, {"default_design": None}, args.resume)
        if data["default_design"] is None:
            data["default_design"] = default_design(spec, evaluator)
        run_missing(data, json_path, [({}, spec, evaluator)], args.methods, args.seeds, args.budget, args.batch)

    all_methods = methods_run(data["runs"])
    rows = summary(data["runs"], all_methods)
    data["summary"] = rows
    write_json(json_path, data)
    default_power = data["default_design"]["metrics"].get("power_w")
    plot(data["runs"], all_methods, cfg["budget"], default_power, png_path)
    print(markdown(rows, ["method"]))
    if default_power is not None:
        print(f"\nThe netlist's own sizes (infeasible): {microwatts(default_power)} µW.")
    print(f"\nwrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CktError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
