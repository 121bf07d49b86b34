"""Simulations on a Ray cluster: Ray actors as the scheduler's slots, each owning one libngspice.

The optional ``ckt[ray]`` extra. Actors are the Ray counterpart of ``ckt.sim.worker`` processes
and are scheduled by the same ``ckt.sim.scheduler`` (limits, replacement, start failures).
Clusters need not share a filesystem: the driver reads every file a job depends on, the whole
include closure (``job.files``, the deck's ``.include``/``.lib`` paths and the files those name,
recursively; ``ckt.sim.decktext.include_closure``), ships the bytes with the task (once per batch
through Ray's object store), and the actor writes them to its scratch directory in their original
layout and points the include lines at those copies (``ckt.sim.decktext.localize``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckt.errors import SimulationError, SimulatorNotFoundError
from ckt.sim.backends import JobRunner, NgspiceRunner
from ckt.sim.decktext import include_closure, localize
from ckt.sim.executor_base import Executor
from ckt.sim.result import SimJob, SimResult, Status
from ckt.sim.scheduler import Died, Done, Event, Outcome, Ready, Scheduler, Unavailable
from ckt.sim.worker import IN_WORKER_ENV

if TYPE_CHECKING:
    from ckt.sim.cache import ResultCache

_SCRATCH_PREFIX = "ckt-ray-actor-"


def _remove_orphaned_scratch() -> None:
    """Delete scratch folders of actors on this node whose process is gone.

    ``ray.kill`` (timeouts, dead ngspice) ends an actor without running its cleanup, so each new
    actor sweeps up after its killed predecessors.
    """
    for folder in Path(tempfile.gettempdir()).glob(f"{_SCRATCH_PREFIX}*-*"):
        pid = folder.name[len(_SCRATCH_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # alive, someone else's
            pass


Shipment = tuple[dict[str, bytes], str]
"""A job's files (absolute path -> bytes) and the driver folder its relative includes start from."""


class _SimActor:
    """Runs jobs with its job runner (wrapped by ``ray.remote`` at executor start)."""

    def __init__(self, runner: JobRunner) -> None:
        os.environ[IN_WORKER_ENV] = "1"
        _remove_orphaned_scratch()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-"))
        os.chdir(self.workdir)
        tempfile.tempdir = str(self.workdir)  # pruned model libraries go with the scratch folder
        self.runner = runner
        runner.start()

    def ping(self) -> int:
        return os.getpid()

    def run(self, job: SimJob, shipment: Shipment) -> tuple[Any, ...]:
        """``("done", result, cacheable, alive)`` or ``("unavailable", error)``."""
        files, cwd = shipment
        if files:
            deck, paths = localize(job.deck, files, self.workdir / "models", cwd=cwd)
            job = replace(job, deck=deck, files=paths)
        try:
            result = self.runner.run(job)
        except SimulatorNotFoundError as exc:
            return ("unavailable", exc)
        return ("done", result, True, self.runner.alive)

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "workdir", ""), ignore_errors=True)


class RaySlot:
    """One actor as a scheduler slot: its handle, and the ref it is starting or working on."""

    def __init__(self, pool: RayPool) -> None:
        self._pool = pool
        self.actor = pool.actor_cls.remote(pool.runner)
        self.ref: Any = self.actor.ping.remote()
        self.starting = True

    @property
    def pid(self) -> int | None:
        return None

    def send(self, job: SimJob) -> None:
        self.ref = self.actor.run.remote(job, self._pool.shipments[job])
        self.starting = False

    def stop(self) -> None:
        self.kill()

    def kill(self) -> None:
        self._pool.ray.kill(self.actor, no_restart=True)
        self.ref = None


