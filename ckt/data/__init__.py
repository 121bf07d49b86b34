"""Circuit datasets as PyTorch Geometric ``InMemoryDataset``s (AnalogGenie, Image2Net, a user's
folder, the regenerated OCB; the digtime parasitics graph), their circuit-level splits, and the
registry the CLI looks names up in.

Classes load torch on first use, so ``import ckt.data`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from ckt.data.registry import get, names, register

_LAZY = {
    "AnalogGenie": "ckt.data.analoggenie",
    "Image2Net": "ckt.data.image2net",
    "FolderDataset": "ckt.data.folder",
    "OCB": "ckt.data.ocb",
    "Digtime": "ckt.data.digtime",
    "CircuitDataset": "ckt.data.base",
    "SCHEMA_VERSION": "ckt.data.base",
    "group_split": "ckt.data.splits",
    "group_kfold": "ckt.data.splits",
    "random_split": "ckt.data.splits",
}

__all__ = ["get", "names", "register", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ckt.data' has no attribute {name!r}")
