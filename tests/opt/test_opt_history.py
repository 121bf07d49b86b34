from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ckt.errors import CktError
from ckt.opt.evaluator import Outcome
from ckt.opt.history import History
from tests.opt.fakes import TOY_INITIAL, FakeEvaluator, run_sizing, toy_opamp, toy_spec

FAKE_RUN = Path(__file__).resolve().parent / "fakes.py"


def test_rows_are_pending_until_completed(tmp_path):
    with History(tmp_path / "h.sqlite") as h:
        run = h.start_run(context="n", spec_hash="s", variables=["b", "a"], seed=1, method="turbo", batch=2,
                          budget=10)
        e1 = h.propose(run, 1, 0, {"a": 1.0, "b": 2.0}, "turbo")
        h.propose(run, 1, 1, {"a": 3.0, "b": 4.0}, "turbo")
        h.complete(e1, Outcome("ok", {"gain": 3.5}, 0.1))
    # a second connection sees the committed state immediately (nothing buffered)
    with History(tmp_path / "h.sqlite") as h:
        ev = h.evaluations(run)
        assert [e.pending for e in ev] == [False, True]
        assert ev[0].outcome.values == {"gain": 3.5} and ev[0].params == {"a": 1.0, "b": 2.0}
        assert h.runs()[0].variables == ("a", "b")
        assert [e.id for e in h.designs_for("n", ["a", "b"])] == [e1]
        assert h.designs_for("other", ["a", "b"]) == []


def test_not_a_database(tmp_path):
    bad = tmp_path / "h.sqlite"
    bad.write_text("this is not sqlite" * 100)
    with pytest.raises(CktError, match="not a usable history database"):
        History(bad)


def _finished(db: Path) -> list[tuple[int, str]]:
    """Finished search rows; none while the run has not created its tables yet."""
    con = sqlite3.connect(str(db))
    try:
        return con.execute("SELECT id, params FROM evals WHERE status != 'pending' AND kind='search' ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def test_sigkill_mid_run_then_resume_repeats_nothing(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    budget = 16
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, str(FAKE_RUN), str(out), "--budget", str(budget)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = out / "history.sqlite"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if db.exists() and len(_finished(db)) >= 6:
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("the run made no progress")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    before = _finished(db)
    assert 6 <= len(before) < budget
    calls_before = (out / "calls.jsonl").read_text().splitlines()

    ev = FakeEvaluator(toy_opamp)
    result = run_sizing(toy_spec(), ev, out_dir=out, budget=budget, batch_size=4, seed=3, resume=True,
                        initial=TOY_INITIAL, netlist_hash="toy", progress=False)

    after = _finished(db)
    assert after[: len(before)] == before, "finished rows were changed"
    params = [p for _, p in after]
    assert len(params) == len(set(params)) == budget == result.n_sims
    done_before = {p for _, p in before}
    assert not any(json.dumps(c) in done_before for c in ev.calls), "a finished simulation was repeated"
    # every design simulated before the kill that had finished is kept; in-flight ones are redone
    assert len(calls_before) >= len(before)
    assert json.loads((out / "result.json").read_text())["n_sims"] == budget
    con = sqlite3.connect(str(db))
    try:
        assert con.execute("SELECT COUNT(*) FROM evals WHERE status='pending'").fetchone()[0] == 0
    finally:
        con.close()
