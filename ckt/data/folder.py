"""A user's own folder of netlists plus a CSV of labels, as a dataset like the published ones.

The folder holds netlists in any format ``ckt`` reads (SPICE, Spectre, component dicts, JSON;
detected per file). The CSV has a header; its ``circuit`` column (else its first) names each
circuit by its file name, its path relative to the folder, or either without the extension. An
optional ``group`` column puts variants of one circuit in one split group. The labels are either
one class column (``label=``) or float target columns (``targets=``); with neither, a single
non-numeric column is a class label and numeric columns are regression targets.

A circuit the CSV names but the folder lacks is an error that lists every such name; a file the CSV
does not name is not part of the dataset. A netlist that cannot be read, or has no top-level
device, is a counted failure.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from torch_geometric.data import Data

from ckt.data.base import Circuit, CircuitDataset, Decomposer, Failure, Provenance, RawSet, data_home
from ckt.errors import CktError, DatasetError
from ckt.netlist.read import read_netlist

RESERVED = ("circuit", "group")


@dataclass(frozen=True, slots=True)
class LabelTable:
    """The CSV, checked: one row per circuit.

    Attributes:
        names: circuit names in file order.
        lines: the CSV line of each.
        groups: user group keys ("" when the CSV has no ``group`` column).
        classes: sorted class names (classification), else empty.
        labels: the class of each circuit (classification), else empty strings.
        target_names: the regression columns, else empty.
        targets: the regression values of each circuit.
    """

    names: tuple[str, ...]
    lines: tuple[int, ...]
    groups: tuple[str, ...]
    classes: tuple[str, ...]
    labels: tuple[str, ...]
    target_names: tuple[str, ...]
    targets: tuple[tuple[float, ...], ...]


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_labels(path: Path, label: str | None = None, targets: Sequence[str] = ()) -> LabelTable:
    """Read and check the labels CSV (see the module docstring).

    Raises:
        DatasetError: the CSV is empty, names a column it lacks, repeats a circuit, or holds a
            non-numeric target (``file:line``).
    """
    if not path.is_file():
        raise DatasetError(f"{path}: no labels CSV")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    if len(rows) < 2:
        raise DatasetError(f"{path}: needs a header row and at least one circuit")
    header = [h.strip() for h in rows[0]]
    key = "circuit" if "circuit" in header else header[0]
    columns = [h for h in header if h not in (key, "group")]
    if label is not None and targets:
        raise DatasetError("give either a class label column or regression targets, not both")
    for name in ([label] if label else []) + list(targets):
        if name not in header:
            raise DatasetError(f"{path}:1: no column {name!r}; columns: {', '.join(header)}")
    body = [(i + 2, r) for i, r in enumerate(rows[1:]) if any(c.strip() for c in r)]
    for line, r in body:
        if len(r) != len(header):
            raise DatasetError(f"{path}:{line}: {len(r)} fields, the header has {len(header)}")
    cell = {h: i for i, h in enumerate(header)}
    if label is None and not targets:
        numeric = [c for c in columns if all(_float(r[cell[c]]) is not None for _, r in body)]
        if len(columns) == 1 and not numeric:
            label = columns[0]
        elif columns and numeric == columns:
            targets = tuple(columns)
        else:
            raise DatasetError(f"{path}: choose the label column (label=) or the target columns (targets=) "
                               f"among {', '.join(columns) or '(none)'}")
    names = [r[cell[key]].strip() for _, r in body]
    seen: dict[str, int] = {}
    for (line, _), name in zip(body, names):
        if name in seen:
            raise DatasetError(f"{path}:{line}: circuit {name!r} is already labelled on line {seen[name]}")
        seen[name] = line
    values: list[tuple[float, ...]] = []
    for line, r in body:
        row = []
        for t in targets:
            v = _float(r[cell[t]])
            if v is None:
                raise DatasetError(f"{path}:{line}: target {t} is {r[cell[t]]!r}, not a finite number")
            row.append(v)
        values.append(tuple(row))
    labels = tuple(r[cell[label]].strip() for _, r in body) if label else ("",) * len(body)
    return LabelTable(
        names=tuple(names), lines=tuple(line for line, _ in body),
        groups=tuple(r[cell["group"]].strip() for _, r in body) if "group" in cell else ("",) * len(body),
        classes=tuple(sorted(set(labels))) if label else (), labels=labels,
        target_names=tuple(targets), targets=tuple(values),
    )


def netlist_files(folder: Path, exclude: Path | None = None) -> dict[str, Path]:
    """Every candidate file under ``folder`` by each name a CSV may use for it: relative path,
    relative path without extension, file name and stem (the last two only when unique)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(folder).parts))
    files = [p for p in files if exclude is None or p.resolve() != exclude.resolve()]
    names: dict[str, Path] = {}
    counts: dict[str, int] = {}
    for p in files:
        for alias in {p.name, p.stem}:
            counts[alias] = counts.get(alias, 0) + 1
    for p in files:
        rel = p.relative_to(folder).as_posix()
        names[rel] = p
        names.setdefault(rel.rsplit(".", 1)[0] if "." in p.name else rel, p)
        for alias in (p.name, p.stem):
            if counts[alias] == 1:
                names.setdefault(alias, p)
    return names


