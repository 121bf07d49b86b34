"""The one dataset base class: circuits read from a raw source, turned into graph views, cached.

``CircuitDataset`` is a PyG ``InMemoryDataset`` with ckt's conventions on top:

* root ``$CKT_DATA/NAME`` (else ``~/.cache/ckt/NAME``), with PyG's ``raw/`` and ``processed/``;
* ``source=`` a local archive, a local folder (a clone of the upstream repository; its dataset
  files are packed into a reproducible archive) or an ``http(s)`` URL (fetched with ``urllib``);
  ``raw/SOURCE.json`` records where it came from, its size and sha256;
* the processed file name carries the view, the sample size, the raw sha256 prefix and
  ``SCHEMA_VERSION``, so changing any of them rebuilds, as does ``force_reload``; a sidecar
  ``.meta.json`` holds provenance, per-circuit labels and groups, and every circuit that failed;
* processed files are plain tensors and builtins, loaded with ``torch.load(weights_only=True)``.

Each item is the graph view's tensors plus ``y`` (class index ``[1]`` for typed datasets, float
targets ``[1, T]`` for regression), ``circuit`` (its id), ``group`` (an int shared by variants of
one circuit or topology, for ``ckt.data.splits``) and ``ckt_type``. The bookkeeping lists that rebuild
the netlist (``device_names``...) are dropped unless ``keep_names=True``, so collation stays fast;
``edge_attr`` (a one-hot of ``edge_type``) is rebuilt on access rather than stored.

A subclass says how to read its raw file (``read_raw``); the base does the rest, down to what
``ckt dataset prepare`` and ``info`` say of a prepared one (``report``, ``report_lines``,
``prepared_lines``: hooks a dataset of another shape, ``ckt.data.digtime``, words its own way).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import shutil
import tarfile
import time
import urllib.request
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch_geometric.data import Data, InMemoryDataset

from ckt.errors import CktError, DatasetError, DatasetWarning
from ckt.graph.features import EDGE_TYPES
from ckt.graph.to_pyg import to_bipartite_pyg, to_pins_pyg
from ckt.graph.two_level import TwoLevelData, TwoLevelGraph, to_two_level_pyg
from ckt.netlist.inline import inline_includes
from ckt.netlist.ir import Netlist

SCHEMA_VERSION = 2
"""Bumped whenever an item's layout changes; part of every processed file name."""

VIEWS = ("bipartite", "pins", "subgraphs")
FORMAT = "ckt.dataset"

REPORT_SPLIT = (0.8, 0.1, 0.1)
"""The split fractions (seed 0) whose sizes ``CircuitDataset.report`` gives."""

BOOKKEEPING = (
    "device_names", "device_kinds", "device_models", "device_values", "device_params", "device_specs",
    "net_names", "netlist_meta", "device_pins", "edge_pins", "pin_names", "graph_view",
)
"""Per-item Python lists that only rebuilding the netlist needs (kept with ``keep_names=True``)."""


def data_home(env: Mapping[str, str] | None = None) -> Path:
    """Where datasets are cached: ``$CKT_DATA``, else ``~/.cache/ckt``."""
    env = os.environ if env is None else env
    return Path(env["CKT_DATA"]) if env.get("CKT_DATA") else Path.home() / ".cache" / "ckt"


