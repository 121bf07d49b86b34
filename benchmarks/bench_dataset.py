"""Parse every AnalogGenie circuit and build its bipartite graph (networkx and PyG): time and peak memory.

    python benchmarks/bench_dataset.py [--archive ../shared/data/analoggenie/analoggenie-dataset.tar.gz]

Prints a table and writes ``benchmarks/results/dataset.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tarfile
import tempfile
import time
from pathlib import Path

from ckt.graph.bipartite import to_bipartite_nx
from ckt.graph.to_pyg import to_bipartite_pyg
from ckt.netlist.read import read_netlist

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARCHIVE = ROOT.parent / "shared" / "data" / "analoggenie" / "analoggenie-dataset.tar.gz"


def circuits(folder: Path) -> list[Path]:
    """The main ``{ID}/{ID}.cir`` file of every circuit, in ID order."""
    return sorted((p / f"{p.name}.cir" for p in folder.iterdir() if (p / f"{p.name}.cir").exists()),
                  key=lambda p: int(p.stem))


def machine() -> str:
    """CPU model, core count and Python version, for the README's benchmark table."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _max_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def timed(stage, items):
    start = time.perf_counter()
    out = [stage(x) for x in items]
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "dataset.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(args.archive) as tar:
            tar.extractall(tmp, filter="data")
        paths = circuits(Path(tmp) / "Dataset")
        rss_before = _max_rss_mb()
        netlists, t_parse = timed(read_netlist, paths)
        _, t_nx = timed(to_bipartite_nx, netlists)
        _, t_pyg = timed(to_bipartite_pyg, netlists)
    devices = sum(len(n.devices) for n in netlists)
    result = {
        "circuits": len(paths), "devices": devices,
        "parse_s": round(t_parse, 3), "bipartite_nx_s": round(t_nx, 3), "bipartite_pyg_s": round(t_pyg, 3),
        "rss_before_mb": rss_before, "peak_rss_mb": _max_rss_mb(),
        "machine": machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
