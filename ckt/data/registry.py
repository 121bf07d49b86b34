"""Dataset names the CLI knows, each bound to its class by a lazy ``module:Class`` path, so listing
them imports no torch; ``register`` adds more (OCB, a user's own)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ckt.errors import DatasetError

if TYPE_CHECKING:
    from ckt.data.base import CircuitDataset

_DATASETS: dict[str, str | type[CircuitDataset]] = {
    "analoggenie": "ckt.data.analoggenie:AnalogGenie",
    "image2net": "ckt.data.image2net:Image2Net",
    "folder": "ckt.data.folder:FolderDataset",
    "ocb": "ckt.data.ocb:OCB",
    "digtime": "ckt.data.digtime:Digtime",
}


def register(name: str, dataset: str | type[CircuitDataset], *, replace: bool = False) -> None:
    """Make ``name`` refer to ``dataset`` (a class or its ``"module:Class"`` path).

    Raises:
        DatasetError: ``name`` is taken and ``replace`` is False.
    """
    key = name.lower()
    if key in _DATASETS and not replace:
        raise DatasetError(f"dataset {name!r} is already registered; pass replace=True to rebind it")
    _DATASETS[key] = dataset


def names() -> tuple[str, ...]:
    return tuple(_DATASETS)


def get(name: str) -> type[CircuitDataset]:
    """The dataset class registered as ``name`` (case-insensitive).

    Raises:
        DatasetError: no dataset has that name.
    """
    entry = _DATASETS.get(name.lower())
    if entry is None:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(_DATASETS)}")
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
    return entry
