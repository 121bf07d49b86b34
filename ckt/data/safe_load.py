"""Loading a pickled PyG graph without running code from it.

A ``torch.save`` file is a pickle, and a pickle can name any importable callable (``os.system``)
for the loader to call. ``load_graph_pickle`` first lists every global the file names
(``torch.serialization.get_unsafe_globals_in_checkpoint`` reads the opcodes, it does not unpickle),
refuses the file with ``UnsafePickleError`` when one is outside ``ALLOWED``, and only then loads it
with ``weights_only=True`` inside ``torch.serialization.safe_globals(ALLOWED)``, so even a global
that slipped past the scan is refused by torch's restricted unpickler.

``ALLOWED`` is exactly what a saved ``HeteroData`` needs (the CirGPS graphs): the data class, its
three storage classes and the two attribute records PyG keeps on it; nothing that executes code on
construction.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data.feature_store import TensorAttr
from torch_geometric.data.graph_store import EdgeAttr
from torch_geometric.data.hetero_data import HeteroData
from torch_geometric.data.storage import BaseStorage, EdgeStorage, NodeStorage

from ckt.errors import DatasetError, UnsafePickleError

ALLOWED: tuple[type, ...] = (HeteroData, BaseStorage, NodeStorage, EdgeStorage, TensorAttr, EdgeAttr)
"""The globals a pickled ``HeteroData`` may name, beyond torch's own tensor rebuilders."""

ALLOWED_NAMES: frozenset[str] = frozenset(f"{c.__module__}.{c.__qualname__}" for c in ALLOWED)

_UNSUPPORTED = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def named_globals(path: Path) -> list[str]:
    """The non-torch globals a ``torch.save`` (zip) file names, read from its opcodes without
    unpickling.

    Raises:
        DatasetError: the file is not a torch zip archive.
    """
    if not zipfile.is_zipfile(path):
        raise DatasetError(f"{path}: not a torch.save archive (a zip file); refusing to unpickle it")
    return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))


def load_graph_pickle(path: str | Path) -> Any:
    """The object a pickled PyG graph file holds, loaded only when every global it names is allowed.

    Raises:
        UnsafePickleError: the file names a global outside ``ALLOWED`` (named in the message).
        DatasetError: the file is missing, not a torch archive, or corrupt.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    refused = [name for name in named_globals(path) if name not in ALLOWED_NAMES]
    if refused:
        raise UnsafePickleError(str(path), refused)
    try:
        with torch.serialization.safe_globals(list(ALLOWED)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # the restricted unpickler met a global the scan missed
        found = _UNSUPPORTED.search(str(exc))
        if found:
            raise UnsafePickleError(str(path), [found.group(1)]) from exc
        raise DatasetError(f"{path}: cannot be loaded safely: {exc}") from exc
    except (RuntimeError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated torch archive: {exc}") from exc
