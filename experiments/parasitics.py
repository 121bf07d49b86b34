"""Parasitic estimation on CirGPS digtime: each model x loss x split, over seeds.

Models ``gnn`` (supervised relational GNN) and ``gcl`` (the same encoder contrastively pretrained
first, InfoNCE plus representation scattering); losses ``mse`` (MSE, cross-entropy) and
``balanced`` (balanced MSE, balanced softmax); splits ``region`` (leak-free: whole BFS-grown graph
regions per side, each side inductive on its own subgraph) and ``random`` (random links and nets,
whole graph seen in training). Each run is ``ckt.parasitic.train.fit`` with the request printed in
the JSON; test metrics are reported as mean +- std over seeds, next to the published anchors.
Bucket edges are the training labels' quintiles, so they move a little with the seed's split: the
per-bucket rows average bucket ``k`` over seeds and name it (and count it) as the first seed does.
``--buckets circuitgcl`` uses the anchor's fixed 1.2-decade classes instead (``--name`` keeps the
two result files apart).

Anchors (different protocol: CircuitGCL trained on one SRAM design, tested zero-shot on four
others; coupling-capacitance R^2): CircuitGCL 0.74 / 0.56 / 0.44 / 0.45, ParaGraph 0.53 / 0.43 /
0.32 / 0.34. Goal of the issue: coupling R^2 >= 0.75 and ground-cap macro-F1 >= 0.7 on the
leak-free split.

Usage::

    OMP_NUM_THREADS=1 python experiments/parasitics.py --seeds 0,1,2 --epochs 300 --out experiments/results
    OMP_NUM_THREADS=1 python experiments/parasitics.py --buckets circuitgcl --splits region \
        --name parasitics_circuitgcl_buckets ...
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ANCHORS = {"CircuitGCL": [0.74, 0.56, 0.44, 0.45], "ParaGraph": [0.53, 0.43, 0.32, 0.34]}
METRICS = (("ground", "r2_log10"), ("ground", "mae_farads"), ("ground", "macro_f1"),
           ("coupling", "r2_log10"), ("coupling", "mae_farads"))


def _stats(values: list[float]) -> dict[str, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return {"mean": math.nan, "std": math.nan}
    mean = sum(finite) / len(finite)
    return {"mean": mean, "std": math.sqrt(sum((v - mean) ** 2 for v in finite) / len(finite))}


def main(argv: list[str] | None = None) -> int:
    import torch

    from ckt.data.digtime import Digtime
    from ckt.parasitic.tasks import BUCKET_SCHEMES
    from ckt.parasitic.train import LOSSES, MODELS, TrainRequest, fit

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=300, help="a cap: early stopping on validation ends runs sooner")
    ap.add_argument("--pretrain-epochs", type=int, default=10)
    ap.add_argument("--splits", default="region,random")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--losses", default=",".join(LOSSES))
    ap.add_argument("--buckets", default="quantile", choices=BUCKET_SCHEMES, help="ground-cap classes")
    ap.add_argument("--name", default="parasitics", help="stem of the JSON and PNG files")
    ap.add_argument("--root", default=None, help="digtime cache folder")
    ap.add_argument("--out", default=str(ROOT / "experiments" / "results"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    data = Digtime(args.root).graph
    seeds = [int(s) for s in args.seeds.split(",")]
    runs, rows = [], []
    start = time.perf_counter()
    for split in args.splits.split(","):
        for model in args.models.split(","):
            for loss in args.losses.split(","):
                tests = []
                for seed in seeds:
                    request = TrainRequest(model=model, loss=loss, split=split, seed=seed, epochs=args.epochs,
                                           pretrain_epochs=args.pretrain_epochs, buckets=args.buckets,
                                           progress=False)
                    result = fit(request, data)
                    runs.append(asdict(result))
                    tests.append(result.test)
                    t = result.test
                    print(f"{split:6} {model:3} {loss:8} seed {seed}: ground R2 {t['ground']['r2_log10']:.3f} "
                          f"F1 {t['ground']['macro_f1']:.3f}, coupling R2 {t['coupling']['r2_log10']:.3f} "
                          f"({result.seconds:.0f} s, best epoch {result.best_epoch})", flush=True)
                rows.append({"split": split, "model": model, "loss": loss, "seeds": seeds,
                             **{f"{t}_{m}": _stats([r[t][m] for r in tests]) for t, m in METRICS},
                             "coupling_r2_by_type": {
                                 k: _stats([r["coupling"]["per_type"][k]["r2_log10"] for r in tests])
                                 for k in tests[0]["coupling"]["per_type"]},
                             "ground_per_bucket": [
                                 {"bucket": b["bucket"], "n": b["n"],
                                  "f1": _stats([r["ground"]["per_bucket"][i]["f1"] for r in tests]),
                                  "mae_farads": _stats([r["ground"]["per_bucket"][i]["mae_farads"] for r in tests])}
                                 for i, b in enumerate(tests[0]["ground"]["per_bucket"])]})
    report = {"dataset": {"name": "digtime", **data_counts(data)}, "anchors_coupling_r2_zero_shot": ANCHORS,
              "goal": {"coupling_r2": 0.75, "ground_macro_f1": 0.7, "split": "region"},
              "protocol": {"buckets": args.buckets, "epochs": args.epochs, "pretrain_epochs": args.pretrain_epochs,
                           "seeds": seeds, "threads": 1, "seconds": round(time.perf_counter() - start, 1)},
              "table": rows, "runs": runs}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(report, indent=1) + "\n")
    plot(rows, out / f"{args.name}.png", args.buckets)
    print(f"wrote {out / args.name}.json and {args.name}.png ({report['protocol']['seconds']} s)")
    return 0


def data_counts(data) -> dict[str, int]:
    from ckt.data.digtime import counts

    c = counts(data)
    return {k: v for k, v in c.items() if isinstance(v, int)}


def plot(rows: list[dict], path: Path, buckets: str = "quantile") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    labels = [f"{r['model']}\n{r['loss']}" for r in rows if r["split"] == "region"]
    for ax, (key, title, goal) in zip(axes, (("coupling_r2_log10", "coupling-cap R² (log10 F)", 0.75),
                                            ("ground_r2_log10", "ground-cap R² (log10 F)", None),
                                            ("ground_macro_f1", f"ground-cap 5-bucket macro-F1 ({buckets})", 0.7))):
        for k, split in enumerate(("region", "random")):
            sub = [r for r in rows if r["split"] == split]
            if not sub:
                continue
            xs = [i + (k - 0.5) * 0.38 for i in range(len(sub))]
            ax.bar(xs, [r[key]["mean"] for r in sub], 0.36, yerr=[r[key]["std"] for r in sub],
                   label=f"{split} split", capsize=3)
        if goal is not None:
            ax.axhline(goal, color="k", ls="--", lw=1, label="goal")
        if key == "coupling_r2_log10":
            ax.axhline(ANCHORS["CircuitGCL"][0], color="tab:red", ls=":", lw=1, label="CircuitGCL (zero-shot, 1st)")
            ax.axhline(ANCHORS["ParaGraph"][0], color="tab:gray", ls=":", lw=1, label="ParaGraph (zero-shot, 1st)")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title(title)
        ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.0)
        ax.legend(fontsize=7)
    fig.suptitle("Parasitic estimation on CirGPS digtime (test side, mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