class FolderDataset(CircuitDataset):
    """A folder of netlists labelled by a CSV (see the module docstring).

    Args:
        root: the cache folder (default ``data_home() / "folder" / <hash of the folder path>``).
        source: the folder of netlists.
        labels: the CSV (default ``source / "labels.csv"``).
        label: the class column (classification).
        targets: the target columns (regression).
        format: the netlist format of every file (default: detected per file).
        Other arguments as for ``CircuitDataset``.
    """

    name = "folder"
    prepare_options: ClassVar[tuple[str, ...]] = ("source", "labels", "label", "targets")

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        source: str | Path | None = None,
        labels: str | Path | None = None,
        label: str | None = None,
        targets: Sequence[str] = (),
        format: str | None = None,
        view: str = "bipartite",
        n: int | None = None,
        force_reload: bool = False,
        keep_names: bool = False,
        decomposer: Decomposer | None = None,
        progress: Callable[[int, int], None] | None = None,
        transform: Callable[[Data], Data] | None = None,
        pre_filter: Callable[[Data], bool] | None = None,
    ) -> None:
        if source is None:
            raise DatasetError("the folder dataset needs source= (the folder of netlists)")
        self.folder = Path(source).expanduser().resolve()
        if not self.folder.is_dir():
            raise DatasetError(f"{source}: not a folder of netlists")
        self.labels_path = Path(labels).expanduser().resolve() if labels is not None else self.folder / "labels.csv"
        self.table = read_labels(self.labels_path, label, targets)
        self.classes = self.table.classes
        self.target_names = self.table.target_names
        self.format = format
        self._files = netlist_files(self.folder, exclude=self.labels_path)
        missing = [name for name in self.table.names if name not in self._files]
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            raise DatasetError(f"{self.labels_path}: {len(missing)} circuit(s) not found in {self.folder}: {shown}")
        root = root if root is not None else self.cache_root(self.folder)
        super().__init__(root, source=self.folder, view=view, n=n, force_reload=force_reload,
                         keep_names=keep_names, decomposer=decomposer, progress=progress, transform=transform,
                         pre_filter=pre_filter)

    @classmethod
    def cache_root(cls, source: str | Path | None = None) -> Path:
        """``data_home() / "folder" / <hash of the folder's absolute path>``."""
        if source is None:
            raise DatasetError("the folder dataset needs source= (the folder of netlists)")
        folder = str(Path(source).expanduser().resolve())
        return data_home() / cls.name / hashlib.blake2b(folder.encode(), digest_size=5).hexdigest()

    @property
    def raw_dir(self) -> str:
        return str(self.folder)

    @property
    def raw_file_names(self) -> list[str]:
        return sorted({self._files[n].relative_to(self.folder).as_posix() for n in self.table.names})

    def _refresh_raw(self, root: Path) -> None:
        """The user's folder is read in place: nothing to copy."""

    def download(self) -> None:
        raise DatasetError(f"{self.folder}: the labelled netlists are missing")

    def raw_sha256(self) -> str:
        """One digest over the CSV and every labelled file (names and bytes), so an edit rebuilds."""
        if self._raw_sha is None:
            digest = hashlib.sha256(self.labels_path.read_bytes())
            for rel in self.raw_file_names:
                digest.update(rel.encode() + b"\0" + (self.folder / rel).read_bytes())
            self._raw_sha = digest.hexdigest()
        return self._raw_sha

    def provenance_record(self) -> Provenance:
        size = self.labels_path.stat().st_size + sum((self.folder / r).stat().st_size for r in self.raw_file_names)
        return Provenance(dataset=self.name, source=str(self.folder), sha256=self.raw_sha256(), size=size,
                          upstream=str(self.labels_path), commit="",
                          prepared_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def read_raw(self) -> RawSet:
        circuits: list[Circuit] = []
        failures: list[Failure] = []
        t = self.table
        for i, name in enumerate(t.names):
            path = self._files[name]
            try:
                netlist = read_netlist(path, self.format)
            except CktError as exc:
                failures.append(Failure(name, str(path), f"{type(exc).__name__}: {exc}"))
                continue
            if not netlist.devices:
                failures.append(Failure(name, str(path), "no top-level device (is the circuit only a .subckt?)"))
                continue
            circuits.append(Circuit(id=name, netlist=netlist, ckt_type=t.labels[i], source_key=t.groups[i],
                                    target=t.targets[i]))
        return RawSet(tuple(circuits), tuple(failures))
