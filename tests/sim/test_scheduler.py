"""The scheduler against a fake slot pool (no processes, no ngspice), and LocalExecutor with a fake
job runner in real worker processes (no ngspice)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import pytest

from ckt.errors import SimulationError, SimulatorNotFoundError
from ckt.sim import LocalExecutor, SimJob, SimResult, Status
from ckt.sim.scheduler import Died, Done, Event, Ready, Scheduler, Unavailable


class FakeSlot:
    """Answers according to the job's deck: ``ok``, ``hang``, ``die``, ``quit``, ``missing``."""

    def __init__(self, number: int, start_fails: bool) -> None:
        self.number = number
        self.start_fails = start_fails
        self.starting = True
        self.job: SimJob | None = None
        self.killed = self.stopped = False
        self.runs = 0

    @property
    def pid(self) -> int | None:
        return self.number

    def send(self, job: SimJob) -> None:
        assert not self.killed and self.job is None, "a job was sent to a busy or dead slot"
        self.job = job

    def stop(self) -> None:
        self.stopped = True

    def kill(self) -> None:
        self.killed = True


class FakePool:
    kind = "fake worker"

    def __init__(self, start_failures: int = 0) -> None:
        self.slots: list[FakeSlot] = []
        self.start_failures = start_failures

    def start(self) -> FakeSlot:
        slot = FakeSlot(len(self.slots), start_fails=len(self.slots) < self.start_failures)
        self.slots.append(slot)
        return slot

    def wait(self, slots: Sequence[FakeSlot], timeout: float | None) -> list[tuple[FakeSlot, Event]]:
        events: list[tuple[FakeSlot, Event]] = []
        for slot in slots:
            if slot.starting:
                slot.starting = False
                events.append((slot, Died("crashed at start") if slot.start_fails else Ready(slot.number)))
            elif slot.job is not None and slot.job.deck != "hang":
                job, slot.job = slot.job, None
                slot.runs += 1
                if job.deck == "die":
                    events.append((slot, Died("exit code -11")))
                elif job.deck == "missing":
                    events.append((slot, Unavailable(SimulatorNotFoundError("libngspice", "not here", "install it"))))
                else:
                    result = SimResult(Status.OK, measurements={"slot": float(slot.number), "run": float(slot.runs)})
                    events.append((slot, Done(result, alive=job.deck != "quit")))
        if not events:
            assert timeout is not None, "the scheduler would wait forever"
            time.sleep(timeout)
        return events


def _run(scheduler: Scheduler, decks: list[str], timeout_s: float = 30.0) -> dict[int, SimResult]:
    jobs = [(i, SimJob(deck, timeout_s=timeout_s)) for i, deck in enumerate(decks)]
    return {index: result for index, result, _ in scheduler.run(jobs)}


def test_every_job_answered_on_at_most_size_slots() -> None:
    pool = FakePool()
    results = _run(Scheduler(pool, 2), ["ok"] * 5)
    assert sorted(results) == [0, 1, 2, 3, 4] and all(r.ok for r in results.values())
    assert len(pool.slots) == 2


def test_fewer_jobs_start_fewer_slots() -> None:
    pool = FakePool()
    _run(Scheduler(pool, 8), ["ok"])
    assert len(pool.slots) == 1


def test_timeout_kills_and_replaces_the_slot() -> None:
    pool = FakePool()
    scheduler = Scheduler(pool, 1)
    start = time.monotonic()
    results = _run(scheduler, ["hang", "ok"], timeout_s=0.2)
    assert time.monotonic() - start < 2.0
    assert results[0].status is Status.TIMEOUT and "0.2 s limit" in results[0].message
    assert "fake worker was killed" in results[0].message
    assert results[1].ok
    assert pool.slots[0].killed and len(pool.slots) == 2


def test_death_costs_one_job_and_the_slot_is_replaced() -> None:
    pool = FakePool()
    results = _run(Scheduler(pool, 1), ["die", "ok", "ok"])
    assert results[0].status is Status.ERROR and "died (exit code -11)" in results[0].message
    assert results[1].ok and results[2].ok
    assert pool.slots[0].killed


def test_slot_that_cannot_go_on_is_replaced_after_its_result() -> None:
    pool = FakePool()
    results = _run(Scheduler(pool, 1), ["quit", "ok"])
    assert results[0].ok and results[1].ok
    assert results[1].measurements["slot"] == 1.0


def test_recycling_after_n_jobs() -> None:
    pool = FakePool()
    scheduler = Scheduler(pool, 1, recycle_after=2)
    results = _run(scheduler, ["ok"] * 5)
    assert [results[i].measurements["slot"] for i in range(5)] == [0.0, 0.0, 1.0, 1.0, 2.0]
    assert pool.slots[0].stopped and not pool.slots[0].killed


def test_missing_simulator_stops_the_batch_at_once() -> None:
    pool = FakePool()
    scheduler = Scheduler(pool, 1)
    with pytest.raises(SimulatorNotFoundError, match="libngspice is not available"):
        _run(scheduler, ["missing", "ok", "ok"])
    assert len(pool.slots) == 1  # nothing else was tried


def test_slots_that_never_start_stop_the_batch() -> None:
    pool = FakePool(start_failures=10)
    with pytest.raises(SimulationError, match="fake workers fail to start"):
        _run(Scheduler(pool, 1), ["ok"])
    assert len(pool.slots) == Scheduler.MAX_START_FAILURES + 1  # the last replacement is never used


def test_abandoned_batch_replaces_busy_slots() -> None:
    pool = FakePool()
    scheduler = Scheduler(pool, 2)
    stream = scheduler.run([(0, SimJob("ok")), (1, SimJob("hang"))])
    assert next(stream)[0] == 0
    stream.close()
    hung = next(s for s in pool.slots if s.job is not None and s.job.deck == "hang")
    assert hung.killed
    assert _run(scheduler, ["ok", "ok"]).keys() == {0, 1}


def test_close_stops_idle_slots() -> None:
    pool = FakePool()
    scheduler = Scheduler(pool, 2)
    _run(scheduler, ["ok", "ok"])
    scheduler.close()
    assert all(s.stopped for s in pool.slots) and scheduler.seats == []


def test_validation() -> None:
    with pytest.raises(ValueError, match="workers"):
        Scheduler(FakePool(), 0)
    with pytest.raises(ValueError, match="recycle_after"):
        Scheduler(FakePool(), 1, recycle_after=0)


class EchoRunner:
    """A job runner without ngspice: reports the worker's pid, or exits like a crash."""

    def start(self) -> None:
        pass

    def run(self, job: SimJob) -> SimResult:
        if job.deck == "crash":
            os._exit(3)
        if job.deck == "missing":
            raise SimulatorNotFoundError("ngspice", "no ngspice executable on PATH", "install it")
        return SimResult(Status.OK, measurements={"pid": float(os.getpid())})

    @property
    def alive(self) -> bool:
        return True


def test_local_executor_with_an_injected_runner() -> None:
    with LocalExecutor(2, runner=EchoRunner()) as ex:
        results = ex.map([SimJob("a"), SimJob("crash"), SimJob("b")])
        assert results[0].ok and results[2].ok
        assert results[1].status is Status.ERROR and "exit code 3" in results[1].message
        assert int(results[0].measurements["pid"]) != os.getpid()  # it ran in a worker
        with pytest.raises(SimulatorNotFoundError, match="ngspice is not available"):
            ex.map([SimJob("missing"), SimJob("a")])
        assert ex.map([SimJob("a")])[0].ok  # the executor is still usable afterwards
