"""How plausible is the DC operating point that makes a sample valid? Supply currents, generated vs real.

Validity (``ckt.gen.dcop``) asks only that ngspice converges at mid-range sizes with the bench's
drives (VDD at the PDK supply, other V* ports at mid-supply, I* ports fed 10 uA). A circuit can
converge with amperes flowing through a forward-biased junction straight across the supply. This
runs the same DC decks with their vectors and reports, per circuit, the largest current any bench
source delivers, for the dataset's rule-passing op-amps and mirrors and for ``-n`` samples of each
type from the shipped generator (seed ``--seed``, as ``ckt generate`` draws them). Writes
``generation_supply_current.json`` to ``--out``.

Usage::

    python experiments/generation_supply_current.py            # 1,000 samples per type, ~6 min
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ckt.gen.dcop import dc_operating_points  # noqa: E402
from ckt.gen.generate import draw  # noqa: E402
from ckt.gen.rules import check_circuit  # noqa: E402
from ckt.gen.train import read_analoggenie  # noqa: E402
from ckt.sim.executor import make_executor  # noqa: E402

TYPES = ("Opamp", "Mirror")
BOUNDS_A = (0.1, 1.0)


def largest_source_currents(circuits, workers: int) -> list[float]:
    """Per circuit whose DC deck converges: the largest |current| of any bench source (A)."""
    with make_executor("local", workers=workers) as executor:
        results = dc_operating_points(circuits, executor=executor, vectors=True)
    out = []
    for r in results:
        if r is not None and r.ok:
            plot = next(iter(r.vectors.values()))
            out.append(max([abs(float(np.real(v[0]))) for k, v in plot.items() if k.startswith("i(vdc_")] or [0.0]))
    return out


def summary(currents: list[float]) -> dict:
    a = np.array(currents)
    return {"n_converged": len(a), "median_a": float(np.median(a)), "p99_a": float(np.quantile(a, 0.99)),
            "max_a": float(a.max()), **{f"above_{b:g}_a": int((a > b).sum()) for b in BOUNDS_A}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "experiments" / "results")
    args = ap.parse_args()
    real = [c for c in read_analoggenie() if c.ckt_type in TYPES and not check_circuit(c.netlist, c.ckt_type, c.ports)]
    report = {"n": args.n, "seed": args.seed, "bounds_a": BOUNDS_A,
              "dataset": summary(largest_source_currents([(c.netlist, c.ports) for c in real], args.workers))}
    print("dataset (rule-passing Opamp and Mirror):", report["dataset"], flush=True)
    for ckt_type in TYPES:
        circuits, _ = draw(None, ckt_type, args.n, args.seed)
        report[ckt_type] = summary(largest_source_currents([(c.netlist, c.ports) for c in circuits], args.workers))
        print(f"generated {ckt_type}:", report[ckt_type], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "generation_supply_current.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
