"""One scheduler for every kind of simulation worker: jobs to free slots, limits, deaths, recycling.

A *slot* is one worker that runs one job at a time: a local process (``ckt.sim.worker``) or a Ray
actor (``ckt.sim.ray_executor``). A ``SlotPool`` starts slots and waits on all of them at once,
turning what they say into ``Event``\\ s; the ``Scheduler`` does the rest the same way for every
pool: hands queued jobs to ready slots, enforces each job's wall-clock limit by killing and
replacing its slot, replaces slots that die (a crash costs the job it held and nothing else),
recycles slots after ``recycle_after`` jobs, and stops the batch with ``SimulatorNotFoundError``
the moment a slot reports that the simulator is missing. Pools hold no scheduling logic, so a
fake pool tests all of this without ngspice.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ckt.errors import SimulationError, SimulatorNotFoundError
from ckt.sim.result import SimJob, SimResult, Status

Outcome = tuple[int, SimResult, bool]
"""A finished job: its index in the batch, its result, whether the result may be cached."""


@dataclass(frozen=True)
class Ready:
    """The slot has started (its simulator loaded) and takes jobs."""

    pid: int | None = None


@dataclass(frozen=True)
class Done:
    """The slot finished its job; ``alive`` false means the slot cannot take another."""

    result: SimResult
    cacheable: bool = True
    alive: bool = True


@dataclass(frozen=True)
class Died:
    """The slot is gone (crashed, killed from outside, failed to start)."""

    detail: str


@dataclass(frozen=True)
class Unavailable:
    """The slot's runner found no simulator: no job can run anywhere like it."""

    error: SimulatorNotFoundError


Event = Ready | Done | Died | Unavailable


class Slot(Protocol):
    """One worker as the scheduler drives it."""

    @property
    def pid(self) -> int | None:
        """Its process id where it has one (for monitoring and tests)."""
        ...

    def send(self, job: SimJob) -> None:
        """Start ``job``; raises ``OSError`` when the slot turns out to be gone."""
        ...

    def stop(self) -> None:
        """Ask it to exit, killing it if it does not; it is idle."""
        ...

    def kill(self) -> None:
        """Kill it now, with anything it started."""
        ...


S = TypeVar("S", bound=Slot)


class SlotPool(Protocol[S]):
    """Starts slots of one kind and waits on them."""

    kind: str
    """What a slot is called in messages (``"worker"``, ``"Ray actor"``)."""

    def start(self) -> S:
        """A new slot; it answers ``Ready`` (or ``Died``) through ``wait`` once started."""
        ...

    def wait(self, slots: Sequence[S], timeout: float | None) -> list[tuple[S, Event]]:
        """Block until a slot has something to say or ``timeout`` seconds pass; at most one event
        per slot."""
        ...


@dataclass
class _Held:
    index: int
    job: SimJob
    started: float
    deadline: float


class _Seat(Generic[S]):
    """The scheduler's view of one slot: started yet, which job it holds, how many it ran."""

    def __init__(self, slot: S) -> None:
        self.slot = slot
        self.ready = False
        self.pid = slot.pid
        self.held: _Held | None = None
        self.runs = 0

    @property
    def idle(self) -> bool:
        return self.ready and self.held is None


