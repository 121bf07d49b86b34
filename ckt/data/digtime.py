"""The CirGPS ``digtime`` parasitics graph, converted to ckt's pin-level layout and cached.

``digtime`` is one post-layout TSMC 28 nm digital timing block from ShenShan123/CirGPS (MIT, commit
``5f07ad8``, ``datasets/sram/raw/digtime.pt``): a pickled ``HeteroData`` with 4133 device, 12399 pin
and 1048 net nodes, the schematic edges ``device-pin``, ``pin-net`` (and a redundant ``device-net``),
and the extracted parasitics as labels: each net's and pin's lumped ground capacitance (``y``, farads;
0 where the extraction left none) and coupling capacitances on ``cc_p2n`` (pin–net, 19840 links),
``cc_p2p`` (pin–pin, 22259) and ``cc_n2n`` (net–net, 2252) links (``y``, farads).

Its raw feature columns are undocumented upstream; read off the data (each checked against counts
and sums over the graph):

* device ``x[16]``: 0 constant 1; 1 W (m); 2 L (m); 3 a diffusion area (``W · 71.1 nm``, m²);
  4 a diffusion perimeter (``2 (W + 71.1 nm)``, m); 5–13 zero; 14 constant 4 (terminals of a
  MOSFET); 15 a device type code (1: 4096 devices, 2: 37 — no polarity can be read off it safely);
* pin ``x[1]``: the pin's role, 0/1/2 = drain/gate/source (role 1 pins are the ones net column 1
  counts; roles 0 and 2 carry the W sums of net column 4);
* net ``x[17]``: 0 distinct devices on the net; 1 gate pins on it; 2 drain and source pins on it;
  3 a count on the two rail nets only; 4 summed W of its drain/source pins (m); 5 a summed gate-side
  size; 6–14 zero; 15–16 flags. Nets 0 and 1 are the rails (CirGPS drops them as ``power_net_ids``).

The conversion (``convert``) writes one ``Data`` in the layout of ``ckt.graph.to_pyg.to_pins_pyg``:
nodes devices ``0..D-1``, pins ``D..D+P-1`` (by device, in d, g, s order), nets ``D+P..``; ``x`` in
``ckt.graph.features.PIN_NODE_COLUMNS`` (device kind MOSFET, ``w``/``l`` log10 with masks, pin
roles d/g/s, ``net:supply`` on the two rails, whose names are lost); ``edge_index`` device → pin,
pin → net and both reversed, ``edge_type`` 0..3. So a model trained on it reads any netlist's pin
view. Labels and extras, all in farads (NaN where unlabelled): ``net_cap [N]`` and ``pin_cap [N]``
on the node index, ``cc_index [2, L]`` (node indices), ``cc_type [L]`` (0 p2n, 1 p2p, 2 n2n,
``CC_TYPES``), ``cc_cap [L]``; ``x_digtime [N, 17]`` keeps the raw columns (zero-padded).

``Digtime`` caches it the way ``ckt.data.base`` does: root ``$CKT_DATA/digtime`` (else
``~/.cache/ckt/digtime``), ``raw/digtime.pt`` with ``SOURCE.json`` (source, size, sha256), a processed
file named by the raw sha256 prefix and ``SCHEMA_VERSION``, a ``.meta.json`` with provenance and
counts, ``force_reload`` rebuilding it. The raw pickle is only ever opened through
``ckt.data.safe_load``; the processed file is plain tensors (``weights_only=True``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch_geometric.data import Data, InMemoryDataset

from ckt.data.base import Provenance, RawFile, source_line
from ckt.data.safe_load import load_graph_pickle
from ckt.errors import DatasetError
from ckt.graph.features import PIN_NODE_COLUMNS

SCHEMA_VERSION = 1
"""Bumped whenever the converted graph's layout changes; part of the processed file name."""

FORMAT = "ckt.dataset.digtime"
CC_TYPES: tuple[str, ...] = ("p2n", "p2p", "n2n")
"""Coupling-link kinds; ``cc_type`` indexes this tuple."""

RAIL_NETS = (0, 1)
"""Digtime's rail nets (its VDD and VSS, names not kept), as CirGPS's ``power_net_ids``."""

PIN_ROLES = ("d", "g", "s")
"""Digtime's pin role codes 0, 1, 2."""

_COL = {c: i for i, c in enumerate(PIN_NODE_COLUMNS)}


def _labels(y: torch.Tensor) -> torch.Tensor:
    """Farads as float64, NaN where the extraction gave none (0)."""
    y = y.reshape(-1).to(torch.float64)
    return torch.where(y > 0, y, torch.full_like(y, math.nan))


