"""Simulations on a Ray cluster: a pool of actors, each owning one libngspice.

The optional ``ckt[ray]`` extra. Actors are the Ray counterpart of ``ckt.sim.worker`` processes:
one per CPU, each holding one shared-library session, killed and replaced when a job exceeds its
wall-clock limit or ngspice exits. Clusters need not share a filesystem: the driver reads every
model file a job depends on (``job.files`` plus the deck's ``.include``/``.lib`` paths), ships the
bytes with the task (once per batch through Ray's object store), and the actor writes them to its
scratch directory and points the deck's include lines at those copies. Files included from inside
a model file are not shipped; flatten such libraries first.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckt.errors import SimulationError
from ckt.sim.cache import job_files
from ckt.sim.executor import Executor, Outcome
from ckt.sim.result import ERROR, TIMEOUT, SimJob, SimResult

if TYPE_CHECKING:
    from ckt.sim.cache import ResultCache


def localize(deck: str, files: dict[str, bytes], root: Path) -> tuple[str, tuple[str, ...]]:
    """Write shipped model files under ``root`` and point the deck's include lines at them.

    Each file lands in a folder named by its content hash, keeping its base name (ngspice error
    messages stay readable). Only ``.include``/``.inc``/``.lib`` lines are rewritten.

    Returns:
        The rewritten deck and the local paths, in ``files`` order.
    """
    local: dict[str, str] = {}
    for original, content in files.items():
        folder = root / hashlib.sha256(content).hexdigest()[:20]
        target = folder / (Path(original).name or "model")
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(target.suffix + ".part")
            partial.write_bytes(content)
            partial.replace(target)
        local[original] = str(target)
    include = re.compile(r"""^(\s*\.(?:include|inc|lib)\s+)(["']?)([^"'\s]+)(["']?)(.*)$""", re.IGNORECASE)
    lines = []
    for line in deck.splitlines():
        match = include.match(line)
        if match and match.group(3) in local:
            head, _, path, _, tail = match.groups()
            line = f'{head}"{local[path]}"{tail}'
        lines.append(line)
    return "\n".join(lines) + "\n", tuple(local.values())


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


class _SimActor:
    """Runs jobs in its own process's libngspice (wrapped by ``ray.remote`` at executor start)."""

    def __init__(self) -> None:
        from ckt.sim.ngspice import IN_WORKER_ENV, SharedSession

        os.environ[IN_WORKER_ENV] = "1"
        _remove_orphaned_scratch()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-"))
        os.chdir(self.workdir)
        self.init_error = ""
        try:
            SharedSession.get()
        except Exception as exc:  # noqa: BLE001 — reported per job, like a local worker
            self.init_error = f"libngspice could not be loaded on the Ray worker: {type(exc).__name__}: {exc}"

    def ping(self) -> int:
        return os.getpid()

    def run(self, job: SimJob, files: dict[str, bytes]) -> tuple[SimResult, bool, bool]:
        """Run one job; returns the result, whether it is cacheable and whether ngspice lives."""
        from ckt.sim.ngspice import SharedSession, run_in_process

        if job.backend == "shared" and self.init_error:
            return SimResult(status=ERROR, message=self.init_error), False, True
        if files:
            deck, paths = localize(job.deck, files, self.workdir / "models")
            job = replace(job, deck=deck, files=paths)
        result = run_in_process(job)
        alive = SharedSession._instance is None or SharedSession._instance.alive
        return result, True, alive

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "workdir", ""), ignore_errors=True)


@dataclass
class _InFlight:
    slot: int
    index: int
    job: SimJob
    started: float
    deadline: float