def reference_data(env: Mapping[str, str] | None = None) -> Path | None:
    """The project's reference-data folder: ``$CKT_REFERENCE_DATA``, else ``../shared/data`` beside
    a source checkout of ckt; None when neither exists."""
    env = os.environ if env is None else env
    candidates = [Path(env["CKT_REFERENCE_DATA"])] if env.get("CKT_REFERENCE_DATA") else []
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "data")
    return next((c for c in candidates if c.is_dir()), None)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Circuit:
    """One circuit as read from the raw data, before it becomes a graph.

    Attributes:
        id: its name in the dataset (AnalogGenie ID, Image2Net file stem, a user's file name).
        netlist: the flat netlist.
        ckt_type: its class name ("" for untyped regression data).
        source_key: circuits with the same non-empty key are variants of one circuit (one source
            page, one user-given group) and always share a split.
        target: regression targets, in ``target_names`` order.
        ports: external nets (flagged in ``is_port``).
        renamed: how many reused instance names the reader made unique.
        extra: ``(name, values)`` pairs a dataset adds to the item as ``name = tensor([values])``
            (OCB: its encoded labels ``y_ocb``, its stage count ``stages``).
    """

    id: str
    netlist: Netlist
    ckt_type: str = ""
    source_key: str = ""
    target: tuple[float, ...] = ()
    ports: tuple[str, ...] = ()
    renamed: int = 0
    extra: tuple[tuple[str, float | int | tuple[float, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class Failure:
    """A circuit that could not be read, and why (never silently dropped)."""

    circuit: str
    file: str
    reason: str


@dataclass(frozen=True, slots=True)
class RawSet:
    """What a reader found in a raw source: the circuits it read and those it could not."""

    circuits: tuple[Circuit, ...]
    failures: tuple[Failure, ...] = ()


@dataclass(frozen=True, slots=True)
class Decomposer:
    """How the ``subgraphs`` view splits a netlist into typed blocks.

    Attributes:
        name: the basis (``"ocb"``, ``"blocks"``); part of the processed file name.
        decompose: netlist -> its two-level graph.
        block_types: the basis vocabulary ``block_type`` indexes.
    """

    name: str
    decompose: Callable[[Netlist], TwoLevelGraph]
    block_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a prepared dataset came from."""

    dataset: str
    source: str
    sha256: str
    size: int
    upstream: str
    commit: str
    schema_version: int = SCHEMA_VERSION
    prepared_utc: str = field(default="")


def source_line(prov: Mapping[str, Any]) -> str:
    """A provenance record as the ``source ...`` line of ``ckt dataset info``."""
    return (f"  source {prov['source']} (sha256 {prov['sha256'][:16]}..., {prov['size']} bytes)"
            + (f", upstream {prov['upstream']} @ {prov['commit']}" if prov["commit"] else ""))


def pack_folder(folder: Path, dest: Path, keep: Callable[[str], bool]) -> None:
    """Write the files of ``folder`` that ``keep`` accepts (by archive name ``FOLDER/rel/path``) as a
    reproducible ``.tar.gz``: sorted, zero times and owners, so the same files give the same sha256."""
    with open(dest, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            if keep(name):
                info = tarfile.TarInfo(name)
                info.size, info.mode = path.stat().st_size, 0o644
                with open(path, "rb") as f:
                    tar.addfile(info, f)


def fetch(source: str, dest: Path, keep: Callable[[str], bool] = lambda name: True) -> None:
    """Copy a local archive, pack a local folder (its files that ``keep`` accepts) or download an
    ``http(s)`` URL to ``dest`` (atomically).

    Raises:
        DatasetError: the path is missing or the download fails.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=60) as response, open(part, "wb") as out:  # noqa: S310
                shutil.copyfileobj(response, out)
        else:
            path = Path(source).expanduser()
            if path.is_dir():
                pack_folder(path, part, keep)
            elif path.is_file():
                shutil.copyfile(path, part)
            else:
                raise DatasetError(f"{source}: no such file or folder (give the dataset archive, folder or URL)")
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise DatasetError(f"{source}: cannot fetch: {exc}") from exc
    os.replace(part, dest)


def topology_hash(netlist: Netlist) -> str:
    """A name-blind Weisfeiler–Lehman hash of the device–net graph: equal for isomorphic circuits
    (whatever the view), so relabelled copies of one topology land in one split group.

    Devices start from their kind and model, nets from nothing; each edge is labelled by the pins
    of the device on that net (``d+g`` for a diode-connected MOSFET). Three rounds fold in the
    sorted multiset of (edge label, neighbour label). Labels are blake2b digests, so the hash is
    the same in every process.
    """
    devices = inline_includes(netlist, libraries=False).devices
    net_index: dict[str, int] = {}
    labels = [f"{d.kind.name}:{d.model}" for d in devices]
    neighbours: list[list[tuple[str, int]]] = [[] for _ in devices]
    for i, d in enumerate(devices):
        pins: dict[str, list[str]] = {}
        for pin, net in d.terminals:
            pins.setdefault(net, []).append(pin)
        for net, on in pins.items():
            if net not in net_index:
                net_index[net] = len(labels)
                labels.append("net")
                neighbours.append([])
            edge = "+".join(sorted(on))
            neighbours[i].append((edge, net_index[net]))
            neighbours[net_index[net]].append((edge, i))
    seen: list[str] = []
    for _ in range(3):
        labels = [
            hashlib.blake2b(
                (labels[v] + "|" + ",".join(sorted(f"{e}:{labels[u]}" for e, u in neighbours[v]))).encode(),
                digest_size=8,
            ).hexdigest()
            for v in range(len(labels))
        ]
        seen.extend(sorted(labels))
    return hashlib.blake2b(" ".join(seen).encode(), digest_size=16).hexdigest()


def assign_groups(circuits: Sequence[Circuit], hashes: Sequence[str]) -> list[int]:
    """Group index per circuit: circuits sharing a source key or a topology hash (transitively)
    share a group; groups are numbered in order of first appearance."""
    parent = list(range(len(circuits)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, (c, h) in enumerate(zip(circuits, hashes)):
        for key in ([("source", c.source_key)] if c.source_key else []) + [("topology", h)]:
            j = first.setdefault(key, i)
            if j != i:
                parent[find(i)] = find(j)
    number: dict[int, int] = {}
    return [number.setdefault(find(i), len(number)) for i in range(len(circuits))]


def spread(n_total: int, n: int | None) -> list[int]:
    """``n`` indices spread evenly over ``range(n_total)`` (all when None): a small sample that
    still covers every part of an ID-ordered dataset."""
    if n is None or n >= n_total:
        return list(range(n_total))
    if n <= 0:
        raise DatasetError(f"-n must be positive, got {n}")
    return sorted({(i * n_total) // n for i in range(n)})


class RawFile:
    """One raw file per dataset under ``raw/``: where it comes from (a local archive or folder, the
    reference-data copy, an upstream URL), its sha256, and its refresh when a different local source
    is given. Shared by the circuit collections (``CircuitDataset``) and the one-graph datasets
    (``ckt.data.digtime``); the subclass sets ``self.source`` and ``self._raw_sha = None`` first."""

    name: ClassVar[str] = ""
    archive: ClassVar[str] = ""
    """The raw file's name under ``raw/``."""
    upstream_url: ClassVar[str] = ""
    upstream_repo: ClassVar[str] = ""
    upstream_commit: ClassVar[str] = ""
    reference_path: ClassVar[str] = ""
    """Where the archive sits in the project's reference-data folder (``../shared/data``)."""
    prepare_options: ClassVar[tuple[str, ...]] = ("source",)
    """The constructor's dataset-specific keywords that ``ckt dataset prepare`` may pass (beyond
    ``n``, ``view`` and ``force_reload``); options for another dataset are refused by name."""
    source: str
    _raw_sha: str | None
    if TYPE_CHECKING:
        @property
        def raw_dir(self) -> str: ...  # PyG's, from the InMemoryDataset the subclass also is

    @classmethod
    def cache_root(cls, source: str | Path | None = None) -> Path:
        """The default root: ``data_home() / name``."""
        return data_home() / cls.name

    @classmethod
    def default_source(cls) -> str:
        """The archive in the reference-data folder when there is one, else the upstream URL."""
        folder = reference_data()
        if folder is not None and cls.reference_path and (folder / cls.reference_path).is_file():
            return str(folder / cls.reference_path)
        return cls.upstream_url

    @property
    def raw_file_names(self) -> list[str]:
        return [self.archive]

    @property
    def raw_path(self) -> Path:
        return Path(self.raw_dir) / self.archive

    @classmethod
    def keep_member(cls, name: str) -> bool:
        """Whether a file of a source folder (``FOLDER/rel/path``) belongs in the packed raw archive."""
        return True

    def _refresh_raw(self, root: Path) -> None:
        """Drop a raw copy that differs from an explicitly given local source, so it is copied anew."""
        raw = root / "raw" / self.archive
        src = Path(self.source).expanduser()
        if not raw.is_file() or self.source.startswith(("http://", "https://")):
            return
        if src.is_dir():
            packed = raw.with_name(raw.name + ".check")
            pack_folder(src, packed, self.keep_member)
            differs = sha256_file(packed) != sha256_file(raw)
            packed.unlink()
        else:
            differs = src.is_file() and (
                src.stat().st_size != raw.stat().st_size or sha256_file(src) != sha256_file(raw))
        if differs:
            raw.unlink()

    def download(self) -> None:
        if not self.source:
            raise DatasetError(f"{self.name}: no raw file in {self.raw_dir} and no source to fetch it from "
                               "(give --source)")
        fetch(self.source, self.raw_path, self.keep_member)
        record = {"source": self.source, "size": self.raw_path.stat().st_size, "sha256": sha256_file(self.raw_path)}
        (Path(self.raw_dir) / "SOURCE.json").write_text(json.dumps(record, indent=1) + "\n")

    def raw_sha256(self) -> str:
        if self._raw_sha is None:
            self._raw_sha = sha256_file(self.raw_path)
        return self._raw_sha


class CircuitDataset(RawFile, InMemoryDataset):
    """Base of every ckt dataset (see the module docstring).

    Args:
        root: the cache folder (default ``data_home() / name``).
        source: a local archive or URL of the raw data; read when ``raw/`` lacks the file, or (a
            local file given here) when ``raw/`` holds a different one. Default: the archive in the
            reference-data folder (``reference_data``) when there is one, else ``upstream_url``.
        view: ``"bipartite"``, ``"pins"``, or ``"subgraphs"`` (needs ``decomposer``).
        n: prepare only ``n`` circuits spread over the dataset (quick runs, CI).
        force_reload: rebuild the processed file even when it exists.
        keep_names: keep the bookkeeping lists that rebuild each netlist (``ckt.graph.to_pyg``).
        decomposer: the block basis of the ``subgraphs`` view.
        progress: called as ``progress(done, total)`` after each circuit while processing.
        transform, pre_filter: as in PyG.
    """

    classes: tuple[str, ...] = ()
    """Class names ``y`` indexes (empty for regression)."""
    target_names: tuple[str, ...] = ()
    """Regression targets, the columns of ``y`` (empty for classification)."""
    class_aliases: ClassVar[dict[str, str]] = {}
    """Each class as the name another dataset gives it (Image2Net's amplifier types are AnalogGenie's
    ``Opamp``), so a classifier trained there can be scored here on the classes they share."""

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        source: str | Path | None = None,
        view: str = "bipartite",
        n: int | None = None,
        force_reload: bool = False,
        keep_names: bool = False,
        decomposer: Decomposer | None = None,
        progress: Callable[[int, int], None] | None = None,
        transform: Callable[[Data], Data] | None = None,
        pre_filter: Callable[[Data], bool] | None = None,
    ) -> None:
        self.progress = progress
        if view not in VIEWS:
            raise DatasetError(f"unknown view {view!r}; use one of {', '.join(VIEWS)}")
        if view == "subgraphs" and decomposer is None:
            raise DatasetError("the subgraphs view needs a decomposer (ckt.data.base.Decomposer)")
        self.view = view
        self.n = n
        self.keep_names = keep_names
        self.decomposer = decomposer
        self.source = str(source) if source is not None else self.default_source()
        self._raw_sha: str | None = None
        self._notes: list[str] = []
        root = Path(root) if root is not None else self.cache_root()
        if source is not None:
            self._refresh_raw(root)
        super().__init__(str(root), transform, None, pre_filter, log=False, force_reload=force_reload)
        for note in self._notes:  # raised here, so the warning points at the caller
            warnings.warn(note, DatasetWarning, stacklevel=2)
        self._load()

    def read_raw(self) -> RawSet:
        """Every circuit of the raw data, and every one that could not be read."""
        raise NotImplementedError

    # --- processed -----------------------------------------------------------------------------
    @property
    def stem(self) -> str:
        view = f"{self.view}-{self.decomposer.name}" if self.decomposer and self.view == "subgraphs" else self.view
        names = "-names" if self.keep_names else ""
        return f"{view}{names}-n{self.n or 'all'}-{self.raw_sha256()[:12]}-v{SCHEMA_VERSION}"

    @property
    def processed_file_names(self) -> list[str]:
        return [f"{self.stem}.pt", f"{self.stem}.meta.json"]

    def provenance_record(self) -> Provenance:
        record_file = Path(self.raw_dir) / "SOURCE.json"
        source = json.loads(record_file.read_text())["source"] if record_file.is_file() else str(self.raw_path)
        return Provenance(
            dataset=self.name, source=source, sha256=self.raw_sha256(), size=self.raw_path.stat().st_size,
            upstream=self.upstream_repo, commit=self.upstream_commit,
            prepared_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    def graph_of(self, circuit: Circuit) -> tuple[Data, str]:
        """The item for one circuit (view tensors plus labels; see the module docstring) and its
        topology hash."""
        netlist = circuit.netlist
        if self.view == "bipartite":
            data = to_bipartite_pyg(netlist)
        elif self.view == "pins":
            data = to_pins_pyg(netlist)
        else:
            assert self.decomposer is not None
            data = to_two_level_pyg(netlist, self.decomposer.decompose(netlist), self.decomposer.block_types)
        topology = topology_hash(netlist)
        ports = set(circuit.ports)
        nets = inline_includes(netlist, libraries=False).nets  # the nets the views number, last
        data.is_port = torch.tensor([False] * (data.num_nodes - len(nets)) + [n in ports for n in nets])
        if "edge_attr" in data:
            del data.edge_attr  # the one-hot of edge_type: rebuilt by get(), not stored
        if not self.keep_names:
            for key in BOOKKEEPING:
                if key in data:
                    del data[key]
        if self.classes:
            data.y = torch.tensor([self.classes.index(circuit.ckt_type)], dtype=torch.long)
        else:
            data.y = torch.tensor([circuit.target], dtype=torch.float).reshape(1, len(self.target_names))
        data.circuit = circuit.id
        data.ckt_type = circuit.ckt_type
        for key, value in circuit.extra:
            data[key] = torch.tensor([value])
        return data, topology

    def process(self) -> None:
        raw = self.read_raw()
        circuits = sorted(raw.circuits, key=lambda c: _id_key(c.id))
        circuits = [circuits[i] for i in spread(len(circuits), self.n)]
        if self.classes:
            unknown = sorted({c.ckt_type for c in circuits} - set(self.classes))
            if unknown:
                raise DatasetError(f"{self.name}: circuit types outside the class list: {', '.join(unknown)}")
        failures = list(raw.failures)
        items: list[Data] = []
        kept: list[Circuit] = []
        hashes: list[str] = []
        for done, c in enumerate(circuits, 1):
            if self.progress is not None:
                self.progress(done, len(circuits))
            try:
                data, topology = self.graph_of(c)
            except CktError as exc:
                failures.append(Failure(c.id, "", f"{type(exc).__name__}: {exc}"))
                continue
            if self.pre_filter is not None and not self.pre_filter(data):
                continue
            items.append(data)
            kept.append(c)
            hashes.append(topology)
        groups = assign_groups(kept, hashes)
        for data, g in zip(items, groups):
            data.group = g
        if not items:
            why = f"; first failure: {failures[0].circuit}: {failures[0].reason}" if failures else ""
            raise DatasetError(f"{self.name}: no circuit could be read from {self.raw_path}{why}")
        data, slices = self.collate(items)
        torch.save({"format": FORMAT, "schema": SCHEMA_VERSION, "data": data.to_dict(), "slices": slices},
                   self.processed_paths[0])
        renamed = sum(1 for c in kept if c.renamed)
        meta = {
            "provenance": asdict(self.provenance_record()),
            "view": self.view, "n": self.n, "classes": list(self.classes), "target_names": list(self.target_names),
            "circuits": [c.id for c in kept], "ckt_types": [c.ckt_type for c in kept], "groups": groups,
            "targets": [list(c.target) for c in kept],
            "renamed_circuits": renamed, "renamed_devices": sum(c.renamed for c in kept),
            "failures": [asdict(f) for f in failures],
        }
        Path(self.processed_paths[1]).write_text(json.dumps(meta, indent=1) + "\n")
        if failures:
            self._notes.append(f"{self.name}: {len(failures)} circuit(s) are left out "
                               f"(see .failures), first: {failures[0].circuit}: {failures[0].reason}")
        if renamed:
            self._notes.append(f"{self.name}: {renamed} circuit(s) reuse instance names for different devices; "
                               f"{meta['renamed_devices']} device(s) renamed NAME__2... (every device kept)")

    def _load(self) -> None:
        path = self.processed_paths[0]
        try:
            obj = torch.load(path, weights_only=True)
        except Exception as exc:  # torch raises UnpicklingError, RuntimeError or zipfile errors
            raise DatasetError(f"{path}: not a ckt dataset file (prepare it again with force_reload): {exc}") from exc
        if not isinstance(obj, dict) or obj.get("format") != FORMAT or obj.get("schema") != SCHEMA_VERSION:
            raise DatasetError(f"{path}: not a ckt dataset file of schema {SCHEMA_VERSION}")
        cls = TwoLevelData if self.view == "subgraphs" else Data
        self.data, self.slices = cls.from_dict(obj["data"]), obj["slices"]
        self.meta: dict[str, Any] = json.loads(Path(self.processed_paths[1]).read_text())

    def get(self, idx: int) -> Data:
        """Item ``idx``; the bipartite and subgraph views get ``edge_attr`` (the one-hot of
        ``edge_type``) back here, which keeps the cache file 8x smaller."""
        data = super().get(idx)
        if self.view != "pins":
            data.edge_attr = torch.nn.functional.one_hot(data.edge_type, len(EDGE_TYPES)).float()
        return data

    # --- what users ask of a prepared dataset --------------------------------------------------
    @property
    def provenance(self) -> Provenance:
        return Provenance(**self.meta["provenance"])

    @property
    def failures(self) -> tuple[Failure, ...]:
        return tuple(Failure(**f) for f in self.meta["failures"])

    @property
    def groups(self) -> torch.Tensor:
        """``[N]`` the split group of each item (of this subset, when the dataset was indexed)."""
        return self._data.group[torch.as_tensor(list(self.indices()), dtype=torch.long)]

    def extra_values(self, name: str) -> torch.Tensor | None:
        """The per-circuit ``Circuit.extra`` values ``name`` of this (subset's) items, in item order
        (``[N]`` or ``[N, k]``); None when the dataset carries no such values."""
        values = getattr(self._data, name, None)
        if values is None:
            return None
        return values[torch.as_tensor(list(self.indices()), dtype=torch.long)]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_counts(self) -> dict[str, int]:
        """Items per class, in ``classes`` order (of this subset, when the dataset was indexed)."""
        y = self._data.y[torch.as_tensor(list(self.indices()), dtype=torch.long)]
        counts = torch.bincount(y, minlength=len(self.classes)).tolist() if self.classes else []
        return dict(zip(self.classes, counts))

    def split(self, kind: str = "group", fractions: Sequence[float] = (0.8, 0.1, 0.1),
              seed: int = 0) -> dict[str, torch.Tensor]:
        """Index tensors per split: ``"group"`` keeps every group on one side (stratified by class on
        a typed dataset, so a type's groups spread over the sides), ``"random"`` does not."""
        from ckt.data.splits import group_split, random_split

        if kind == "group":
            strata = self._data.y[torch.as_tensor(list(self.indices()), dtype=torch.long)].flatten() \
                if self.classes else None
            return group_split(self.groups, fractions, seed, strata=strata)
        if kind == "random":
            return random_split(len(self), fractions, seed)
        raise DatasetError(f"unknown split {kind!r}; use group or random")

    # --- what ``ckt dataset prepare`` and ``info`` say of a prepared one -----------------------
    @classmethod
    def report(cls, meta: dict[str, Any]) -> dict[str, Any]:
        """Counts, label statistics, split sizes and provenance, from a prepared meta record.

        Raises:
            DatasetError: the record is not a circuit collection's (another dataset's cache).
        """
        from ckt.data.splits import group_split, random_split

        if "circuits" not in meta:
            raise DatasetError(f"{cls.name}: the prepared record lists no circuits (another dataset's cache?)")
        groups = meta["groups"]
        counts = Counter(meta["ckt_types"])
        targets: dict[str, dict[str, float]] = {}
        for j, t in enumerate(meta["target_names"]):
            values = [row[j] for row in meta["targets"]]
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
            targets[t] = {"mean": mean, "std": std, "min": min(values), "max": max(values)}
        splits: dict[str, dict[str, int]] = {}
        notes: list[str] = []
        try:
            types = sorted(counts)
            strata = [types.index(t) for t in meta["ckt_types"]] if any(types) else None  # as split()
            splits["group"] = {k: len(v) for k, v in group_split(groups, REPORT_SPLIT, 0, strata=strata).items()}
        except DatasetError as exc:  # too few groups for three sides
            notes.append(f"no group split: {exc}")
        splits["random"] = {k: len(v) for k, v in random_split(len(groups), REPORT_SPLIT, 0).items()}
        return {
            "provenance": meta["provenance"], "view": meta["view"], "n": meta["n"],
            "circuits": len(meta["circuits"]), "failed": len(meta["failures"]),
            "renamed_circuits": meta["renamed_circuits"], "renamed_devices": meta["renamed_devices"],
            "classes": {c: counts[c] for c in meta["classes"]}, "targets": targets,
            "groups": len(set(groups)), "largest_group": max(Counter(groups).values()) if groups else 0,
            "splits": splits, "failures": meta["failures"], "notes": notes,
        }

    @classmethod
    def prepared_lines(cls, report: dict[str, Any]) -> list[str]:
        """What ``ckt dataset prepare`` prints: ``report`` plus ``processed`` and ``seconds``, in short."""
        return [f"{cls.name}: {report['circuits']} circuits, {report['failed']} failed, "
                f"{report['groups']} groups, {report['seconds']:.1f} s -> {report['processed']}"]

    @classmethod
    def report_lines(cls, report: dict[str, Any]) -> list[str]:
        """What ``ckt dataset info`` prints: ``report`` plus ``processed``, in full."""
        prov = report["provenance"]
        lines = [f"{prov['dataset']}: {report['circuits']} circuits ({report['view']} view"
                 f"{', sample of ' + str(report['n']) if report['n'] else ''}), {report['failed']} failed, "
                 f"{report['renamed_circuits']} with renamed duplicate devices",
                 source_line(prov)]
        if report["classes"]:
            lines.append(f"  {len(report['classes'])} classes:")
            lines += [f"    {c:<20} {k}" for c, k in report["classes"].items()]
        lines += [f"  target {t}: mean {stats['mean']:.4g}, std {stats['std']:.4g}, "
                  f"min {stats['min']:.4g}, max {stats['max']:.4g}" for t, stats in report["targets"].items()]
        lines.append(f"  {report['groups']} groups (largest {report['largest_group']})")
        lines += [f"  {kind} split {'/'.join(str(round(f * 100)) for f in REPORT_SPLIT)}, seed 0: "
                  + ", ".join(f"{k} {v}" for k, v in sizes.items()) for kind, sizes in report["splits"].items()]
        lines += [f"  {note}" for note in report["notes"]]
        lines += [f"  failed {f['circuit']}: {f['reason']}" for f in report["failures"][:5]]
        return lines


def _id_key(circuit_id: str) -> tuple[int, int, str]:
    """Natural order: ids by their leading number (``9`` before ``10``), then by the rest."""
    digits = len(circuit_id) - len(circuit_id.lstrip("0123456789"))
    return (0, int(circuit_id[:digits]), circuit_id[digits:]) if digits else (1, 0, circuit_id)