class RayPool:
    """Ray actors, one CPU each (a ``SlotPool``)."""

    kind = "Ray actor"

    def __init__(self, ray: Any, runner: JobRunner) -> None:
        self.ray = ray
        self.runner = runner
        self.actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_SimActor)
        self.shipments: dict[SimJob, Any] = {}

    def ship(self, jobs: Sequence[tuple[int, SimJob]]) -> None:
        """Read each job's include closure once and put it in the object store."""
        cwd = os.getcwd()
        contents: dict[str, bytes] = {}
        refs: dict[tuple[str, ...], Any] = {}
        self.shipments = {}
        for _, job in jobs:
            paths = tuple(f.path for f in include_closure(job.deck, job.files, cwd=cwd) if f.exists)
            if paths not in refs:
                for path in paths:
                    if path not in contents:
                        contents[path] = Path(path).read_bytes()
                refs[paths] = self.ray.put(({p: contents[p] for p in paths}, cwd))
            self.shipments[job] = refs[paths]

    def start(self) -> RaySlot:
        return RaySlot(self)

    def wait(self, slots: Sequence[RaySlot], timeout: float | None) -> list[tuple[RaySlot, Event]]:
        ray = self.ray
        by_ref = {slot.ref: slot for slot in slots if slot.ref is not None}
        if not by_ref:
            return []
        ready, _ = ray.wait(list(by_ref), num_returns=1, timeout=timeout)
        events: list[tuple[RaySlot, Event]] = []
        for ref in ready:
            slot = by_ref[ref]
            slot.ref = None
            events.append((slot, self._event(slot, ref)))
        return events

    def _event(self, slot: RaySlot, ref: Any) -> Event:
        ray = self.ray
        try:
            answer = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            return Died(f"{type(exc).__name__}")
        except ray.exceptions.RayError as exc:
            if slot.starting:
                return Died(f"{type(exc).__name__}: {exc}")
            message = f"Ray task failed: {type(exc).__name__}: {exc}"
            return Done(SimResult(status=Status.ERROR, message=message), cacheable=False)
        if slot.starting:
            return Ready()
        if answer[0] == "unavailable":
            return Unavailable(answer[1])
        _, result, cacheable, alive = answer
        return Done(result, cacheable, alive)


class RayExecutor(Executor):
    """A pool of Ray actors, one libngspice each.

    Args:
        address: ``"auto"`` joins the running cluster (``ray start --head`` or ``RAY_ADDRESS``);
            ``None`` starts a local Ray instance owned (and shut down) by this executor; any
            other string is a cluster address. Ignored when Ray is already initialised.
        num_cpus: number of actors (default: the cluster's CPUs); for a local instance also the
            CPUs it may use.
        cache: optional result cache, consulted on the driver.
        runner: what each actor runs jobs with (default: ngspice).
    """

    def __init__(self, address: str | None = "auto", *, num_cpus: int | None = None, cache: ResultCache | None = None,
                 runner: JobRunner | None = None) -> None:
        super().__init__(cache)
        try:
            import ray
        except ImportError as exc:
            raise SimulationError("RayExecutor needs Ray: pip install 'ckt[ray]'") from exc
        self._ray = ray
        self._owns_ray = False
        if not ray.is_initialized():
            try:
                if address is None:
                    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
                    self._owns_ray = True
                else:
                    ray.init(address=address, log_to_driver=False)
            except ConnectionError as exc:
                raise SimulationError(f"cannot connect to a Ray cluster at {address!r}: {exc}") from exc
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.size = max(1, num_cpus or cpus)
        self._pool = RayPool(ray, runner if runner is not None else NgspiceRunner())
        self._scheduler: Scheduler[RaySlot] = Scheduler(self._pool, self.size)
        self._closed = False

    def _run(self, pending: list[tuple[int, SimJob]]) -> Iterator[Outcome]:
        if self._closed:
            raise RuntimeError("this RayExecutor is closed")
        self._pool.ship(pending)
        return self._scheduler.run(pending)

    def close(self) -> None:
        """Kill the actors; shut Ray down if this executor started it."""
        if self._closed:
            return
        self._scheduler.kill_all()
        self._closed = True
        if self._owns_ray:
            self._ray.shutdown()
            _remove_orphaned_scratch()  # the local actors are gone now; so is their cleanup
