"""Encoder throughput: training graphs/s per encoder, and two-level prediction against ngspice labelling.

    OMP_NUM_THREADS=1 python benchmarks/bench_encoders.py [--circuits 512] [--repeats 5] [--batch 64]
        [--threads 1] [--device cpu] [--note TEXT] [--out FILE]

The circuits are regenerated OCB op-amps, ``ckt.data.ocb_gen.generate(n, seed=0)``, turned into
two-level graphs here (netlist -> ``decompose_ocb`` -> ``to_two_level_pyg``), so no dataset cache
is read; every encoder reads the same graphs (the flat ones use the bipartite tensors they carry).

* **Training**: per encoder of ``ckt.nn.ENCODERS`` (the ``ckt train encoder`` defaults: hidden 64,
  regression head on four targets), one epoch over the set in shuffled batches of ``--batch`` as
  ``fit`` runs it (collate, forward, loss, backward, Adam step), one untimed epoch first. Targets
  are seeded random numbers: the cost does not depend on their values, nor on the weights.
* **Prediction**: the two-level model in eval mode through ``ckt.nn.predict`` (collate included),
  with and without the one-time cost of building each circuit's tensors from its netlist.
* **Simulation**: the same netlists labelled by ngspice AC analysis through
  ``ckt.data.ocb_label.label_netlists`` on a warm ``LocalExecutor`` with 1 and 2 workers, timed as
  ``bench_ocb_label.py`` times it (its ``time_workers``).

Each figure is the median over ``--repeats`` runs. torch runs on ``--threads`` threads; on a
shared machine the load (``uptime`` before and after) is recorded beside the numbers. Writes
``benchmarks/results/encoders.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch_geometric
from bench_ocb_label import time_workers  # the same simulation timing as the labelling benchmark

from ckt.data import ocb_gen
from ckt.graph.ocb_basis import OCB_BLOCK_TYPES, decompose_ocb
from ckt.graph.two_level import TwoLevelData, to_two_level_pyg
from ckt.netlist.ir import Netlist
from ckt.nn import ENCODERS, CircuitModel, RegressionHead, build_model, loader, predict
from ckt.sim.backends import ngspice_version

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("gain_db", "ugbw", "pm_deg", "fom")
HIDDEN = 64
"""``ckt train encoder``'s default width."""


def graphs_of(netlists: Sequence[Netlist]) -> list[TwoLevelData]:
    """The two-level tensors of each netlist: what a prediction has to build once per circuit."""
    return [to_two_level_pyg(n, decompose_ocb(n), OCB_BLOCK_TYPES) for n in netlists]


def model_for(name: str, graphs: Sequence[TwoLevelData]) -> CircuitModel:
    """Encoder ``name`` with a four-target regression head, normalised on ``graphs`` as ``fit`` does."""
    encoder: dict[str, Any] = {"name": name, "hidden": HIDDEN, "out_dim": HIDDEN}
    if name in ("two_level", "dagnn"):
        encoder["num_block_types"] = len(OCB_BLOCK_TYPES)
    model = build_model({"encoder": encoder, "head": {"task": "regression", "targets": list(TARGETS),
                                                      "hidden": HIDDEN}})
    model.encoder.set_input_normalisation(torch.cat([g.x for g in graphs]))
    head = model.head
    assert isinstance(head, RegressionHead)
    head.set_normalisation(torch.cat([g.y for g in graphs]))
    return model


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds ``fn`` takes, waiting for queued GPU work on both sides."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def time_training(name: str, graphs: Sequence[TwoLevelData], batch: int, repeats: int,
                  device: torch.device) -> dict[str, Any]:
    """Training graphs/s of encoder ``name``: whole epochs, one untimed first."""
    torch.manual_seed(0)
    model = model_for(name, graphs).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)

    def epoch() -> None:
        for b in loader(graphs, batch, shuffle=True, generator=generator):
            b = b.to(device)
            optimizer.zero_grad()
            loss = model.head.loss(model(b), b.y)
            loss.backward()
            optimizer.step()

    epoch()
    rates = [len(graphs) / timed(epoch, device) for _ in range(repeats)]
    return {"graphs_per_s": statistics.median(rates), "graphs_per_s_all": rates,
            "parameters": sum(p.numel() for p in model.parameters())}


