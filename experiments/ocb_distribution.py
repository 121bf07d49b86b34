"""Regenerated OCB vs the published Ckt-Bench-101: does each label follow the same distribution?

Generates ``-n`` circuits with ``ckt.data.ocb_gen.generate(n, seed)`` (or reads a folder of the
user's behavioural netlists with ``--netlists``), labels them by ngspice simulation
(``ckt.data.ocb_label.label_netlists``: local workers or Ray, resumable store), and compares each
label in OCB's encoded units — gain, bw, pm, fom — with ``perform101.csv`` by the two-sample
Kolmogorov–Smirnov statistic ``D = max |F_ours - F_ref|`` (computed here; SciPy, when installed,
adds the p-value and must agree on ``D``). Both sides are compared whole (invalid circuits carry
the invalid encoding on both, as upstream's 769 such rows do) and with invalid rows dropped.

Writes ``NAME.json`` (per label: KS D, p-value, sizes, quantiles of both; status counts; timing)
and ``NAME.png`` (histograms overlaid, one panel per label) into ``--out``; the labels themselves
go to ``NAME_labels.jsonl`` there (or ``--store``), so an interrupted run resumes.

Usage::

    python experiments/ocb_distribution.py -n 10000 --seed 0 --workers 2 [--executor ray --address auto]
    python experiments/ocb_distribution.py --netlists DIR --name my_family
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "data" / "ocb" / "perform101.csv"
LABELS = ("gain", "bw", "pm", "fom")

sys.path.insert(0, str(ROOT))

from ckt.data.ocb_label import INVALID, label_netlists  # noqa: E402
from ckt.netlist.ir import Netlist  # noqa: E402
from ckt.netlist.read import read_netlist  # noqa: E402


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample KS statistic: the largest gap between the two empirical CDFs."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def compare(ours: np.ndarray, ref: np.ndarray) -> dict[str, object]:
    """KS statistic (and SciPy's p-value when available) plus quantiles of both samples."""
    out: dict[str, object] = {"n_ours": int(ours.size), "n_ref": int(ref.size)}
    if ours.size == 0 or ref.size == 0:
        return out
    d = ks_statistic(ours, ref)
    out["ks"] = d
    try:
        from scipy.stats import ks_2samp
    except ImportError:
        out["p_value"] = None
    else:
        test = ks_2samp(ours, ref)
        if abs(float(test.statistic) - d) > 1e-9:
            raise RuntimeError(f"KS statistic {d} disagrees with SciPy's {float(test.statistic)}")
        out["p_value"] = float(test.pvalue)
    q = [0.05, 0.25, 0.5, 0.75, 0.95]
    out["quantiles"] = q
    out["ours_quantiles"] = np.quantile(ours, q).tolist()
    out["ref_quantiles"] = np.quantile(ref, q).tolist()
    return out


def read_reference(path: Path) -> dict[str, np.ndarray]:
    """The encoded columns of an OCB performance CSV (``,valid,gain,pm,bw,fom``)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {name: np.array([float(r[name]) for r in rows]) for name in LABELS}


def invalid_mask(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Rows carrying OCB's invalid encoding (all-zero raw values)."""
    return ((np.abs(cols["gain"] - INVALID.gain) < 1e-9) & (np.abs(cols["pm"] - INVALID.pm) < 1e-9)
            & (np.abs(cols["bw"] - INVALID.bw) < 1e-12))


def circuits(args: argparse.Namespace) -> tuple[str, list[Netlist], int | None]:
    """(description, netlists, number of distinct topologies or None)."""
    if args.netlists is not None:
        files = sorted(p for p in args.netlists.iterdir() if p.suffix.lower() in (".cir", ".sp", ".spice", ".net"))
        return f"folder {args.netlists}", [read_netlist(p) for p in files], None
    from ckt.data import ocb_gen

    made = ocb_gen.generate(args.n, args.seed)
    topologies = len({c.topology_id for c in made})
    return f"ocb_gen.generate({args.n}, seed={args.seed})", [c.netlist() for c in made], topologies


def figure(ours: dict[str, np.ndarray], ref: dict[str, np.ndarray], stats: dict[str, dict], path: Path,
           title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, name in zip(axes.ravel(), LABELS):
        both = np.concatenate([ours[name], ref[name]])
        lo, hi = np.quantile(both, [0.005, 0.995])
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 60)
        ax.hist(ref[name], bins=bins, density=True, alpha=0.5, label=f"perform101 (n={ref[name].size})")
        ax.hist(ours[name], bins=bins, density=True, alpha=0.5, label=f"ngspice (n={ours[name].size})")
        d = stats[name].get("ks")
        ax.set_title(f"{name}: KS D = {d:.3f}" if d is not None else name)
        ax.set_xlabel(f"{name} (OCB encoded units)")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10000, help="circuits to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--netlists", type=Path, help="label this folder of netlists instead of generating")
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--executor", choices=("local", "ray"), default="local")
    parser.add_argument("--address", help="Ray cluster address ('auto' joins a running one)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "results")
    parser.add_argument("--name", default="ocb_distribution")
    parser.add_argument("--store", type=Path, default=None,
                        help="label store to reuse and extend (default OUT/NAME_labels.jsonl; the OCB dataset's "
                             "$CKT_DATA/ocb/raw/labels-n10000-seed0.jsonl holds the same circuits' labels)")
    args = parser.parse_args()
    if not args.reference.exists():
        raise SystemExit(f"reference labels not found: {args.reference}")

    described, nets, topologies = circuits(args)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    labels = label_netlists(nets, store=args.store or args.out / f"{args.name}_labels.jsonl", kind=args.executor,
                            workers=args.workers, address=args.address)
    wall = time.perf_counter() - t0
    ours = {name: np.array([getattr(lab, name) for lab in labels]) for name in LABELS}
    ref = read_reference(args.reference)
    bad_ours, bad_ref = invalid_mask(ours), invalid_mask(ref)
    stats_all = {name: compare(ours[name], ref[name]) for name in LABELS}
    stats_valid = {name: compare(ours[name][~bad_ours], ref[name][~bad_ref]) for name in LABELS}
    statuses: dict[str, int] = {}
    for lab in labels:
        statuses[lab.status] = statuses.get(lab.status, 0) + 1
    sims = [lab.elapsed_s for lab in labels]
    result = {
        "circuits": described, "n": len(labels), "topologies": topologies, "reference": str(args.reference),
        "statuses": statuses, "invalid_fraction_ours": float(bad_ours.mean()),
        "invalid_fraction_ref": float(bad_ref.mean()),
        "ks_all_rows": stats_all, "ks_valid_rows": stats_valid,
        "labelling": {"executor": args.executor, "workers": args.workers or os.cpu_count(), "wall_s": wall,
                      "sim_s_per_circuit_median": float(np.median(sims)) if sims else None},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    json_path = args.out / f"{args.name}.json"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    figure(ours, ref, stats_all, args.out / f"{args.name}.png",
           f"{described} vs perform101: label distributions (encoded units)")
    for name in LABELS:
        print(f"{name:5s} KS D = {stats_all[name].get('ks', float('nan')):.4f} (all rows), "
              f"{stats_valid[name].get('ks', float('nan')):.4f} (valid rows)")
    print(f"statuses {statuses}; wrote {json_path} and {args.name}.png")


if __name__ == "__main__":
    main()
