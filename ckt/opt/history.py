"""The run history: every evaluation in SQLite, committed as it completes.

One database (``history.sqlite`` in the run's output folder) holds runs and evaluations. Each
evaluation row is written when its design is proposed (``pending``) and updated when its outcome
arrives, each in its own transaction under WAL journaling, so a run killed at any moment loses at
most the simulations in flight — and ``--resume`` knows exactly which ones those were.

Rows keep the raw values (measurements + metrics), never scores: a later run with other targets
re-scores them with its own spec. Designs are matched across runs by netlist hash and variable
names (see ``History.designs_for``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ckt.errors import CktError
from ckt.opt.evaluator import Outcome

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    netlist_hash TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    variables TEXT NOT NULL,
    seed INTEGER NOT NULL,
    method TEXT NOT NULL,
    batch INTEGER NOT NULL,
    budget INTEGER NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS evals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    batch_id INTEGER NOT NULL,
    slot INTEGER NOT NULL,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    values_json TEXT,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    seconds REAL,
    method TEXT NOT NULL,
    proposed REAL NOT NULL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS evals_run ON evals(run_id, batch_id);
"""

PENDING = "pending"


@dataclass(frozen=True)
class Evaluation:
    """One row of the ``evals`` table."""

    id: int
    run_id: int
    batch_id: int
    slot: int
    kind: str
    params: dict[str, float]
    outcome: Outcome | None
    method: str

    @property
    def pending(self) -> bool:
        return self.outcome is None


@dataclass(frozen=True)
class RunInfo:
    """One row of the ``runs`` table."""

    id: int
    netlist_hash: str
    spec_hash: str
    variables: tuple[str, ...]
    seed: int
    method: str
    batch: int
    budget: int
    status: str


def variables_key(names: Iterable[str]) -> str:
    return ",".join(sorted(n.lower() for n in names))


class History:
    """A history database; open one per run (``with History(path) as h``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise CktError(f"{self.path}: history schema {row[0]}, this ckt reads {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise CktError(f"{self.path}: not a usable history database ({exc})") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- runs

    def start_run(self, *, netlist_hash: str, spec_hash: str, variables: Iterable[str], seed: int, method: str,
                  batch: int, budget: int) -> int:
        cur = self._db.execute(
            "INSERT INTO runs (netlist_hash, spec_hash, variables, seed, method, batch, budget, status, started)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
            (netlist_hash, spec_hash, variables_key(variables), seed, method, batch, budget, time.time()),
        )
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str) -> None:
        self._db.execute("UPDATE runs SET status=?, finished=? WHERE id=?", (status, time.time(), run_id))

    def update_budget(self, run_id: int, budget: int) -> None:
        self._db.execute("UPDATE runs SET budget=?, status='running' WHERE id=?", (budget, run_id))

    def runs(self) -> list[RunInfo]:
        rows = self._db.execute(
            "SELECT id, netlist_hash, spec_hash, variables, seed, method, batch, budget, status FROM runs ORDER BY id"
        ).fetchall()
        return [RunInfo(r[0], r[1], r[2], tuple(r[3].split(",")), r[4], r[5], r[6], r[7], r[8]) for r in rows]

    def last_run(self) -> RunInfo | None:
        runs = self.runs()
        return runs[-1] if runs else None

    # -------------------------------------------------------------- evaluations

    def propose(self, run_id: int, batch_id: int, slot: int, params: dict[str, float], method: str,
                kind: str = "search") -> int:
        """Record a design about to be evaluated; returns its row id."""
        cur = self._db.execute(
            "INSERT INTO evals (run_id, batch_id, slot, kind, params, status, method, proposed)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, batch_id, slot, kind, json.dumps(params), PENDING, method, time.time()),
        )
        return int(cur.lastrowid)

    def complete(self, eval_id: int, outcome: Outcome) -> None:
        """Store one outcome (its own transaction: durable once this returns)."""
        self._db.execute(
            "UPDATE evals SET values_json=?, status=?, message=?, seconds=?, finished=? WHERE id=?",
            (json.dumps(outcome.values), outcome.status, outcome.message[:2000], outcome.seconds, time.time(),
             eval_id),
        )

    def evaluations(self, run_id: int | None = None) -> list[Evaluation]:
        """Evaluations in the order they were proposed (all runs when ``run_id`` is None)."""
        sql = "SELECT id, run_id, batch_id, slot, kind, params, values_json, status, message, seconds, method FROM evals"
        args: tuple = ()
        if run_id is not None:
            sql += " WHERE run_id=?"
            args = (run_id,)
        out = []
        for r in self._db.execute(sql + " ORDER BY id", args):
            outcome = None
            if r[7] != PENDING:
                outcome = Outcome(r[7], json.loads(r[6] or "{}"), r[9] or 0.0, r[8] or "")
            out.append(Evaluation(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), outcome, r[10]))
        return out

    def designs_for(self, netlist_hash: str, variables: Iterable[str], *, exclude_run: int | None = None) -> list[Evaluation]:
        """Finished evaluations of earlier runs on the same netlist with the same variables."""
        key = variables_key(variables)
        ids = [r.id for r in self.runs() if r.netlist_hash == netlist_hash and ",".join(r.variables) == key
               and r.id != exclude_run]
        return [e for rid in ids for e in self.evaluations(rid) if not e.pending and e.kind == "search"]