class RayExecutor(Executor):
    """A pool of Ray actors, one libngspice each.

    Args:
        address: ``"auto"`` joins the running cluster (``ray start --head`` or ``RAY_ADDRESS``);
            ``None`` starts a local Ray instance owned (and shut down) by this executor; any
            other string is a cluster address. Ignored when Ray is already initialised.
        num_cpus: number of actors (default: the cluster's CPUs); for a local instance also the
            CPUs it may use.
        cache: optional result cache, consulted on the driver.
    """

    def __init__(self, address: str | None = "auto", *, num_cpus: int | None = None, cache: ResultCache | None = None) -> None:
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
        self._actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_SimActor)
        self._actors: list[Any] = []
        self._starting: dict[Any, int] = {}  # ping ref -> slot of an actor still starting
        self._closed = False

    def _new_actor(self, slot: int) -> Any:
        """Start an actor for ``slot``; it takes jobs once its ``ping`` answers (libngspice loaded)."""
        actor = self._actor_cls.remote()
        self._starting[actor.ping.remote()] = slot
        return actor

    def _kill(self, slot: int) -> None:
        self._ray.kill(self._actors[slot], no_restart=True)
        self._actors[slot] = self._new_actor(slot)

    def _ship(self, jobs: list[tuple[int, SimJob]]) -> dict[int, Any]:
        """Read each job's model files once and put them in the object store: index -> ref."""
        contents: dict[str, bytes] = {}
        refs: dict[tuple[str, ...], Any] = {}
        by_index: dict[int, Any] = {}
        for index, job in jobs:
            paths = tuple(p for p in job_files(job) if os.path.isfile(p))
            if paths not in refs:
                for path in paths:
                    if path not in contents:
                        contents[path] = Path(path).read_bytes()
                refs[paths] = self._ray.put({p: contents[p] for p in paths})
            by_index[index] = refs[paths]
        return by_index

    def _run(self, pending: list[tuple[int, SimJob]]) -> Iterator[Outcome]:
        if self._closed:
            raise RuntimeError("this RayExecutor is closed")
        ray = self._ray
        files = self._ship(pending)
        queue = deque(pending)
        while len(self._actors) < min(self.size, len(queue)):
            self._actors.append(self._new_actor(len(self._actors)))
        inflight: dict[Any, _InFlight] = {}
        busy: set[int] = set()
        start_failures = 0
        finished = False
        try:
            while queue or inflight:
                starting = set(self._starting.values())
                for slot in range(len(self._actors)):
                    if queue and slot not in busy and slot not in starting:
                        index, job = queue.popleft()
                        ref = self._actors[slot].run.remote(job, files[index])
                        now = time.monotonic()
                        inflight[ref] = _InFlight(slot, index, job, now, now + job.timeout_s)
                        busy.add(slot)
                now = time.monotonic()
                wait_s = max(0.0, min(f.deadline for f in inflight.values()) - now) if inflight else None
                ready, _ = ray.wait([*inflight, *self._starting], num_returns=1, timeout=wait_s)
                outcomes: list[Outcome] = []
                for ref in ready:
                    if ref in self._starting:
                        slot = self._starting.pop(ref)
                        try:
                            ray.get(ref)
                            start_failures = 0
                        except ray.exceptions.RayError:
                            start_failures += 1
                            self._kill(slot)
                        continue
                    flight = inflight.pop(ref)
                    busy.discard(flight.slot)
                    elapsed = time.monotonic() - flight.started
                    try:
                        result, cacheable, alive = ray.get(ref)
                    except ray.exceptions.RayActorError as exc:
                        self._kill(flight.slot)
                        message = f"Ray simulation actor died ({type(exc).__name__}); it was replaced"
                        outcomes.append((flight.index, SimResult(status=ERROR, elapsed_s=elapsed, message=message), False))
                        continue
                    except ray.exceptions.RayError as exc:
                        message = f"Ray task failed: {type(exc).__name__}: {exc}"
                        outcomes.append((flight.index, SimResult(status=ERROR, elapsed_s=elapsed, message=message), False))
                        continue
                    if not alive:
                        self._kill(flight.slot)
                    outcomes.append((flight.index, result, cacheable))
                now = time.monotonic()
                for ref, flight in list(inflight.items()):
                    if now >= flight.deadline:
                        del inflight[ref]
                        busy.discard(flight.slot)
                        self._kill(flight.slot)
                        message = f"simulation exceeded its {flight.job.timeout_s:g} s limit; its Ray actor was killed and replaced"
                        outcomes.append((flight.index, SimResult(status=TIMEOUT, elapsed_s=now - flight.started, message=message), False))
                if start_failures >= 3:
                    message = "Ray simulation actors fail to start (see the Ray worker logs)"
                    outcomes += [(index, SimResult(status=ERROR, message=message), False) for index, _ in queue]
                    queue.clear()
                yield from outcomes
            finished = True
        finally:
            if not finished:
                for flight in inflight.values():
                    self._kill(flight.slot)

    def close(self) -> None:
        """Kill the actors; shut Ray down if this executor started it."""
        if self._closed:
            return
        for actor in self._actors:
            self._ray.kill(actor, no_restart=True)
        self._actors = []
        self._starting.clear()
        self._closed = True
        if self._owns_ray:
            self._ray.shutdown()
            _remove_orphaned_scratch()  # the local actors are gone now; so is their cleanup
