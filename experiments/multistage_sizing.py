"""Three-stage amplifiers at 20+ variables: every method, several seeds, feasibility rate and power.

The problems are ``netlists/three_stage_nmc.yaml`` (nested Miller with a nulling resistor, 20
variables) and ``netlists/three_stage_nmcf.yaml`` (nested Miller with a feedforward stage, 21
variables), both PTM 180 nm into 10 pF: gain >= 100 dB, UGBW >= 5 MHz, PM >= 60 deg (closed-loop
stable), minimise ``power_w``; the netlists' own sizes miss the phase margin and the gain.

Each (circuit, method, seed) triple is one run of the loop ``ckt size --method M --seed S`` runs,
fresh (no history folder, so nothing warm-starts), from the netlist's sizes, with the same budget
and batch size; the harness (``experiments/_sizing_runs.py``) is that of
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

import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CIRCUITS = ("three_stage_nmc", "three_stage_nmcf")
NAME = "multistage_sizing"

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

from _sizing_runs import (  # noqa: E402
    default_design,
    draw_curves,
    label_axes,
    markdown,
    methods_run,
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


def plot(data: dict, methods: Sequence[str], budget: int, path: Path) -> None:
    """One column per circuit: median best feasible power over seeds, and the fraction feasible."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(data["circuits"])
    fig, axes = plt.subplots(2, len(names), figsize=(6 * len(names), 6.5), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1]})
    for col, name in enumerate(names):
        ax, axf = axes[0, col], axes[1, col]
        draw_curves(ax, axf, [r for r in data["runs"] if r["circuit"] == name], methods, budget)
        d = data["circuits"][name]
        ax.set_title(f"{name} ({d['n_variables']} variables)\nmedian over seeds, drawn once more than "
                     "half are feasible", fontsize=9)
        label_axes(ax, axf)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv, __doc__, budget=100, resume_skips="(circuit, method, seed) triples", circuits=CIRCUITS)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / f"{NAME}.json", out / f"{NAME}.png"

    with make_executor("local", workers=args.workers) as executor:
        problems = []
        described = {}
        for name in args.circuits:
            netlist, spec_path = ROOT / "netlists" / f"{name}.cir", ROOT / "netlists" / f"{name}.yaml"
            spec = load_spec(spec_path)
            evaluator = SimEvaluator(read_netlist(netlist), spec, executor, source=str(netlist))
            problems.append(({"circuit": name}, spec, evaluator))
            described[name] = {"netlist": netlist.relative_to(ROOT).as_posix(),
                               "spec": spec_path.relative_to(ROOT).as_posix(), "spec_digest": spec.digest(),
                               "context": evaluator.context, "n_variables": len(spec.variables)}
        # what must match for --resume to mix earlier runs with new ones (per circuit: the spec's
        # digest and the evaluator's context key of netlist, testbench, model files and simulator)
        cfg = {"circuits": described, "budget": args.budget, "batch": args.batch}
        data = start(json_path, cfg, {"circuits": {n: {**d, "default_design": None} for n, d in described.items()}},
                     args.resume)
        for tag, spec, evaluator in problems:
            if data["circuits"][tag["circuit"]]["default_design"] is None:
                data["circuits"][tag["circuit"]]["default_design"] = default_design(spec, evaluator)
        run_missing(data, json_path, problems, args.methods, args.seeds, args.budget, args.batch)

    all_methods = methods_run(data["runs"])
    rows = []
    for name in data["circuits"]:
        mine = [r for r in data["runs"] if r["circuit"] == name]
        rows += [{"circuit": name, **row} for row in summary(mine, all_methods)]
    data["summary"] = rows
    write_json(json_path, data)
    plot(data, all_methods, cfg["budget"], png_path)
    print(markdown(rows, ["circuit", "method"]))
    print(f"\nwrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CktError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
