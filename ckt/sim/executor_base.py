"""The ``Executor`` interface: batches of jobs in, results out as they complete, through a cache.

Implementations (``ckt.sim.executor.LocalExecutor``, ``ckt.sim.ray_executor.RayExecutor``) only
say how to run the jobs the cache did not answer.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from ckt.sim.result import SimJob, SimResult
from ckt.sim.scheduler import Outcome

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
