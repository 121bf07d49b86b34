"""Running many simulations: the local process pool, and choosing an executor by name.

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

import atexit
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ckt.sim.backends import JobRunner
from ckt.sim.executor_base import Executor
from ckt.sim.result import SimJob
from ckt.sim.scheduler import Outcome, Scheduler
from ckt.sim.worker import LocalPool, WorkerProcess

if TYPE_CHECKING:
    from ckt.sim.cache import ResultCache


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


__all__ = ["Executor", "LocalExecutor", "default_executor", "make_executor"]
