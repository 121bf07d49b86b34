"""Workers die with the run, however it ends: ``kill -9`` or SIGTERM of a process in the middle of
long simulations leaves no worker, forkserver or ``ngspice -b`` behind (they used to spin at 100 %
CPU under PID 1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ckt.sim import SimJob, SimResult
from ckt.sim.scheduler import Ready
from ckt.sim.worker import WorkerProcess, context
from tests.conftest import ROOT, requires_ngspice

# A .control loop that never returns: the simulation spins until its process is killed.
HANG = "hang\nr1 a 0 1\nv1 a 0 1\n.control\nwhile 1\nend\n.endc\n.end\n"

SCRIPT = f"""
import sys
from ckt.sim import LocalExecutor, SimJob
ex = LocalExecutor(2)
print("started", flush=True)
ex.map([SimJob({HANG!r}, timeout_s=600), SimJob({HANG!r}, timeout_s=600, backend="subprocess")])
"""


def _table() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, command name) of every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                text = fh.read()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        out[int(entry)] = (int(fields[1]), fields[0], name)
    return out


def _descendants(root: int) -> set[int]:
    table = _table()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, (ppid, _, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    table = _table()
    return {pid for pid in pids if pid in table and table[pid][1] != "Z"}


def _spinning_tree(proc: subprocess.Popen[str]) -> set[int]:
    """Wait until ``proc`` has its workers and an ``ngspice -b`` running; return all its descendants."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tree = _descendants(proc.pid)
        names = [_table().get(pid, (0, "", ""))[2] for pid in tree]
        if "ngspice" in names and len(tree) >= 4:  # forkserver, two workers, ngspice -b
            time.sleep(0.5)  # let the shared-library worker get into its loop too
            return _descendants(proc.pid)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.1)
    raise AssertionError(f"the run never got its workers going: {_descendants(proc.pid)}")


def _assert_all_die(pids: set[int]) -> None:
    deadline = time.monotonic() + 5
    while _alive(pids):
        assert time.monotonic() < deadline, f"processes outlived their run: {_alive(pids)}"
        time.sleep(0.05)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.mark.ngspice
@pytest.mark.slow
@requires_ngspice
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_a_killed_script(sig: signal.Signals) -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    try:
        tree = _spinning_tree(proc)
        os.kill(proc.pid, sig)
        proc.wait(10)
        _assert_all_die(tree)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.ngspice
@pytest.mark.slow
@requires_ngspice
def test_sigterm_of_ckt_simulate_shuts_the_pool_down(tmp_path: Path) -> None:
    deck = tmp_path / "hang.cir"
    deck.write_text(HANG)
    proc = subprocess.Popen([sys.executable, "-m", "ckt", "simulate", str(deck), "--timeout", "600",
                             "--backend", "subprocess"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    try:
        deadline = time.monotonic() + 60
        while "ngspice" not in [_table().get(p, (0, "", ""))[2] for p in _descendants(proc.pid)]:
            assert time.monotonic() < deadline and proc.poll() is None, "ngspice -b never started"
            time.sleep(0.1)
        tree = _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 128 + signal.SIGTERM  # the CLI unwound (and closed its pool)
        _assert_all_die(tree)
    finally:
        if proc.poll() is None:
            proc.kill()


class SpinRunner:
    """A job runner that never returns (no ngspice needed)."""

    def start(self) -> None:
        pass

    def run(self, job: SimJob) -> SimResult:
        while True:
            pass

    @property
    def alive(self) -> bool:
        return True


def test_worker_kills_itself_when_its_lifeline_closes() -> None:
    """The watchdog alone, with the forkserver still alive (as when the parent dies but something
    keeps the forkserver's pipe open): the busy worker exits once the parent's end is gone."""
    worker = WorkerProcess(context(), SpinRunner())
    try:
        assert isinstance(worker.receive(), Ready)
        worker.send(SimJob("spin"))
        time.sleep(0.3)
        assert _alive({worker.pid})
        worker._lifeline.close()
        _assert_all_die({worker.pid})
    finally:
        worker.kill()