class Scheduler(Generic[S]):
    """Runs batches of jobs on up to ``size`` slots of ``pool``; slots persist between batches.

    Args:
        pool: the kind of slot.
        size: the most slots (started lazily, no more than a batch needs).
        recycle_after: replace a slot after this many jobs (``None``: never).
        subprocess_grace_s: extra time before a ``"subprocess"`` job's slot is killed; ``ngspice -b``
            enforces the limit itself and then reports the partial log.
    """

    # Slots that die before they are ready this many times in a row mean they cannot start here
    # at all (a broken install); the batch stops instead of respawning forever.
    MAX_START_FAILURES = 3

    def __init__(self, pool: SlotPool[S], size: int, *, recycle_after: int | None = None,
                 subprocess_grace_s: float = 2.0) -> None:
        if size < 1:
            raise ValueError(f"workers must be at least 1, got {size}")
        if recycle_after is not None and recycle_after < 1:
            raise ValueError(f"recycle_after must be at least 1, got {recycle_after}")
        self.pool = pool
        self.size = size
        self.recycle_after = recycle_after
        self.subprocess_grace_s = subprocess_grace_s
        self.seats: list[_Seat[S]] = []

    @property
    def pids(self) -> list[int]:
        """Process ids of the current slots that have one."""
        return [seat.pid for seat in self.seats if seat.pid is not None]

    def run(self, pending: Sequence[tuple[int, SimJob]]) -> Iterator[Outcome]:
        """Yield an outcome for every ``(index, job)``, in completion order.

        Raises:
            SimulatorNotFoundError: a slot found no simulator (the batch stops at once).
            SimulationError: slots keep dying before they are ready.
        """
        queue = deque(pending)
        while len(self.seats) < min(self.size, len(queue)):
            self.seats.append(_Seat(self.pool.start()))
        remaining = len(queue)
        start_failures = 0
        finished = False
        try:
            while remaining:
                self._dispatch(queue)
                outcomes: list[Outcome] = []
                for slot, event in self.pool.wait([seat.slot for seat in self.seats], self._wait_s()):
                    position = next((i for i, seat in enumerate(self.seats) if seat.slot is slot), None)
                    if position is None:
                        continue
                    seat = self.seats[position]
                    if isinstance(event, Ready):
                        seat.ready, start_failures = True, 0
                        seat.pid = event.pid if event.pid is not None else seat.pid
                    elif isinstance(event, Done):
                        if seat.held is not None:
                            outcomes.append((seat.held.index, event.result, event.cacheable))
                        seat.held = None
                        seat.runs += 1
                        if not event.alive:
                            self._replace(position)
                    elif isinstance(event, Died):
                        start_failures += 0 if seat.ready else 1
                        outcomes.extend(self._replace(position, died=event.detail))
                    else:
                        seat.held = None  # the slot itself is fine and stays for the next batch
                        raise event.error
                outcomes.extend(self._expire_and_recycle())
                if start_failures >= self.MAX_START_FAILURES:
                    raise SimulationError(f"simulation {self.pool.kind}s fail to start "
                                          f"({start_failures} in a row); see the log of the process that started them")
                remaining -= len(outcomes)
                yield from outcomes
            finished = True
        except (KeyboardInterrupt, SystemExit):
            self.kill_all()
            raise
        finally:
            if not finished:
                # The caller stopped early or an error escaped: the jobs still running are
                # abandoned, and their slots must not answer into the next batch.
                for position, seat in enumerate(list(self.seats)):
                    if seat.held is not None:
                        self._replace(position)

    def _dispatch(self, queue: deque[tuple[int, SimJob]]) -> None:
        for position, seat in enumerate(list(self.seats)):
            if not queue or not seat.idle:
                continue
            index, job = queue.popleft()
            try:
                seat.slot.send(job)
            except OSError:  # it died while idle (ngspice quit after its last job)
                queue.appendleft((index, job))
                self._replace(position)
                continue
            now = time.monotonic()
            grace = self.subprocess_grace_s if job.backend == "subprocess" else 0.0
            seat.held = _Held(index, job, now, now + job.timeout_s + grace)

    def _wait_s(self) -> float | None:
        deadlines = [seat.held.deadline for seat in self.seats if seat.held is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _expire_and_recycle(self) -> list[Outcome]:
        outcomes: list[Outcome] = []
        now = time.monotonic()
        for position, seat in enumerate(list(self.seats)):
            if seat.held is not None and now >= seat.held.deadline:
                outcomes.extend(self._replace(position, timed_out=True))
            elif seat.idle and self.recycle_after is not None and seat.runs >= self.recycle_after:
                seat.slot.stop()
                self.seats[position] = _Seat(self.pool.start())
        return outcomes

    def _replace(self, position: int, *, died: str = "", timed_out: bool = False) -> list[Outcome]:
        """Kill the slot at ``position``, start a fresh one, and answer the job it held."""
        seat = self.seats[position]
        seat.slot.kill()
        self.seats[position] = _Seat(self.pool.start())
        held = seat.held
        if held is None:
            return []
        elapsed = time.monotonic() - held.started
        kind = self.pool.kind
        if timed_out:
            result = SimResult(status=Status.TIMEOUT, elapsed_s=elapsed,
                               message=f"simulation exceeded its {held.job.timeout_s:g} s limit; "
                                       f"its {kind} was killed and replaced")
        else:
            result = SimResult(status=Status.ERROR, elapsed_s=elapsed,
                               message=f"simulation {kind} died ({died or 'it exited'}); it was replaced")
        return [(held.index, result, False)]

    def kill_all(self) -> None:
        """Kill every slot now (an interrupt); the next batch starts fresh ones."""
        for seat in self.seats:
            seat.slot.kill()
        self.seats = []

    def close(self) -> None:
        """Stop idle slots cleanly, kill busy ones."""
        for seat in self.seats:
            if seat.held is None:
                seat.slot.stop()
            else:
                seat.slot.kill()
        self.seats = []
