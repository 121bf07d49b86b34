"""Resume after ``kill -9`` of a real ``ckt size`` run (ngspice in the loop): nothing finished is lost
or simulated again, and the resumed run ends at its budget."""

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

from tests.conftest import requires_ngspice

ROOT = Path(__file__).resolve().parents[2]
AUTOCKT = ROOT / "netlists" / "autockt_two_stage.cir"
BUDGET = 40

SPEC = """\
variables:
  mp1: {min: 1, max: 100, step: 1}
  mn1: {min: 1, max: 100, step: 1}
  mp3: {min: 1, max: 100, step: 1}
  mn5: {min: 1, max: 100, step: 1}
  cc: {min: 0.1p, max: 10p, step: 0.1p}
targets:
  gain: {min: 200}
  pm: {min: 60}
objective: {minimize: supply_current}
"""


def _rows(db: Path) -> list[tuple[int, str, str, str]]:
    """(id, params, status, kind) of every finished row; none before the run has created its tables."""
    con = sqlite3.connect(str(db))
    try:
        return con.execute(
            "SELECT id, params, status, kind FROM evals WHERE status != 'pending' ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def _size(out: Path, spec: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ckt", "size", str(AUTOCKT), "--spec", str(spec), "--budget", str(BUDGET),
            "--batch", "4", "--workers", "2", "--seed", "1", "--out", str(out), "--quiet", *extra]


@pytest.mark.ngspice
@pytest.mark.slow
@requires_ngspice
def test_kill_9_a_real_sizing_run_then_resume(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "run"
    db = out / "history.sqlite"
    proc = subprocess.Popen(_size(out, spec), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            if db.exists() and len(_rows(db)) >= 8:
                break
            assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()!r}"
            time.sleep(0.02)
        else:
            pytest.fail("the run made no progress")
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its simulation workers, no clean-up
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    before = _rows(db)
    assert 8 <= len(before) < BUDGET and not (out / "result.json").exists()

    done = subprocess.run(_size(out, spec, "--resume"), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    after = _rows(db)
    assert after[: len(before)] == before, "finished rows were changed"
    search = [params for _, params, _, kind in after if kind == "search"]
    assert len(search) == len(set(search)), "a finished design was simulated again"
    result = json.loads((out / "result.json").read_text())
    assert result["n_sims"] == BUDGET == len(search)
    con = sqlite3.connect(str(db))
    try:
        assert con.execute("SELECT COUNT(*) FROM evals WHERE status = 'pending'").fetchone()[0] == 0
    finally:
        con.close()
