"""A persistent cache of simulation results, keyed by everything that determines them.

Sizing loops and sweeps re-simulate identical decks (restarts, duplicate candidates, re-run
experiments); the cache answers those without a worker round trip. The key is the SHA-256 of the
deck text, the contents of every file it reads (its include closure: ``job.files``, its
``.include``/``.lib`` lines and, recursively, those inside the files they name), the backend, the
vectors flag and the ngspice version, so editing a model card, even one included from inside a
model library, or upgrading ngspice misses instead of returning a stale result. Entries live in
one SQLite file; vectors are stored as an ``.npz`` blob read with
``allow_pickle=False``, so opening a cache file never executes code.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ckt.sim.backends import ngspice_version
from ckt.sim.decktext import include_closure
from ckt.sim.result import SimJob, SimResult, Status

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    measurements TEXT NOT NULL,
    vectors BLOB,
    log TEXT NOT NULL,
    elapsed_s REAL NOT NULL,
    message TEXT NOT NULL
)
"""


def _pack_vectors(vectors: dict[str, dict[str, np.ndarray]]) -> bytes | None:
    if not vectors:
        return None
    index = [[plot, name] for plot, vecs in vectors.items() for name in vecs]
    arrays: dict[str, Any] = {f"a{i}": vectors[plot][name] for i, (plot, name) in enumerate(index)}
    buffer = io.BytesIO()
    np.savez(buffer, index=np.array(json.dumps(index)), **arrays)
    return buffer.getvalue()


def _unpack_vectors(blob: bytes | None) -> dict[str, dict[str, np.ndarray]]:
    if blob is None:
        return {}
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        index = json.loads(str(data["index"]))
        vectors: dict[str, dict[str, np.ndarray]] = {}
        for i, (plot, name) in enumerate(index):
            vectors.setdefault(plot, {})[name] = data[f"a{i}"]
    return vectors


class ResultCache:
    """SQLite-backed ``SimJob`` -> ``SimResult`` store.

    Args:
        path: the SQLite file (created with its folder if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        with self._db:
            self._db.execute(_SCHEMA)

    def key(self, job: SimJob) -> str:
        """Hex SHA-256 over the deck, its include closure's contents, backend, vectors and trust flags and
        the ngspice version."""
        digest = hashlib.sha256()

        def add(label: str, data: bytes) -> None:
            digest.update(label.encode() + len(data).to_bytes(8, "little") + data)

        add("deck", job.deck.encode("utf-8"))
        for file in include_closure(job.deck, job.files):
            add("file", file.path.encode("utf-8"))
            add("content" if file.exists else "missing", file.digest.encode())
        add("backend", job.backend.encode())
        add("vectors", b"1" if job.vectors else b"0")
        add("trusted", b"1" if job.trusted else b"0")
        add("ngspice", ngspice_version().encode())
        return digest.hexdigest()

    def get(self, job: SimJob) -> SimResult | None:
        """The stored result for ``job``, or ``None`` on a miss."""
        with self._lock:
            row = self._db.execute(
                "SELECT status, measurements, vectors, log, elapsed_s, message FROM results WHERE key = ?",
                (self.key(job),),
            ).fetchone()
        if row is None:
            return None
        status, measurements, blob, log, elapsed_s, message = row
        return SimResult(
            status=status,
            measurements=json.loads(measurements),
            vectors=_unpack_vectors(blob),
            log=log,
            elapsed_s=elapsed_s,
            message=message,
        )

    def put(self, job: SimJob, result: SimResult) -> None:
        """Store ``result`` for ``job``; timeouts are not stored (they depend on the machine)."""
        if result.status is Status.TIMEOUT:
            return
        row = (
            self.key(job),
            result.status,
            json.dumps(result.measurements),
            _pack_vectors(result.vectors),
            result.log,
            result.elapsed_s,
            result.message,
        )
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        self._db.close()
