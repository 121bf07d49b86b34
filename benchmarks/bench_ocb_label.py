"""OCB labelling throughput: circuits per second with 1 and 2 local workers on a fixed set.

    python benchmarks/bench_ocb_label.py [--circuits 400] [--repeats 3] [--out FILE]

The set is fixed by a seed: ``ckt.data.ocb_gen.generate(n, seed=0)`` when the generator is there
(the circuits the benchmark build labels), else a built-in family of two- and three-stage
behavioural op-amps of the same elements and value grid (named in the result's ``circuit_set``).
Each worker count gets a warm executor (workers started and one batch run before timing), then
``label_netlists`` is timed over the whole set ``--repeats`` times without a store (the store's
cost per record is timed separately, as ``store_overhead_s_per_circuit``). Reports circuits/s
(median of repeats), the per-circuit ngspice time (median of the simulations' ``elapsed_s``) and
the 2-worker speed-up. Writes ``benchmarks/results/ocb_label.json`` (or ``--out``). On a shared
machine rerun when the load average is low.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from ckt.data.ocb_label import label_netlists
from ckt.netlist.ir import Netlist
from ckt.netlist.parse_spice import parse_spice
from ckt.sim import LocalExecutor
from ckt.sim.backends import ngspice_version

ROOT = Path(__file__).resolve().parents[1]


def builtin_set(n: int, seed: int = 0) -> list[Netlist]:
    """Two- and three-stage behavioural op-amps on OCB's value grid, with optional Miller C and feedback R."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        stages = 3 if rng.random() < 0.8 else 2
        nodes = ["in", *(f"n{k}" for k in range(1, stages)), "out"]
        lines = [f"* builtin {i}"]
        for k in range(stages):
            gm = 0.1e-3 * rng.randint(1, 101)
            a, b = nodes[k], nodes[k + 1]
            lines += [f"G{k} 0 {b} {a} 0 {gm:.6g}", f"RL{k} {b} 0 1Meg", f"CL{k} {b} 0 50f"]
        if rng.random() < 0.6:
            lines.append(f"CC {nodes[1]} out {10e-15 * rng.randint(1, 101):.6g}")
        if rng.random() < 0.6:
            lines.append(f"RF out {nodes[-2]} {0.1e6 * rng.randint(1, 101):.6g}")
        out.append(parse_spice("\n".join([*lines, ".end", ""])))
    return out


def circuit_set(n: int) -> tuple[str, list[Netlist]]:
    try:
        from ckt.data import ocb_gen  # type: ignore[attr-defined]
    except ImportError:
        return "builtin(seed=0)", builtin_set(n)
    return "ocb_gen.generate(seed=0)", [c.netlist() for c in ocb_gen.generate(n, 0)]


def time_workers(nets: list[Netlist], workers: int, repeats: int) -> dict[str, float]:
    with LocalExecutor(workers) as ex:
        label_netlists(nets[: 4 * workers], executor=ex, progress=None)  # start and warm the workers
        rates, sims = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            labels = label_netlists(nets, executor=ex, progress=None)
            rates.append(len(nets) / (time.perf_counter() - t0))
            sims += [lab.elapsed_s for lab in labels]
    return {"circuits_per_s": statistics.median(rates), "circuits_per_s_all": rates,
            "sim_s_per_circuit_median": statistics.median(sims), "sim_s_per_circuit_mean": statistics.fmean(sims),
            "valid_fraction": sum(lab.valid for lab in labels) / len(labels)}


def store_overhead(nets: list[Netlist], repeats: int) -> float:
    """Extra seconds per circuit for writing each record to a fresh store (1 worker; median of
    ``repeats`` back-to-back pairs of runs without and with the store)."""
    extra = []
    with LocalExecutor(1) as ex, tempfile.TemporaryDirectory() as tmp:
        label_netlists(nets[:4], executor=ex, progress=None)
        for r in range(repeats):
            t0 = time.perf_counter()
            label_netlists(nets, executor=ex, progress=None)
            plain = time.perf_counter() - t0
            t0 = time.perf_counter()
            label_netlists(nets, executor=ex, store=Path(tmp) / f"labels{r}.jsonl", progress=None)
            extra.append((time.perf_counter() - t0 - plain) / len(nets))
    return statistics.median(extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--circuits", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ocb_label.json")
    args = parser.parse_args()
    name, nets = circuit_set(args.circuits)
    result: dict[str, object] = {
        "circuit_set": name, "circuits": len(nets), "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "load_avg_start": os.getloadavg()[0], "python": platform.python_version(),
                    "ngspice": ngspice_version()},
    }
    for workers in (1, 2):
        result[f"workers_{workers}"] = row = time_workers(nets, workers, args.repeats)
        print(f"{workers} worker(s): {row['circuits_per_s']:.1f} circuits/s, "
              f"ngspice {1e3 * row['sim_s_per_circuit_median']:.2f} ms/circuit (median), "
              f"{100 * row['valid_fraction']:.0f}% valid")
    one, two = result["workers_1"], result["workers_2"]
    assert isinstance(one, dict) and isinstance(two, dict)
    result["speedup_2_over_1"] = two["circuits_per_s"] / one["circuits_per_s"]
    result["store_overhead_s_per_circuit"] = store_overhead(nets, args.repeats)
    result["machine"]["load_avg_end"] = os.getloadavg()[0]  # type: ignore[index]
    print(f"2 workers / 1 worker: {result['speedup_2_over_1']:.2f}x; "
          f"store {1e3 * result['store_overhead_s_per_circuit']:+.2f} ms/circuit")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