def convert(raw: Any) -> Data:
    """Digtime's ``HeteroData`` (or the one-element list CirGPS saved) as ckt's pin-level ``Data``
    (layout in the module docstring).

    Raises:
        DatasetError: the object is not a digtime-shaped graph.
    """
    hg = raw[0] if isinstance(raw, list) and len(raw) == 1 else raw
    try:
        dev_x, pin_role, net_x = hg["device"].x, hg["pin"].x.reshape(-1), hg["net"].x
        dp = hg["device", "device-pin", "pin"].edge_index
        pn = hg["pin", "pin-net", "net"].edge_index
        cc = [hg[src, f"cc_{kind}", dst] for kind, (src, dst) in
              zip(CC_TYPES, (("pin", "net"), ("pin", "pin"), ("net", "net")))]
        net_y, pin_y = hg["net"].y, hg["pin"].y
    except (KeyError, AttributeError, TypeError) as exc:
        raise DatasetError(f"not a digtime-shaped graph (device/pin/net nodes, device-pin, pin-net and "
                           f"cc_* edges): {exc}") from exc
    n_dev, n_pin, n_net = dev_x.shape[0], pin_role.shape[0], net_x.shape[0]
    owner = torch.full((n_pin,), -1, dtype=torch.long)
    owner[dp[1]] = dp[0]
    net_of = torch.full((n_pin,), -1, dtype=torch.long)
    net_of[pn[0]] = pn[1]
    if (owner < 0).any() or (net_of < 0).any() or not bool(((pin_role >= 0) & (pin_role <= 2)).all()):
        raise DatasetError("digtime graph: a pin lacks its device or net, or has a role outside 0..2")
    order = torch.argsort(owner * 3 + pin_role, stable=True)  # pins by device, then d, g, s
    new_pin = torch.empty_like(order)
    new_pin[order] = torch.arange(n_pin)
    n_total = n_dev + n_pin + n_net

    x = torch.zeros(n_total, len(PIN_NODE_COLUMNS))
    x[:n_dev, _COL["node:device"]] = 1.0
    x[:n_dev, _COL["kind:MOSFET"]] = 1.0
    for q, column in (("w", 1), ("l", 2)):
        v = dev_x[:, column].double()
        ok = v > 0
        x[:n_dev, _COL[f"{q}:log10"]] = torch.where(ok, torch.log10(v.clamp_min(1e-30)), 0.0).float()
        x[:n_dev, _COL[f"{q}:mask"]] = ok.float()
    pins = slice(n_dev, n_dev + n_pin)
    x[pins, _COL["node:pin"]] = 1.0
    roles = pin_role[order]
    for code, role in enumerate(PIN_ROLES):
        x[pins, _COL[f"pin:{role}"]] = (roles == code).float()
    x[n_dev + n_pin:, _COL["node:net"]] = 1.0
    x[[n_dev + n_pin + r for r in RAIL_NETS], _COL["net:supply"]] = 1.0

    dev_src, pin_ids = owner[order], n_dev + torch.arange(n_pin)
    net_dst = n_dev + n_pin + net_of[order]
    src, dst = torch.cat([dev_src, pin_ids]), torch.cat([pin_ids, net_dst])

    def node(kind: str, index: torch.Tensor) -> torch.Tensor:
        return n_dev + new_pin[index] if kind == "pin" else n_dev + n_pin + index

    ends = (("pin", "net"), ("pin", "pin"), ("net", "net"))
    cc_index = torch.cat([torch.stack([node(a, e.edge_index[0]), node(b, e.edge_index[1])])
                          for e, (a, b) in zip(cc, ends)], dim=1)
    raw_x = torch.zeros(n_total, 17)
    raw_x[:n_dev, :dev_x.shape[1]] = dev_x
    raw_x[pins, 0] = roles.float()
    raw_x[n_dev + n_pin:, :net_x.shape[1]] = net_x
    net_cap = torch.full((n_total,), math.nan, dtype=torch.float64)
    net_cap[n_dev + n_pin:] = _labels(net_y)
    pin_cap = torch.full((n_total,), math.nan, dtype=torch.float64)
    pin_cap[pins] = _labels(pin_y)[order]
    return Data(
        x=x,
        node_type=torch.tensor([0] * n_dev + [1] * n_pin + [2] * n_net, dtype=torch.long),
        edge_index=torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1),
        edge_type=torch.arange(4).repeat_interleave(n_pin),
        num_nodes=n_total,
        net_cap=net_cap,
        pin_cap=pin_cap,
        cc_index=cc_index,
        cc_type=torch.cat([torch.full((e.edge_index.shape[1],), k, dtype=torch.long) for k, e in enumerate(cc)]),
        cc_cap=torch.cat([e.y.reshape(-1).to(torch.float64) for e in cc]),
        x_digtime=raw_x,
    )


def counts(data: Data) -> dict[str, Any]:
    """Node, edge and label counts of a converted graph (what ``info`` prints)."""
    types = data.node_type.tolist()
    labelled = ~torch.isnan(data.net_cap)
    return {
        "devices": types.count(0), "pins": types.count(1), "nets": types.count(2),
        "edges": int(data.edge_index.shape[1]),
        "labelled_nets": int(labelled.sum()),
        "labelled_pins": int((~torch.isnan(data.pin_cap)).sum()),
        "links": {kind: int((data.cc_type == k).sum()) for k, kind in enumerate(CC_TYPES)},
        "net_cap_range": [float(data.net_cap[labelled].min()), float(data.net_cap[labelled].max())],
        "cc_cap_range": [float(data.cc_cap.min()), float(data.cc_cap.max())],
    }


