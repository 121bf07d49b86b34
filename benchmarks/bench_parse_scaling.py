"""How ``parse_spice`` scales with deck size: seconds and peak RSS for flat decks of N devices.

Three deck shapes, each generated into a temporary folder and parsed in a fresh child process so
that peak RSS (``ru_maxrss``) belongs to that deck alone:

* ``mos``: mostly 4-terminal MOSFETs with ``w``/``l``/``m``, one R or C in ten, N/50 nets;
* ``mixed``: short lines (about 26 bytes a device, like a 50 MB deck of 1.7 million devices) of
  R, C, MOSFET, subcircuit instance, BJT and diode in turn, N/20 nets;
* ``continued``: one PWL source whose points sit on N ``+`` continuation lines.

Linear scaling shows as constant microseconds per device (or per line). CPU seconds are reported
next to wall seconds because a shared machine inflates the latter. Writes
``benchmarks/results/parse_scaling.json``.

    python benchmarks/bench_parse_scaling.py --sizes 100000 1000000 --mixed 1700000 --continued 400000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def generate_mixed(n: int, path: Path, seed: int = 0) -> None:
    """Write a flat deck of ``n`` short device lines of six kinds to ``path``."""
    rng = random.Random(seed)
    nets = [f"n{i}" for i in range(max(8, n // 20))]
    with path.open("w") as f:
        f.write(f"mixed deck with {n} devices\n.model nch nmos\n.model qn npn\n.model dd d\n"
                ".subckt inv a y\nM1 y a 0 0 nch\n.ends\n")
        for i in range(n):
            a, b, c, d = (rng.choice(nets) for _ in range(4))
            k = i % 6
            if k == 0:
                f.write(f"R{i} {a} {b} {rng.randint(1, 999)}k\n")
            elif k == 1:
                f.write(f"C{i} {a} {b} 1p\n")
            elif k == 2:
                f.write(f"M{i} {a} {b} {c} {d} nch\n")
            elif k == 3:
                f.write(f"X{i} {a} {b} inv\n")
            elif k == 4:
                f.write(f"Q{i} {a} {b} {c} qn\n")
            else:
                f.write(f"D{i} {a} {b} dd\n")
        f.write(".op\n.end\n")


def generate_continued(n: int, path: Path) -> None:
    """Write a deck whose one PWL source is continued on ``n`` ``+`` lines."""
    with path.open("w") as f:
        f.write("one long continued line\nV1 a 0 PWL(\n")
        for i in range(n):
            f.write(f"+ {i}n {i % 7}\n")
        f.write("+ )\nR1 a 0 1k\n.op\n.end\n")


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
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000], help="mos decks")
    ap.add_argument("--mixed", type=int, nargs="*", default=[], help="mixed short-line decks")
    ap.add_argument("--continued", type=int, nargs="*", default=[], help="continuation lines of one card")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "parse_scaling.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    makers = {"mos": generate, "mixed": generate_mixed, "continued": generate_continued}
    plan = [("mos", n) for n in args.sizes] + [("mixed", n) for n in args.mixed] + [
        ("continued", n) for n in args.continued]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shape, n in plan:
            path = Path(tmp) / f"{shape}_{n}.cir"
            makers[shape](n, path)
            mb_file = path.stat().st_size / 2**20
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path)], check=True, capture_output=True, text=True
            )
            r = json.loads(out.stdout)
            rows.append({"deck": shape, "n": n, "file_mb": round(mb_file, 1), "wall_s": round(r["seconds"], 2),
                         "cpu_s": round(r["cpu"], 2), "peak_mb": round(r["peak_mb"]),
                         "cpu_us_per_n": round(1e6 * r["cpu"] / n, 2),  # = CPU s per million
                         "peak_mb_per_million": round(1e6 * r["peak_mb"] / n)})
            path.unlink()
    print(f"{'deck':>10} {'n':>10} {'file MB':>8} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'cpu us/n':>9}")
    for r in rows:
        print(f"{r['deck']:>10} {r['n']:>10} {r['file_mb']:>8.1f} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} "
              f"{r['peak_mb']:>8} {r['cpu_us_per_n']:>9.2f}")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = os.getloadavg()[0]
    args.out.write_text(json.dumps({"machine": machine, "load_average_at_end": round(load, 2),
                                    "note": "CPU seconds are the steadier figure on a shared machine",
                                    "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
