"""LocalExecutor against real ngspice: ordering, timeouts, dead workers, recycling, interrupts, memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from ckt.sim import LocalExecutor, SimJob, make_executor
from tests.conftest import requires_ngspice

pytestmark = [requires_ngspice, pytest.mark.ngspice]

FAST = SimJob("""divider
r1 in out 1k
r2 out 0 3k
vin in 0 dc 4
.op
.end
""")
AC = SimJob("""rc
r1 in out 1k
c1 out 0 1n
vin in 0 dc 0 ac 1
.ac dec 10 1 1g
.meas ac f3db when vdb(out)=-3
.end
""")
# A .control loop never returns to the caller: only killing the worker stops it.
HANG = "hang\nr1 a 0 1\nv1 a 0 1\n.control\nwhile 1\nend\n.endc\n.end\n"
QUIT = "quits\nr1 in 0 1k\nvin in 0 dc 1\n.op\n.control\nrun\nquit\n.endc\n.end\n"


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer exists: killed and reaped, not left as a zombie."""
    return not os.path.exists(f"/proc/{pid}")


def test_results_in_order_and_as_completed() -> None:
    with LocalExecutor(2) as ex:
        results = ex.map([AC, FAST, AC])
        assert [r.status for r in results] == ["ok", "ok", "ok"]
        assert results[0].measurements == results[2].measurements
        assert results[0].measurements["f3db"] == pytest.approx(1.5915e5, rel=5e-3)
        order = [i for i, _ in ex.submit([SimJob(HANG, timeout_s=1.5), AC])]
        assert order == [1, 0]


def test_hanging_deck_times_out_and_next_job_runs() -> None:
    with LocalExecutor(1) as ex:
        ex.map([FAST])
        before = ex.pids
        start = time.monotonic()
        results = ex.map([SimJob(HANG, timeout_s=1.0), AC])
        elapsed = time.monotonic() - start
        assert results[0].status == "timeout"
        assert "1 s limit" in results[0].message and results[0].elapsed_s < 1.0 + 1.0
        assert results[1].ok
        assert elapsed < 1.0 + 3.0  # the limit, plus a fresh worker and one small simulation
        assert ex.pids != before and all(_gone(pid) for pid in before)


def test_worker_killed_from_outside_costs_one_job() -> None:
    with LocalExecutor(1) as ex:
        ex.map([FAST])
        (pid,) = ex.pids
        killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
        killer.start()
        try:
            results = ex.map([SimJob(HANG, timeout_s=30), AC, FAST])
        finally:
            killer.cancel()
        assert results[0].status == "error" and "died" in results[0].message
        assert results[1].ok and results[2].ok
        assert ex.pids != [pid]


def test_killed_worker_takes_its_ngspice_subprocess_along() -> None:
    with LocalExecutor(1) as ex:
        ex.map([FAST])
        (pid,) = ex.pids
        killer = threading.Timer(1.0, os.kill, (pid, signal.SIGKILL))
        killer.start()
        try:
            (result,) = ex.map([SimJob(HANG, timeout_s=30, backend="subprocess")])
        finally:
            killer.cancel()
        assert result.status == "error" and "died" in result.message
        deadline = time.monotonic() + 5  # SIGKILL is delivered asynchronously
        while [p for p in os.listdir("/proc") if p.isdigit() and _in_group(int(p), pid)]:
            assert time.monotonic() < deadline, "ngspice -b outlived its killed worker"
            time.sleep(0.05)


def _in_group(pid: int, group: int) -> bool:
    """Whether ``pid`` is a live (not zombie) member of process group ``group``."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and int(fields[2]) == group


def test_deck_that_quits_ngspice_costs_one_job() -> None:
    with LocalExecutor(1) as ex:
        results = ex.map([SimJob(QUIT), AC])
        assert results[0].status == "error" and "quit" in results[0].message
        assert results[1].ok
        again = ex.map([AC])
        assert again[0].ok


def test_recycling_replaces_worker_after_n_runs() -> None:
    with LocalExecutor(1, recycle_after=3) as ex:
        ex.map([FAST])
        first = ex.pids
        ex.map([FAST, FAST])  # third run reaches the limit
        assert ex.pids != first
        assert all(r.ok for r in ex.map([AC] * 4))


def test_close_leaves_no_processes() -> None:
    ex = LocalExecutor(2)
    ex.map([FAST, AC])
    pids = ex.pids
    assert len(pids) == 2 and all(isinstance(v, int) for v in ex.worker_rss().values())
    ex.close()
    assert all(_gone(pid) for pid in pids)
    with pytest.raises(RuntimeError, match="closed"):
        ex.map([FAST])


def test_interrupt_terminates_workers() -> None:
    ex = LocalExecutor(2)
    ex.map([FAST, FAST])
    pids = ex.pids

    def interrupt(signum, frame):  # noqa: ANN001
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            ex.map([SimJob(HANG, timeout_s=30)] * 2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert ex.pids == [] and all(_gone(pid) for pid in pids)
    assert ex.map([AC])[0].ok  # the executor starts fresh workers afterwards
    ex.close()


def test_abandoned_batch_does_not_leak_into_the_next() -> None:
    with LocalExecutor(1) as ex:
        batch = ex.submit([SimJob(HANG, timeout_s=30), FAST])
        del batch  # never iterated: nothing was sent
        stream = ex.submit([AC, SimJob(HANG, timeout_s=30)])
        assert next(stream)[0] == 0
        stream.close()  # the hanging job is abandoned; its worker is replaced
        results = ex.map([FAST, AC])
        assert results[0].ok and results[1].ok and "f3db" in results[1].measurements


def test_script_without_main_guard_runs_once(tmp_path) -> None:
    script = tmp_path / "no_guard.py"
    script.write_text(
        "from ckt.sim import LocalExecutor, SimJob\n"
        "print('body')\n"
        f"with LocalExecutor(2) as ex:\n    print([str(r.status) for r in ex.map([SimJob({FAST.deck!r})] * 3)])\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.splitlines() == ["body", "['ok', 'ok', 'ok']"]


def test_make_executor() -> None:
    with make_executor("local", workers=1) as ex:
        assert isinstance(ex, LocalExecutor) and ex.workers == 1
    with pytest.raises(ValueError, match="kind"):
        make_executor("slurm")
    with pytest.raises(ValueError, match="workers"):
        LocalExecutor(0)


@pytest.mark.slow
def test_worker_memory_stays_flat_over_10000_runs() -> None:
    """10,000 tiny simulations in one worker: RSS growth between run 1,000 and 10,000 is bounded."""
    with LocalExecutor(1, recycle_after=20_000) as ex:
        rss = {}
        for done in range(1000, 10_001, 1000):
            results = ex.map([AC] * 1000)
            assert all(r.ok for r in results)
            (rss[done],) = ex.worker_rss().values()
        growth_mb = (rss[10_000] - rss[1000]) / 2**20
        assert growth_mb < 50, rss
