"""The Open Circuit Benchmark, regenerated with open tools: Ckt-Bench-101's circuit family
(``ckt.data.ocb_gen``) labelled by simulating each behavioural netlist in ngspice
(``ckt.data.ocb_label``).

CktGNN's graph pickles are not public and its labels came from a closed simulator, so the raw data
here is *made*: ``download`` generates ``size`` circuits with a fixed ``seed``, labels them through
``ckt.sim``'s executors (resumable: the label store under ``raw/`` survives ``kill -9``, a rerun
simulates only what is missing) and writes one JSON line per circuit (its SPICE netlist and label)
as the raw file. Processing then reads those netlists back like any user deck and decomposes them
with ``decompose_ocb``, the same path ``ckt predict`` takes for a netlist a user wrote.

Items are ``TwoLevelData`` (the ``subgraphs`` view: OCB blocks over the bipartite tensors, so flat
encoders read them too) or plain bipartite/pin views. ``y`` is ``[1, 4]`` in raw units
(``TARGETS``: DC gain in dB, unity-gain bandwidth in Hz, phase margin in degrees, FoM), ``y_ocb``
the same circuit in OCB's encoded units (gain, bw, pm, fom as in ``perform101.csv``), ``stages``
its number of main-path stages (2 or 3: the out-of-distribution split trains on one, tests on the
other). Circuits
without a valid label (no unity-gain crossing, a failed run) are kept out of the items and listed
in ``failures`` with their status. A topology's 20 value variants share a ``group``, so the default
``split("group")`` never puts one topology on both sides.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

from ckt.data.base import Circuit, CircuitDataset, Decomposer, Failure, RawSet
from ckt.errors import CktError, DatasetError
from ckt.graph.ocb_basis import OCB_BLOCK_TYPES, decompose_ocb
from ckt.netlist.parse_spice import parse_spice
from ckt.netlist.write import write_spice

TARGETS = ("gain_db", "ugbw", "pm_deg", "fom")
"""Regression targets in raw units (FoM is OCB's own figure, unitless)."""

ENCODED = ("gain", "bw", "pm", "fom")
"""The same targets in OCB's encoded units (``perform101.csv`` columns)."""

DEFAULT_SIZE = 10_000
"""Ckt-Bench-101's size."""

OCB_DECOMPOSER = Decomposer("ocb", decompose_ocb, OCB_BLOCK_TYPES)
"""The OCB subgraph basis as the ``subgraphs`` view's decomposer."""


class OCB(CircuitDataset):
    """Ckt-Bench-101 regenerated (module docstring).

    Args:
        root: cache folder (default ``$CKT_DATA/ocb``).
        n: circuits to generate (default 10,000, Ckt-Bench-101's size). Unlike the read datasets,
            ``n`` sets the generated set itself: its topologies are the first ``n // 20``.
        seed: the generator's seed.
        view: ``"subgraphs"`` (default), ``"bipartite"`` or ``"pins"``.
        workers: simulation worker processes (default all CPUs).
        executor: ``"local"`` or ``"ray"`` (``address`` names the cluster).
        timeout_s: per-circuit simulation limit.
        **kwargs: as ``CircuitDataset`` (``force_reload``, ``progress``, ``transform``...).
    """

    name: ClassVar[str] = "ocb"
    prepare_options: ClassVar[tuple[str, ...]] = ("seed", "workers", "executor", "address")
    upstream_repo: ClassVar[str] = "zehao-dong/CktGNN (regenerated: ckt.data.ocb_gen + ngspice)"
    upstream_commit: ClassVar[str] = "416cd03"
    target_names = TARGETS

    def __init__(self, root: str | Path | None = None, *, n: int | None = None, seed: int = 0,
                 view: str = "subgraphs", workers: int | None = None, executor: str = "local",
                 address: str | None = None, timeout_s: float = 30.0, **kwargs: Any) -> None:
        self.size = DEFAULT_SIZE if n is None else n
        if self.size <= 0:
            raise DatasetError(f"ocb: -n must be positive, got {self.size}")
        self.seed = seed
        self.workers = workers
        self.executor_kind = executor
        self.address = address
        self.timeout_s = timeout_s
        if kwargs.pop("source", None) is not None:
            raise DatasetError("ocb: the circuits are generated, there is no --source to read")
        decomposer = OCB_DECOMPOSER if view == "subgraphs" else None
        super().__init__(root, view=view, decomposer=decomposer, **kwargs)

    @property
    def archive(self) -> str:  # type: ignore[override]
        return f"ocb-n{self.size}-seed{self.seed}.jsonl"

    @classmethod
    def default_source(cls) -> str:
        return "generated"

    def download(self) -> None:
        """Generate the circuits, label them in ngspice (resumably) and write the raw file."""
        from ckt.data.ocb_gen import generate
        from ckt.data.ocb_label import label_netlists

        circuits = generate(self.size, self.seed)
        netlists = [c.netlist() for c in circuits]
        store = Path(self.raw_dir) / f"labels-n{self.size}-seed{self.seed}.jsonl"
        labels = label_netlists(netlists, store=store, kind=self.executor_kind, workers=self.workers,
                                address=self.address, timeout_s=self.timeout_s)
        part = self.raw_path.with_name(self.raw_path.name + ".part")
        with open(part, "w") as f:
            for c, netlist, label in zip(circuits, netlists, labels):
                record = {"index": c.index, "topology_id": c.topology_id, "stages": c.stages,
                          "types": list(c.types), "netlist": write_spice(netlist), "label": label.record()}
                f.write(json.dumps(record) + "\n")
        os.replace(part, self.raw_path)
        record = {"source": f"generated: ckt.data.ocb_gen.generate({self.size}, seed={self.seed}), labelled by "
                            f"ckt.data.ocb_label in ngspice", "size": self.raw_path.stat().st_size,
                  "sha256": self.raw_sha256()}
        (Path(self.raw_dir) / "SOURCE.json").write_text(json.dumps(record, indent=1) + "\n")

    def read_raw(self) -> RawSet:
        circuits: list[Circuit] = []
        failures: list[Failure] = []
        with open(self.raw_path) as f:
            for line_no, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                    cid = str(record["index"])
                    label = record["label"]
                except (ValueError, KeyError) as exc:
                    raise DatasetError(f"{self.raw_path}:{line_no}: not an OCB record: {exc}") from None
                if label["status"] != "ok":
                    failures.append(Failure(cid, f"{self.raw_path}:{line_no}",
                                            f"no valid label ({label['status']}: {label.get('message', '')})"))
                    continue
                try:
                    netlist = parse_spice(record["netlist"], path=f"{self.raw_path}:{line_no}")
                except CktError as exc:
                    failures.append(Failure(cid, f"{self.raw_path}:{line_no}", f"{type(exc).__name__}: {exc}"))
                    continue
                target = (label["gain_db"], label["ugbw_hz"], label["pm_deg"], label["fom"])
                extra = (("y_ocb", tuple(float(label[k]) for k in ENCODED)), ("stages", int(record["stages"])))
                circuits.append(Circuit(id=cid, netlist=netlist, source_key=f"topology{record['topology_id']}",
                                        target=target, ports=("in", "out"), extra=extra))
        return RawSet(tuple(circuits), tuple(failures))
