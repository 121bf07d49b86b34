"""Op-amp topology generation (AnalogToBi's and AnalogGenie's generation tables), with functional yield.

Runs ``ckt.gen.evaluate.evaluate_generator`` on the shipped generator (or ``--checkpoint``): per circuit
type, ``-n`` samples drawn under the grammar and judged independently — validity (the rules and a DC
operating point at mid-range sizes), uniqueness, novelty against every AnalogGenie circuit, type
agreement (the shipped type classifier), 10-gram memorisation — and the functional yield: the first
``--yield-n`` valid, unique, novel op-amps and as many dataset op-amps sized by a short ``ckt size``
run (``--budget`` simulations) against gain >= 40 dB, UGBW >= 1 MHz, PM >= 45 degrees, closed-loop
stable. Writes ``generation.json``, ``generation.png`` (the table as bars beside the published
figures) and ``generation_best.png`` (the best sized generated op-amps, drawn) to ``--out``.

Published (1,000 samples per type): AnalogToBi 97.8 % valid, 92.1 % novel, 89.9 % valid and novel,
91.3 % type accuracy, 0.0 % 10-gram memorisation; AnalogGenie (rerun from its code, per AnalogToBi)
58.2 % valid, 68.0 % novel, 26.2 % both. Neither reports whether a generated op-amp amplifies. Their
validity is their own grammar's or checker's; ours is the independent rule check plus ngspice.

Usage::

    python experiments/generation.py                              # Opamp, 1,000 samples, yield over 20
    python experiments/generation.py --types Opamp Mirror LDO -n 200 --yield-n 0
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ckt.gen.evaluate import EvalRequest, evaluate_generator  # noqa: E402

PUBLISHED = {
    "AnalogToBi": {"valid": 0.978, "novel": 0.921, "valid_and_novel": 0.899, "type_agreement": 0.913,
                   "memorisation": 0.0},
    "AnalogGenie (rerun, per AnalogToBi)": {"valid": 0.582, "novel": 0.680, "valid_and_novel": 0.262},
}
MEASURES = ("valid", "unique", "novel", "valid_and_novel", "type_agreement")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--types", nargs="+", default=["Opamp"])
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--yield-n", type=int, default=20)
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--screen", action="store_true", help="size only op-amps that amplify at their default sizes")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=Path, default=ROOT / "experiments" / "runs" / "generation",
                    help="where the sizing runs go; must be empty or absent")
    ap.add_argument("--out", type=Path, default=ROOT / "experiments" / "results")
    ap.add_argument("--name", default="generation")
    args = ap.parse_args()
    if args.yield_n and args.runs.is_dir() and any(args.runs.iterdir()):
        # a sizing run in a folder that holds earlier runs warm-starts from their designs
        ap.error(f"{args.runs} holds earlier sizing runs, which would warm-start these and inflate the "
                 "functional yield; delete it or pass a new --runs folder")

    start = time.time()
    report = evaluate_generator(EvalRequest(checkpoint=args.checkpoint, types=tuple(args.types), n=args.n,
                                            seed=args.seed, yield_n=args.yield_n, budget=args.budget,
                                            screen=args.screen, out=args.runs, workers=args.workers))
    report.update(published=PUBLISHED, seconds=round(time.time() - start, 1),
                  machine=f"{platform.machine()}, {platform.python_version()}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=1) + "\n")
    plot(report, args.out / f"{args.name}.png")
    if report.get("functional_yield"):
        draw_best(report["functional_yield"], args.runs, args.out / f"{args.name}_best.png")
    for t, row in report["types"].items():
        print(f"{t}: " + ", ".join(f"{m} {row[m]:.3f}" for m in MEASURES if row.get(m) is not None)
              + f", memorisation {row['memorisation']['copied']:.3f}, {row['samples_per_s']:.1f} samples/s")
    fy = report.get("functional_yield")
    if fy:
        print(f"functional yield: generated {fy['generated']['feasible']}/{fy['generated']['n']}, "
              f"dataset {fy['dataset']['feasible']}/{fy['dataset']['n']}"
              + (f" (screened {fy['generated']['screened']} / {fy['dataset']['screened']})" if fy.get("screen") else ""))


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {f"ours: {t}": r for t, r in report["types"].items()}
    rows.update(report["published"])
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(rows)
    for k, (name, row) in enumerate(rows.items()):
        values = [row.get(m) if row.get(m) is not None else np.nan for m in MEASURES]
        ax.bar(np.arange(len(MEASURES)) + k * width, values, width, label=name)
    ax.axhline(0.95, color="r", lw=0.8, ls=":", label="goal 0.95")
    ax.set_xticks(np.arange(len(MEASURES)) + 0.4 - width / 2, MEASURES)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Generation, {report['n_per_type']} samples per type")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def draw_best(fy: dict, runs: Path, path: Path, k: int = 4) -> None:
    """The ``k`` feasible generated op-amps with the highest gain, as device–net graphs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    from ckt.netlist.read import read_netlist

    best = sorted((r for r in fy["generated"]["runs"] if r["feasible"]),
                  key=lambda r: -(r["metrics"].get("gain_db") or 0))[:k]
    if not best:
        return
    fig, axes = plt.subplots(1, len(best), figsize=(5 * len(best), 5), squeeze=False)
    for ax, r in zip(axes[0], best):
        netlist = read_netlist(runs / "generated" / r["name"] / f"{r['name']}.cir")
        sub = netlist.subckts[0]
        g = nx.Graph()
        for d in sub.devices:
            g.add_node(d.name, kind="device")
            for pin, net in d.terminals:
                g.add_node(net, kind="port" if net in sub.ports else "net")
                g.add_edge(d.name, net, pin=pin)
        pos = nx.kamada_kawai_layout(g)
        colours = {"device": "#f4a261", "port": "#2a9d8f", "net": "#cccccc"}
        nx.draw_networkx(g, pos, ax=ax, node_size=260, font_size=6,
                         node_color=[colours[g.nodes[v]["kind"]] for v in g])
        m = r["metrics"]
        ax.set_title(f"{r['name']}: {m.get('gain_db', 0):.0f} dB, {m.get('ugbw', 0) / 1e6:.1f} MHz, "
                     f"PM {m.get('pm_deg', 0):.0f}°", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
