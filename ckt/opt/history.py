"""The run history: every evaluation in SQLite, committed as it completes.

One database (``history.sqlite`` in the run's output folder) holds runs and evaluations. Each
evaluation row is written when its design is proposed (``pending``) and updated when its outcome
arrives, each in its own transaction under WAL journaling, so a run killed at any moment loses at
most the simulations in flight — and ``--resume`` knows exactly which ones those were.

Rows keep the raw values (measurements + metrics), never scores: a later run with other targets
re-scores them with its own spec. Designs are reused across runs only under the same *context*
(``ckt.opt.evaluator.context_key``: netlist content, testbench, PDK and model-file contents,
derived definitions, ngspice version, simulator options) and the same variable names (see
``History.designs_for``).

Around the pure loop (``ckt.opt.loop.optimize``) this module supplies ``Recorder``, the observer
that commits every proposal and outcome, and ``RunFolder``, which owns an output folder: its lock
(one live run per folder) and what a new, resumed or warm-started run starts from (``Session``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ckt.errors import CktError, HistoryMismatchError, RunLockedError
from ckt.opt.evaluator import Outcome
from ckt.opt.loop import SEARCH, Observer, Prior
from ckt.opt.spec import Spec

SCHEMA_VERSION = 2
"""2: runs are keyed by the full context (``context``), not by the netlist file's hash."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    context TEXT NOT NULL,
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
    context: str
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
                raise CktError(f"{self.path}: history schema {row[0]}, this ckt reads {SCHEMA_VERSION} (older "
                               "histories did not record what their results depend on; start a fresh --out)")
        except sqlite3.DatabaseError as exc:
            raise CktError(f"{self.path}: not a usable history database ({exc})") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- runs

    def start_run(self, *, context: str, spec_hash: str, variables: Iterable[str], seed: int, method: str,
                  batch: int, budget: int) -> int:
        cur = self._db.execute(
            "INSERT INTO runs (context, spec_hash, variables, seed, method, batch, budget, status, started)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
            (context, spec_hash, variables_key(variables), seed, method, batch, budget, time.time()),
        )
        assert cur.lastrowid is not None  # an INSERT always sets it
        return cur.lastrowid

    def finish_run(self, run_id: int, status: str) -> None:
        self._db.execute("UPDATE runs SET status=?, finished=? WHERE id=?", (status, time.time(), run_id))

    def update_budget(self, run_id: int, budget: int) -> None:
        self._db.execute("UPDATE runs SET budget=?, status='running' WHERE id=?", (budget, run_id))

    def runs(self) -> list[RunInfo]:
        rows = self._db.execute(
            "SELECT id, context, spec_hash, variables, seed, method, batch, budget, status FROM runs ORDER BY id"
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
        assert cur.lastrowid is not None  # an INSERT always sets it
        return cur.lastrowid

    def complete(self, eval_id: int, outcome: Outcome) -> None:
        """Store one outcome (its own transaction: durable once this returns)."""
        self._db.execute(
            "UPDATE evals SET values_json=?, status=?, message=?, seconds=?, finished=? WHERE id=?",
            (json.dumps(outcome.values), outcome.status, outcome.message[:2000], outcome.seconds, time.time(),
             eval_id),
        )

    def evaluations(self, run_id: int | None = None) -> list[Evaluation]:
        """Evaluations in the order they were proposed (all runs when ``run_id`` is None)."""
        sql = ("SELECT id, run_id, batch_id, slot, kind, params, values_json, status, message, seconds, method"
               " FROM evals")
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

    def drop_pending(self, run_id: int) -> None:
        """Forget a run's unfinished rows (a resume evaluates those designs again as new rows)."""
        self._db.execute("DELETE FROM evals WHERE run_id=? AND status=?", (run_id, PENDING))

    def designs_for(self, context: str, variables: Iterable[str], *,
                    exclude_run: int | None = None) -> list[Evaluation]:
        """Finished evaluations of earlier runs under the same context with the same variables."""
        key = variables_key(variables)
        ids = [r.id for r in self.runs() if r.context == context and ",".join(r.variables) == key
               and r.id != exclude_run]
        return [e for rid in ids for e in self.evaluations(rid) if not e.pending and e.kind == SEARCH]


class Recorder(Observer):
    """The observer that writes every proposal (pending) and outcome (its own transaction) of a run."""

    def __init__(self, history: History, run_id: int, method: str) -> None:
        self.history = history
        self.run_id = run_id
        self.method = method
        self._rows: dict[int, list[int]] = {}

    def proposed(self, batch: int, designs: Sequence[Mapping[str, float]], kind: str) -> None:
        self._rows[batch] = [self.history.propose(self.run_id, batch, slot, dict(p), self.method, kind=kind)
                             for slot, p in enumerate(designs)]

    def evaluated(self, batch: int, slot: int, outcome: Outcome, kind: str) -> None:
        self.history.complete(self._rows[batch][slot], outcome)


@dataclass(frozen=True)
class Session:
    """How one run starts: its row, its settings (a resume keeps the first run's) and its ``Prior``."""

    run_id: int
    method: str
    seed: int
    batch: int
    prior: Prior
    recorder: Recorder


LOCK_NAME = "run.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunFolder:
    """An output folder owned by one live run (``with RunFolder(out) as folder``).

    The lock file ``run.lock`` holds the owner's pid: a second run into the folder is refused
    while that process lives (``RunLockedError``); a lock left by a dead process (``kill -9``) is
    taken over.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock = self.path / LOCK_NAME
        self.history: History | None = None

    def __enter__(self) -> RunFolder:
        self.path.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            self.history = History(self.path / "history.sqlite")
        except BaseException:
            self.lock.unlink(missing_ok=True)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.history is not None:
            self.history.close()
        self.lock.unlink(missing_ok=True)

    def _acquire(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.lock.read_text().strip() or "0")
                except (OSError, ValueError):
                    pid = 0
                if pid and _alive(pid):
                    raise RunLockedError(str(self.path), pid) from None
                self.lock.unlink(missing_ok=True)  # stale: its owner is gone
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()}\n")
            return
        raise RunLockedError(str(self.path), 0)

    def start(self, spec: Spec, context: str, *, method: str, seed: int, batch: int, budget: int, resume: bool,
              warm_start: Sequence[str | Path] = ()) -> Session:
        """Open a new run, or reopen the last one (``resume``), and gather what it starts from.

        Raises:
            CktError: ``resume`` with no run recorded.
            HistoryMismatchError: ``resume`` after the spec or the context changed.
        """
        h = self.history
        assert h is not None, "use RunFolder as a context manager"
        where = self.path / "history.sqlite"
        if resume:
            info = h.last_run()
            if info is None:
                raise CktError(f"{where}: nothing to resume (no run recorded)")
            if info.spec_hash != spec.digest():
                raise HistoryMismatchError(f"{spec.source or '<spec>'}: the spec changed since the run in {self.path} "
                                           "was started; start a new run (without --resume) to reuse its evaluations")
            if info.context != context:
                raise HistoryMismatchError(f"{where}: the netlist, testbench, PDK, model files or simulator changed "
                                           "since this run was started; its results do not apply (start a new --out)")
            run_id, method, seed, batch = info.id, info.method, info.seed, info.batch
            h.update_budget(run_id, budget)
        else:
            run_id = h.start_run(context=context, spec_hash=spec.digest(), variables=spec.space.names, seed=seed,
                                 method=method, batch=batch, budget=budget)
        warm = h.designs_for(context, spec.space.names, exclude_run=run_id)
        for path in warm_start:
            with History(path) as other:
                warm += other.designs_for(context, spec.space.names)
        done: dict[int, list] = {}
        pending = []
        last = 0
        if resume:
            for e in h.evaluations(run_id):
                last = max(last, e.batch_id)
                if e.kind != SEARCH:
                    continue
                if e.outcome is None:
                    pending.append(e.params)
                else:
                    done.setdefault(e.batch_id, []).append((e.params, e.outcome))
            h.drop_pending(run_id)
        prior = Prior(warm=tuple((e.params, e.outcome) for e in warm if e.outcome is not None),
                      done=tuple(tuple(done[b]) for b in sorted(done)), pending=tuple(pending), last_batch=last)
        return Session(run_id, method, seed, batch, prior, Recorder(h, run_id, method))
