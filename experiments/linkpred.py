"""Link prediction on AnalogGenie and Image2Net: every model, within and across datasets, under our
hard protocol and GNN-ACLP's, over seeds.

For every seed, model (SEAL, the pin-anchored GNN, the GNN baseline) and training dataset:

* train with the **hard** protocol (circuit-level group split, same-circuit negatives; selection and
  early stopping on validation only) and score the test side of the training dataset and of the
  other dataset (across) with hard negatives — balanced accuracy, AUC, completion top-1/top-3/MRR —
  and with GNN-ACLP's uniform negatives over the merged test circuits;
* train with the **ACLP** protocol (one merged graph, random edge split, uniform negatives) and score
  its own random-edge test side, and the other dataset's test circuits under ACLP, like for like with
  GNN-ACLP's published numbers (which also used test-set early stopping; we do not).

Runs are folders under ``--runs`` (skipped when their ``model.json`` exists, so a sweep resumes).
Writes ``linkpred.json`` (every run and mean ± std over seeds) and ``linkpred.png`` to ``--out``.

Usage::

    OMP_NUM_THREADS=1 python experiments/linkpred.py                  # 3 seeds, all circuits
    OMP_NUM_THREADS=1 python experiments/linkpred.py --seeds 2 --n-analoggenie 600 --epochs 6
    python experiments/linkpred.py --replot                              # the figure from linkpred.json
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

from ckt.linkpred.datasets import open_circuits  # noqa: E402
from ckt.linkpred.evaluate import protocol_metrics, read_record  # noqa: E402
from ckt.linkpred.model import load_model  # noqa: E402
from ckt.linkpred.train import DEFAULT_NEGATIVES, LinkTrainRequest, train_linkpred  # noqa: E402

DATASETS = ("analoggenie", "image2net")
MODELS = ("seal", "anchored", "gnn")
COLOURS = {"seal": "tab:blue", "anchored": "tab:green", "gnn": "tab:orange"}
ANCHORS = {"GNN-ACLP SpiceNetlist (uniform negatives, merged graph)": 0.9403,
           "GNN-ACLP Image2Net (uniform negatives, merged graph)": 0.9730}
GOALS = {"hard_within_accuracy": 0.95, "hard_across_accuracy": 0.90, "completion_top1": 0.80}
METRICS = ("accuracy", "auc", "top1", "top3", "mrr")
SHORT = {"analoggenie": "AG", "image2net": "I2N"}


def _flat(m: dict) -> dict[str, float | None]:
    c = m.get("completion") or {}
    return {"accuracy": m.get("accuracy"), "auc": m.get("auc"), "top1": c.get("top1"), "top3": c.get("top3"),
            "mrr": c.get("mrr"), "n": m.get("n")}


def run_one(args: argparse.Namespace, seed: int, model: str, train_on: str, protocol: str,
            circuits: dict) -> list[dict]:
    """Train one run (or reuse its folder) and score it within and across datasets."""
    folder = Path(args.runs) / f"{train_on}-{model}-{protocol}-s{seed}"
    n = args.n_analoggenie if train_on == "analoggenie" else None
    if not (folder / "model.json").is_file():
        train_linkpred(LinkTrainRequest(
            dataset=train_on, model=model, out=str(folder), protocol=protocol, n=n, hops=args.hops,
            readout=args.readout, hidden=args.hidden, layers=args.layers, pins_per_circuit=args.pins,
            eval_pins=args.eval_pins, negatives=DEFAULT_NEGATIVES[model] if args.negatives is None else args.negatives,
            epochs=args.epochs, patience=args.patience, lr=args.lr, seed=seed, threads=args.threads,
            progress=args.verbose), circuits[(train_on, seed)])
    record = read_record(folder)
    net = load_model(folder / "best.pt")
    rows = []
    for test_on in DATASETS:
        for eval_protocol in (("hard", "aclp") if protocol == "hard" else ("aclp",)):
            if test_on == train_on and eval_protocol == protocol == "hard":
                metrics = record["test"]  # what training reported; every other cell is scored here
            else:
                metrics = protocol_metrics(net, circuits[(test_on, seed)], eval_protocol, train_on, protocol,
                                           args.eval_pins, seed)
            rows.append({"seed": seed, "model": model, "train_protocol": protocol, "train_on": train_on,
                         "test_on": test_on, "eval_protocol": eval_protocol,
                         "within": test_on == train_on, "best_epoch": record["best_epoch"],
                         "epochs_run": len(record["history"]), **_flat(metrics)})
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    keys = sorted({(r["model"], r["train_protocol"], r["train_on"], r["test_on"], r["eval_protocol"]) for r in rows})
    out = []
    for key in keys:
        group = [r for r in rows if (r["model"], r["train_protocol"], r["train_on"], r["test_on"],
                                     r["eval_protocol"]) == key]
        entry: dict = dict(zip(("model", "train_protocol", "train_on", "test_on", "eval_protocol"), key))
        entry["seeds"] = len(group)
        for m in METRICS:
            values = [r[m] for r in group if r[m] is not None]
            if values:
                entry[m] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
        out.append(entry)
    return out


def figure(summary: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("hard", "hard", "accuracy", "hard negatives: accuracy"),
              ("hard", "hard", "top1", "completion: top-1"),
              ("aclp", "aclp", "accuracy", "ACLP protocol: accuracy")]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5), sharey=True)
    for ax, (tp, ep, metric, title) in zip(axes, panels):
        labels, means, stds, colours = [], [], [], []
        for e in summary:
            if e["train_protocol"] == tp and e["eval_protocol"] == ep and metric in e:
                labels.append(f"{e['model'][:5]}\n{SHORT[e['train_on']]}>{SHORT[e['test_on']]}")
                means.append(e[metric]["mean"])
                stds.append(e[metric]["std"])
                colours.append(COLOURS[e["model"]])
        ax.bar(range(len(means)), means, yerr=stds, color=colours, capsize=3)
        ax.set_xticks(range(len(means)), labels, fontsize=7)
        ax.set_title(title)
        ax.set_ylim(0, 1)
        if metric == "accuracy" and tp == "aclp":
            for v in ANCHORS.values():
                ax.axhline(v, ls="--", lw=0.8, color="grey")
        elif metric == "accuracy":
            ax.axhline(GOALS["hard_within_accuracy"], ls="--", lw=0.8, color="grey")
        else:
            ax.axhline(GOALS["completion_top1"], ls="--", lw=0.8, color="grey")
    fig.suptitle("Link prediction, mean ± std over seeds (SEAL blue, anchored green, GNN orange; dashed: goals / "
                 "GNN-ACLP anchors; AG AnalogGenie, I2N Image2Net, train>test)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed-from", type=int, default=0,
                        help="Train only seeds SEED_FROM.. (a second process on another core); the final "
                             "pass without it gathers every seed.")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--protocols", nargs="+", default=["hard", "aclp"])
    parser.add_argument("--n-analoggenie", type=int, default=None, help="AnalogGenie circuits (spread sample).")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--hops", type=int, default=4)
    parser.add_argument("--readout", default="center")
    parser.add_argument("--hidden", type=int, default=None, help="Width (default: each model's own).")
    parser.add_argument("--layers", type=int, default=None, help="Depth (default: each model's own).")
    parser.add_argument("--negatives", type=int, default=None,
                        help="Hard negatives per training positive (default: each model's, DEFAULT_NEGATIVES).")
    parser.add_argument("--pins", type=int, default=3, help="Training positives per circuit.")
    parser.add_argument("--eval-pins", type=int, default=4, help="Test positives per circuit.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", default=str(ROOT / "experiments" / "runs" / "linkpred"))
    parser.add_argument("--out", default=str(ROOT / "experiments" / "results"))
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--replot", action="store_true", help="Only redraw the figure from OUT/linkpred.json.")
    args = parser.parse_args()
    if args.replot:
        figure(json.loads((Path(args.out) / "linkpred.json").read_text())["summary"], Path(args.out) / "linkpred.png")
        return
    start = time.time()
    circuits = {}
    for seed in range(args.seeds):
        for name in DATASETS:
            circuits[(name, seed)] = open_circuits(name, seed, n=args.n_analoggenie if name == "analoggenie" else None)
    rows: list[dict] = []
    for seed in range(args.seed_from, args.seeds):
        for protocol in args.protocols:
            for model in args.models:
                for train_on in DATASETS:
                    t = time.time()
                    rows += run_one(args, seed, model, train_on, protocol, circuits)
                    print(f"seed {seed} {model} {protocol} {train_on}: {time.time() - t:.0f}s "
                          f"({time.time() - start:.0f}s in all)", file=sys.stderr, flush=True)
    summary = summarise(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "what": "link prediction: SEAL, the pin-anchored GNN and the GNN baseline, hard (same-circuit negatives, "
                "group split) and GNN-ACLP "
                "(merged graph, random edge split, uniform negatives) protocols, within and across datasets",
        "settings": {k: v for k, v in vars(args).items() if k not in ("runs", "out", "verbose")},
        "sizes": {f"{name}/seed{seed}": {k: len(v) for k, v in c.split.items()}
                  for (name, seed), c in circuits.items()},
        "anchors": ANCHORS, "goals": GOALS, "summary": summary, "runs": rows,
        "seconds": time.time() - start, "machine": platform.platform(),
    }
    (out / "linkpred.json").write_text(json.dumps(report, indent=1) + "\n")
    figure(summary, out / "linkpred.png")
    for e in summary:
        cells = "  ".join(f"{m} {e[m]['mean']:.3f}±{e[m]['std']:.3f}" for m in METRICS if m in e)
        print(f"{e['model']:4} {e['train_protocol']:4} {e['train_on']:11} -> {e['test_on']:11} "
              f"[{e['eval_protocol']}]  {cells}")


if __name__ == "__main__":
    main()