class Digtime(RawFile, InMemoryDataset):
    """The converted digtime graph (one item), prepared on first use (see the module docstring).

    Args:
        root: the cache folder (default ``data_home() / "digtime"``).
        source: the raw ``digtime.pt`` (default: the reference-data copy,
            ``parasitics/digtime.pt``); a different file given here replaces the cached raw copy.
        force_reload: rebuild the processed file even when it exists.
        n, progress, view: accepted for the ``ckt dataset`` interface; ``n`` must be None (one graph).
    """

    name: ClassVar[str] = "digtime"
    archive: ClassVar[str] = "digtime.pt"
    reference_path: ClassVar[str] = "parasitics/digtime.pt"
    upstream_repo: ClassVar[str] = "https://github.com/ShenShan123/CirGPS"
    upstream_commit: ClassVar[str] = "5f07ad8"

    def __init__(self, root: str | Path | None = None, *, source: str | Path | None = None,
                 force_reload: bool = False, n: int | None = None, progress: Any = None,
                 view: str = "pins") -> None:
        if n is not None:
            raise DatasetError("digtime is one graph; -n does not apply")
        if view != "pins":
            raise DatasetError("digtime has only the pins view")
        self.source = str(source) if source is not None else self.default_source()
        self._raw_sha: str | None = None
        root = Path(root) if root is not None else self.cache_root()
        if source is not None:
            self._refresh_raw(root)
        super().__init__(str(root), None, None, None, log=False, force_reload=force_reload)
        path = self.processed_paths[0]
        try:
            obj = torch.load(path, weights_only=True)
        except Exception as exc:  # torch raises UnpicklingError, RuntimeError or zipfile errors
            raise DatasetError(f"{path}: not a ckt digtime file (prepare it again with force_reload): {exc}") from exc
        if not isinstance(obj, dict) or obj.get("format") != FORMAT or obj.get("schema") != SCHEMA_VERSION:
            raise DatasetError(f"{path}: not a ckt digtime file of schema {SCHEMA_VERSION}")
        self.data, self.slices = Data.from_dict(obj["data"]), None
        self.meta: dict[str, Any] = json.loads(Path(self.processed_paths[1]).read_text())

    @property
    def processed_file_names(self) -> list[str]:
        stem = f"pins-{self.raw_sha256()[:12]}-v{SCHEMA_VERSION}"
        return [f"{stem}.pt", f"{stem}.meta.json"]

    def process(self) -> None:
        data = convert(load_graph_pickle(self.raw_path))
        torch.save({"format": FORMAT, "schema": SCHEMA_VERSION, "data": data.to_dict()}, self.processed_paths[0])
        record_file = Path(self.raw_dir) / "SOURCE.json"
        source = json.loads(record_file.read_text())["source"] if record_file.is_file() else str(self.raw_path)
        provenance = Provenance(dataset=self.name, source=source, sha256=self.raw_sha256(),
                                size=self.raw_path.stat().st_size, upstream=self.upstream_repo,
                                commit=self.upstream_commit, schema_version=SCHEMA_VERSION,
                                prepared_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        meta = {"provenance": asdict(provenance), "view": "pins", "counts": counts(data)}
        Path(self.processed_paths[1]).write_text(json.dumps(meta, indent=1) + "\n")

    def len(self) -> int:
        return 1

    def get(self, idx: int) -> Data:
        if idx != 0:
            raise IndexError(f"digtime has one graph; index {idx}")
        return self._data

    @property
    def graph(self) -> Data:
        """The converted graph."""
        return self._data

    # --- what ``ckt dataset prepare`` and ``info`` say: the hooks of ``CircuitDataset`` ----------
    @classmethod
    def report(cls, meta: dict[str, Any]) -> dict[str, Any]:
        """The prepared meta record itself (provenance and ``counts``): one graph has no classes,
        groups or splits to summarise.

        Raises:
            DatasetError: the record has no graph counts (another dataset's cache).
        """
        if "counts" not in meta:
            raise DatasetError(f"{cls.name}: the prepared record has no graph counts (another dataset's cache?)")
        return dict(meta)

    @classmethod
    def report_lines(cls, report: dict[str, Any]) -> list[str]:
        """The graph's counts, labels and provenance (``report`` plus ``processed``), as text."""
        c, prov = report["counts"], report["provenance"]
        return [f"{prov['dataset']}: one graph, {c['devices']} devices, {c['pins']} pins, {c['nets']} nets, "
                f"{c['edges']} edges -> {report['processed']}",
                f"  labels: {c['labelled_nets']} net and {c['labelled_pins']} pin ground capacitances "
                f"({c['net_cap_range'][0]:.3g}..{c['net_cap_range'][1]:.3g} F on nets); coupling links "
                + ", ".join(f"{k} {v}" for k, v in c["links"].items()),
                source_line(prov)]

    @classmethod
    def prepared_lines(cls, report: dict[str, Any]) -> list[str]:
        """As ``report_lines``: preparing one graph says all there is to say of it."""
        return cls.report_lines(report)
