"""Running many simulations: the ``Executor`` interface and the local process pool.

An executor takes a batch of ``SimJob`` and yields ``(index, SimResult)`` as results complete;
a failed, hung or crashing simulation costs its own job and nothing else, while a missing
simulator stops the batch with ``SimulatorNotFoundError``. With a ``ResultCache``, cached jobs
come back at once and fresh results are stored. ``LocalExecutor`` keeps ``workers`` processes
(``ckt.sim.worker``), each owning one libngspice, scheduled by ``ckt.sim.scheduler`` (limits,
replacement of dead workers, recycling after ``recycle_after`` simulations so memory stays flat).
Executors are driven from one thread at a time. Workers never import the caller's main script,
so no ``if __name__ == "__main__":`` guard is needed around code that uses an executor.
"""

from __future__ import annotations

import abc
import atexit
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from ckt.sim.backends import JobRunner
from ckt.sim.result import SimJob, SimResult
from ckt.sim.scheduler import Outcome, Scheduler
from ckt.sim.worker import LocalPool, WorkerProcess

if TYPE_CHECKING:
    from ckt.sim.cache import ResultCache


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


class LocalExecutor(Executor):
    """A pool of worker processes on this machine (``ckt.sim.worker``) under the ``Scheduler``.

    Args:
        workers: number of worker processes (default ``os.cpu_count()``); started lazily, no more
            than a batch needs.
        recycle_after: replace a worker after this many simulations (PySpice/libngspice leak a
            little memory per run).
        cache: optional result cache consulted before and filled after simulating.
        runner: what each worker runs jobs with (default: ngspice, ``NgspiceRunner``); it must
            pickle, as it is sent to each worker.
    """

    def __init__(self, workers: int | None = None, *, recycle_after: int = 500, cache: ResultCache | None = None,
                 runner: JobRunner | None = None) -> None:
        super().__init__(cache)
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._scheduler: Scheduler[WorkerProcess] = Scheduler(LocalPool(runner), self.workers,
                                                              recycle_after=recycle_after)
        self.recycle_after = recycle_after
        self._closed = False

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers (for monitoring and tests)."""
        return self._scheduler.pids

    def worker_rss(self) -> dict[int, int | None]:
        """Resident set size in bytes of each current worker, by pid (``/proc``; Linux)."""
        return {pid: seat.slot.rss_bytes() for seat in self._scheduler.seats if (pid := seat.slot.pid) is not None}

    def _run(self, pending: list[tuple[int, SimJob]]) -> Iterator[Outcome]:
        if self._closed:
            raise RuntimeError("this LocalExecutor is closed")
        return self._scheduler.run(pending)

    def close(self) -> None:
        """Stop every worker cleanly (killing any that do not exit) and reap them."""
        self._scheduler.close()
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
