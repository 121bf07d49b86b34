"""Running many simulations: the ``Executor`` interface and the local process pool.

An executor takes a batch of ``SimJob`` and yields ``(index, SimResult)`` as results complete;
a failed, hung or crashing simulation costs its own job and nothing else. With a
``ResultCache``, cached jobs come back at once and fresh results are stored. ``LocalExecutor``
keeps ``workers`` processes (``ckt.sim.worker``), each owning one libngspice, enforces every
job's wall-clock limit by killing and replacing the worker, replaces workers that die, and
recycles each worker after ``recycle_after`` simulations so memory stays flat. Executors are
driven from one thread at a time. Workers never import the caller's main script, so no
``if __name__ == "__main__":`` guard is needed around code that uses an executor.
"""

from __future__ import annotations

import abc
import atexit
import multiprocessing.connection
import os
import time
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from ckt.errors import SimulatorWarning
from ckt.sim.result import ERROR, TIMEOUT, SimJob, SimResult
from ckt.sim.worker import WorkerProcess, context

if TYPE_CHECKING:
    from ckt.sim.cache import ResultCache


Outcome = tuple[int, SimResult, bool]  # index, result, whether it may be cached


class Executor(abc.ABC):
    """Runs batches of simulation jobs; see ``submit`` and ``map``."""

    def __init__(self, cache: ResultCache | None = None) -> None:
        self.cache = cache

    def submit(self, jobs: Sequence[SimJob]) -> Iterator[tuple[int, SimResult]]:
        """Yield ``(index, result)`` for every job, in completion order (cache hits first)."""
        jobs = list(jobs)
        pending: list[tuple[int, SimJob]] = []
        for index, job in enumerate(jobs):
            hit = self.cache.get(job) if self.cache is not None else None
            if hit is not None:
                yield index, hit
            else:
                pending.append((index, job))
        if not pending:
            return
        for index, result, cacheable in self._run(pending):
            if cacheable and self.cache is not None:
                self.cache.put(jobs[index], result)
            yield index, result

    def map(self, jobs: Iterable[SimJob]) -> list[SimResult]:
        """Run every job and return the results in job order."""
        jobs = list(jobs)
        results: list[SimResult | None] = [None] * len(jobs)
        for index, result in self.submit(jobs):
            results[index] = result
        return results  # type: ignore[return-value]  # every index is filled by submit

    @abc.abstractmethod
    def _run(self, pending: list[tuple[int, SimJob]]) -> Iterator[Outcome]:
        """Run the jobs the cache did not answer, yielding outcomes as they complete."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop every worker; the executor may not be used afterwards."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _died(elapsed: float, detail: str) -> SimResult:
    return SimResult(status=ERROR, elapsed_s=elapsed, message=f"simulation worker died ({detail}); it was replaced")


class LocalExecutor(Executor):
    """A pool of worker processes on this machine.

    Args:
        workers: number of worker processes (default ``os.cpu_count()``); started lazily, no more
            than a batch needs.
        recycle_after: replace a worker after this many simulations (PySpice/libngspice leak a
            little memory per run).
        cache: optional result cache consulted before and filled after simulating.
    """

    # A worker that dies before it is ready this many times in a row means workers cannot start
    # here at all (broken install); the batch then fails instead of respawning forever.
    _MAX_START_FAILURES = 3

    def __init__(self, workers: int | None = None, *, recycle_after: int = 500, cache: ResultCache | None = None) -> None:
        super().__init__(cache)
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if recycle_after < 1:
            raise ValueError(f"recycle_after must be at least 1, got {recycle_after}")
        self.recycle_after = recycle_after
        self._ctx = context()
        self._pool: list[WorkerProcess] = []
        self._closed = False
        self._warned_init = False

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers (for monitoring and tests)."""
        return [w.pid for w in self._pool if w.pid is not None]

    def worker_rss(self) -> dict[int, int | None]:
        """Resident set size in bytes of each current worker, by pid (``/proc``; Linux)."""
        return {w.pid: w.rss_bytes() for w in self._pool if w.pid is not None}

    def _run(self, pending: list[tuple[int, SimJob]]) -> Iterator[Outcome]:
        if self._closed:
            raise RuntimeError("this LocalExecutor is closed")
        queue = deque(pending)
        while len(self._pool) < min(self.workers, len(queue)):
            self._pool.append(WorkerProcess(self._ctx))
        remaining = len(queue)
        start_failures = 0
        finished = False
        try:
            while remaining:
                for slot, worker in enumerate(list(self._pool)):
                    if queue and worker.idle:
                        index, job = queue.popleft()
                        try:
                            worker.send(index, job)
                        except OSError:  # it died while idle (ngspice quit after its last job)
                            worker.assignment = None
                            queue.appendleft((index, job))
                            self._replace(slot, "it exited")
                outcomes: list[Outcome] = []
                now = time.monotonic()
                deadlines = [w.assignment.deadline for w in self._pool if w.assignment is not None]
                timeout = max(0.0, min(deadlines) - now) if deadlines else None
                waitables = [w.conn for w in self._pool] + [w.process.sentinel for w in self._pool]
                ready = set(multiprocessing.connection.wait(waitables, timeout))
                for slot, worker in enumerate(list(self._pool)):
                    dead = False
                    if worker.conn in ready:
                        try:
                            message = worker.conn.recv()
                        except (EOFError, OSError):
                            dead = True
                        else:
                            if message[0] == "ready":
                                worker.ready, worker.pid = True, message[1]
                                start_failures = 0
                                if message[2] and not self._warned_init:
                                    self._warned_init = True  # its shared-backend jobs fail with this message
                                    warnings.warn(message[2], SimulatorWarning, stacklevel=2)
                            else:
                                index, result, cacheable, alive = message
                                worker.assignment = None
                                worker.runs += 1
                                outcomes.append((index, result, cacheable))
                                dead = not alive
                    if not dead and worker.process.sentinel in ready and not worker.conn.poll():
                        dead = not worker.process.is_alive()
                    if dead:
                        if not worker.ready:
                            start_failures += 1
                        outcomes.extend(self._replace(slot, "it exited"))
                    elif worker.assignment is not None and time.monotonic() >= worker.assignment.deadline:
                        outcomes.extend(self._replace(slot, "timeout"))
                    elif worker.idle and worker.runs >= self.recycle_after:
                        self._pool[slot].stop()
                        self._pool[slot] = WorkerProcess(self._ctx)
                if start_failures >= self._MAX_START_FAILURES:
                    message = "simulation workers fail to start (see the log of the parent process)"
                    while queue:
                        index, _ = queue.popleft()
                        outcomes.append((index, SimResult(status=ERROR, message=message), False))
                remaining -= len(outcomes)
                yield from outcomes
            finished = True
        except KeyboardInterrupt:
            self._terminate_all()
            raise
        finally:
            if not finished:
                # The caller stopped early or an error escaped: the jobs still running are
                # abandoned, and their workers must not answer into the next batch.
                for slot, worker in enumerate(list(self._pool)):
                    if worker.assignment is not None:
                        worker.kill()
                        self._pool[slot] = WorkerProcess(self._ctx)

    def _replace(self, slot: int, why: str) -> list[Outcome]:
        """Kill the worker in ``slot``, start a fresh one, and answer the job it held."""
        worker = self._pool[slot]
        assignment = worker.assignment
        exitcode = worker.process.exitcode if not worker.process.is_alive() else None
        worker.kill()
        self._pool[slot] = WorkerProcess(self._ctx)
        if assignment is None:
            return []
        elapsed = time.monotonic() - assignment.started
        if why == "timeout":
            result = SimResult(
                status=TIMEOUT,
                elapsed_s=elapsed,
                message=f"simulation exceeded its {assignment.job.timeout_s:g} s limit; its worker was killed and replaced",
            )
        else:
            result = _died(elapsed, f"exit code {exitcode}" if exitcode is not None else why)
        return [(assignment.index, result, False)]

    def _terminate_all(self) -> None:
        for worker in self._pool:
            worker.kill()
        self._pool = []

    def close(self) -> None:
        """Stop every worker cleanly (killing any that do not exit) and reap them."""
        for worker in self._pool:
            if worker.assignment is None:
                worker.stop()
            else:
                worker.kill()
        self._pool = []
        self._closed = True


def make_executor(
    kind: str = "local",
    *,
    workers: int | None = None,
    address: str | None = None,
    cache: ResultCache | None = None,
) -> Executor:
    """Build an executor by name: ``"local"`` (process pool) or ``"ray"`` (Ray actor pool).

    Args:
        kind: ``"local"`` or ``"ray"``.
        workers: local worker processes, or Ray actors (default: all CPUs).
        address: Ray cluster address (``"auto"`` joins a running cluster; ``None`` starts a local
            one). Ignored for ``"local"``.
        cache: optional result cache.
    """
    if kind == "local":
        return LocalExecutor(workers, cache=cache)
    if kind == "ray":
        from ckt.sim.ray_executor import RayExecutor

        return RayExecutor(address, num_cpus=workers, cache=cache)
    raise ValueError(f"unknown executor kind {kind!r}; expected 'local' or 'ray'")


_default: LocalExecutor | None = None


def default_executor() -> LocalExecutor:
    """The one-worker pool behind ``ckt.sim.simulate``, started on first use, closed at exit."""
    global _default
    if _default is None:
        _default = LocalExecutor(workers=1)
        atexit.register(_default.close)
    return _default
