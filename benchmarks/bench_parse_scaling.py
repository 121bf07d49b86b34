"""How ``parse_spice`` scales with deck size: seconds and peak RSS for flat decks of N devices.

Each size is generated into a temporary folder (mostly 4-terminal MOSFETs with ``w``/``l``/``m``,
one R or C in ten, N/50 nets) and parsed in a fresh child process so that peak RSS
(``ru_maxrss``) belongs to that size alone. Linear scaling shows as constant microseconds per device.
CPU seconds are reported next to wall seconds because a shared machine inflates the latter.

    python benchmarks/bench_parse_scaling.py --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(n: int, path: Path, seed: int = 0) -> None:
    """Write a flat deck of ``n`` devices to ``path``."""
    rng = random.Random(seed)
    nets = [f"n{i}" for i in range(max(8, n // 50))]
    with path.open("w") as f:
        f.write(f"flat deck with {n} devices\n.model nch nmos level=1\n.model pch pmos level=1\n")
        for i in range(n):
            a, b, c, d = (rng.choice(nets) for _ in range(4))
            if i % 10 == 9:
                if i % 20 == 9:
                    f.write(f"R{i} {a} {b} {rng.randint(1, 999)}k\n")
                else:
                    f.write(f"C{i} {a} {b} {rng.randint(1, 999)}f\n")
            else:
                model = "nch" if i % 2 else "pch"
                w = rng.choice((0.5, 1, 2, 4, 8))
                f.write(f"M{i} {a} {b} {c} {d} {model} W={w}u L=180n m={rng.randint(1, 4)}\n")
        f.write(".op\n.end\n")


def measure(path: str) -> dict:
    """Parse ``path`` in this process; seconds and peak RSS in MB."""
    from ckt.netlist.parse_spice import read_spice

    t0, c0 = time.perf_counter(), time.process_time()
    netlist = read_spice(path)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"devices": len(netlist.devices), "seconds": seconds, "cpu": cpu, "peak_mb": peak_mb}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"flat_{n}.cir"
            generate(n, path)
            mb_file = path.stat().st_size / 2**20
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path)], check=True, capture_output=True, text=True
            )
            r = json.loads(out.stdout)
            rows.append((n, mb_file, r["seconds"], r["cpu"], r["peak_mb"], 1e6 * r["cpu"] / n))
            path.unlink()
    print(f"{'devices':>10} {'file MB':>8} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'cpu us/dev':>10}")
    for n, mb_file, wall, cpu, peak, per in rows:
        print(f"{n:>10} {mb_file:>8.1f} {wall:>8.2f} {cpu:>8.2f} {peak:>8.0f} {per:>10.2f}")


if __name__ == "__main__":
    main()