def time_prediction(netlists: Sequence[Netlist], graphs: Sequence[TwoLevelData], batch: int, repeats: int,
                    device: torch.device) -> dict[str, Any]:
    """Two-level prediction graphs/s in eval mode, alone and with each circuit's graph building."""
    torch.manual_seed(0)
    model = model_for("two_level", graphs).eval()
    predict(model, graphs[:batch], batch, str(device))  # moves the model, warms the kernels
    model_s = statistics.median(timed(lambda: predict(model, graphs, batch, str(device)), device)
                                for _ in range(repeats))
    cpu = torch.device("cpu")
    build_s = statistics.median(timed(lambda: graphs_of(netlists), cpu) for _ in range(repeats))
    decompose_s = statistics.median(timed(lambda: [decompose_ocb(n) for n in netlists], cpu) for _ in range(repeats))
    n = len(graphs)
    return {"model": "two_level", "graphs_per_s": n / model_s,
            "graph_build_s_per_circuit": build_s / n, "of_which_decompose_s_per_circuit": decompose_s / n,
            "graphs_per_s_with_graph_build": n / (model_s + build_s)}


def uptime() -> str:
    """``uptime``'s line: how busy the machine was."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (the platform's name elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--circuits", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--device", default="cpu", help="torch device for the models (cpu, cuda, cuda:1...)")
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    parser.add_argument("--note", default="", help="what else ran on the machine, recorded in the result")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "encoders.json")
    args = parser.parse_args()
    try:
        device = torch.device(args.device)
    except RuntimeError as exc:
        parser.error(f"--device {args.device!r}: {exc}")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here")
    if args.circuits < args.batch:
        parser.error(f"--circuits ({args.circuits}) must be at least one batch ({args.batch})")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    netlists = [c.netlist() for c in ocb_gen.generate(args.circuits, 0)]
    graphs = graphs_of(netlists)
    targets = torch.randn(len(graphs), len(TARGETS), generator=torch.Generator().manual_seed(0))
    for g, y in zip(graphs, targets):
        g.y = y.reshape(1, -1)
    result: dict[str, Any] = {
        "circuit_set": "ocb_gen.generate(seed=0)", "circuits": len(graphs), "repeats": args.repeats,
        "batch_size": args.batch, "hidden": HIDDEN, "device": str(device),
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
                    "torch_threads": torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                    "cuda_device": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                    "ngspice": ngspice_version(), "uptime_start": uptime(), "note": args.note},
        "training": {},
    }
    for name in args.encoders:
        result["training"][name] = row = time_training(name, graphs, args.batch, args.repeats, device)
        print(f"train {name:>9}: {row['graphs_per_s']:8.0f} graphs/s  ({row['parameters']:,} parameters)")

    result["prediction"] = pred = time_prediction(netlists, graphs, args.batch, args.repeats, device)
    print(f"predict two_level: {pred['graphs_per_s']:.0f} graphs/s; with graph building "
          f"({1e3 * pred['graph_build_s_per_circuit']:.2f} ms/circuit, "
          f"{1e3 * pred['of_which_decompose_s_per_circuit']:.2f} of it decomposing) "
          f"{pred['graphs_per_s_with_graph_build']:.0f}")
    for workers in (1, 2):
        result[f"simulation_workers_{workers}"] = sim = time_workers(netlists, workers, args.repeats)
        rate = sim["circuits_per_s"]
        result[f"surrogate_speedup_over_{workers}_workers"] = {
            "model_only": pred["graphs_per_s"] / rate,
            "with_graph_build": pred["graphs_per_s_with_graph_build"] / rate}
        print(f"simulate {workers} worker(s): {rate:.1f} circuits/s ({100 * sim['valid_fraction']:.0f}% valid); "
              f"prediction {pred['graphs_per_s'] / rate:.0f}x faster "
              f"({pred['graphs_per_s_with_graph_build'] / rate:.1f}x with graph building)")
    result["machine"]["uptime_end"] = uptime()
    result["wall_s"] = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out} ({result['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
