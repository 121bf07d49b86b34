"""A resumable store of per-circuit label records: append-only JSON lines, flushed and fsynced.

Labelling thousands of circuits must survive ``kill -9``: every record is written to the file
(one ``write`` of one line) before the next circuit is counted done, so a killed process loses at
most the circuits still in flight; the kernel keeps what was written. Against the machine itself
going down, the file is ``fsync``ed at most ``fsync_every_s`` apart and on close (an fsync per
record costs about as much as simulating an OCB circuit). A record is keyed by the circuit's
index *and* a hash of the deck that produced it, so labels made by an older generator (same index,
other netlist) are never reused. Reopening drops a torn last line (a write the kill interrupted)
before appending; when one key appears twice, the later line wins. Lines of another ``schema`` version are ignored.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ckt.errors import CktError

SCHEMA = 1
"""Version of the record layout; bump it when a field changes meaning."""


class LabelStore:
    """Label records on disk, keyed by ``(index, key)``.

    Args:
        path: the JSON-lines file; created (with its folder) when missing.
        fsync_every_s: longest time between two ``fsync`` calls (0: after every record).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync_every_s: float = 1.0) -> None:
        self.path = Path(path)
        self.fsync_every_s = fsync_every_s
        self._synced = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._records: dict[tuple[int, str], dict[str, Any]] = {}
        self._load()
        self._fh = open(self.path, "ab")  # noqa: SIM115 - held for the store's lifetime, closed by close()

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a torn last line: the write a kill interrupted
            with open(self.path, "r+b") as fh:
                fh.truncate(end)
                fh.flush()
                os.fsync(fh.fileno())
        for number, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CktError(f"{self.path}:{number}: not a label record ({exc.msg})") from None
            if not isinstance(record, dict) or record.get("schema") != SCHEMA:
                continue
            self._records[(int(record["index"]), str(record["key"]))] = record

    def get(self, index: int, key: str) -> dict[str, Any] | None:
        """The record for circuit ``index`` made from the deck hashed ``key``, or None."""
        return self._records.get((index, key))

    def append(self, index: int, key: str, record: Mapping[str, Any]) -> None:
        """Write one record (one line, flushed to the kernel; fsynced per ``fsync_every_s``) and remember it."""
        full = {"schema": SCHEMA, "index": index, "key": key, **record}
        self._fh.write((json.dumps(full, allow_nan=False, separators=(",", ":")) + "\n").encode())
        self._fh.flush()
        if time.monotonic() - self._synced >= self.fsync_every_s:
            self.sync()
        self._records[(index, key)] = full

    def sync(self) -> None:
        """``fsync`` the file: what was appended survives a crash of the machine."""
        os.fsync(self._fh.fileno())
        self._synced = time.monotonic()

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._records.values())

    def close(self) -> None:
        if not self._fh.closed:
            self.sync()
            self._fh.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
