"""Local simulation worker processes, the ``SlotPool`` a ``LocalExecutor`` schedules on.

Each worker owns one job runner (``ckt.sim.backends.NgspiceRunner``: one libngspice) and runs one
job at a time; it talks to its parent over a private pipe, so when a worker dies or hangs the
parent knows exactly which job it held. Workers start from multiprocessing's ``forkserver``
(never ``fork``: the parent may hold torch or Ray threads), with this module and PySpice preloaded
in the server so a replacement worker is ready in tens of milliseconds (most of it libngspice's
own start-up) instead of a fresh interpreter's second. Each worker runs in its own scratch
directory, which the parent removes, so files ngspice writes (BSIM check logs, ``wrdata`` output)
never land in the caller's directory and never collide between workers. Workers die with the
parent however it ends (``ckt.sim.lifeline``).

Protocol: the worker sends ``("ready", pid)`` once, then for each job received sends
``("done", result, cacheable, alive)`` (``alive`` false: ngspice exited and the worker is about
to, so the parent replaces it at once) or ``("unavailable", SimulatorNotFoundError)``; ``None``
asks it to exit.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from ckt.errors import SimulatorNotFoundError
from ckt.sim.backends import JobRunner, NgspiceRunner
from ckt.sim.lifeline import die_with_parent, watch
from ckt.sim.result import SimJob, SimResult, Status
from ckt.sim.scheduler import Died, Done, Event, Ready, Unavailable

_PRELOAD = ["ckt.sim.forkserver_preload", "ckt.sim.worker", "PySpice.Spice.NgSpice.Shared"]

IN_WORKER_ENV = "CKT_SIM_WORKER"


def in_worker() -> bool:
    """Whether this process is a ckt simulation worker (where running in-process is safe)."""
    return os.environ.get(IN_WORKER_ENV) == "1"


Context = multiprocessing.context.ForkServerContext | multiprocessing.context.SpawnContext


def context() -> Context:
    """The multiprocessing context workers start from (forkserver with preloads, or spawn)."""
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:  # platforms without forkserver
        return multiprocessing.get_context("spawn")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def worker_main(conn: multiprocessing.connection.Connection, lifeline: multiprocessing.connection.Connection,
                workdir: str, runner: JobRunner) -> None:
    """Entry point of a worker process: start the runner, then serve jobs until told to stop."""
    # Own process group: killing the worker's group also kills any ngspice -b it started.
    os.setsid()
    die_with_parent()
    watch(lifeline)
    os.environ[IN_WORKER_ENV] = "1"
    # Ctrl-C reaches the whole process group; the parent decides what happens to workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.chdir(workdir)
    # Everything temporary this process makes (pruned model libraries, policy checks) lives in the
    # scratch folder, which the parent removes however the worker ends (os._exit skips atexit).
    tempfile.tempdir = workdir
    runner.start()
    try:
        conn.send(("ready", os.getpid()))
        while True:
            job = conn.recv()
            if job is None:
                break
            try:
                result, cacheable = _serve(job, runner)
            except SimulatorNotFoundError as exc:
                conn.send(("unavailable", exc))
                continue
            alive = runner.alive
            conn.send(("done", result, cacheable, alive))
            if not alive:
                break  # ngspice exited: this library instance is unusable
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        conn.close()
    os._exit(0)  # skip interpreter teardown: libngspice's atexit handlers can be slow or crash


def _serve(job: SimJob, runner: JobRunner) -> tuple[SimResult, bool]:
    """Run one job; the flag says whether the result depends only on the job (cacheable)."""
    start = time.perf_counter()
    try:
        return runner.run(job), True
    except SimulatorNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 — a bug here must cost one job, not the worker
        message = f"simulation worker failed: {type(exc).__name__}: {exc}"
        log = traceback.format_exc()
        return SimResult(status=Status.ERROR, message=message, log=log, elapsed_s=time.perf_counter() - start), False


_START_LOCK = threading.Lock()


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """Start a worker without it re-importing the caller's ``__main__``.

    multiprocessing's spawn and forkserver children normally re-run the main script (as
    ``__mp_main__``) so pickled references to it resolve. Workers only need this module, so
    hiding the main module's file and spec while the child is prepared spares them that: scripts
    without an ``if __name__ == "__main__":`` guard, code piped to ``python -``, and notebooks
    all work, and start-up is faster.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    missing = object()
    with _START_LOCK:
        saved = {name: main.__dict__.get(name, missing) for name in ("__file__", "__spec__")}
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is missing:
                    main.__dict__.pop(name, None)
                else:
                    main.__dict__[name] = value


class WorkerProcess:
    """Parent-side handle of one worker process (a ``Slot``) and its private pipes."""

    def __init__(self, ctx: Context, runner: JobRunner) -> None:
        self.workdir = tempfile.mkdtemp(prefix="ckt-sim-worker-")
        # Removes the scratch directory on kill(), or at interpreter exit for a pool never closed.
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.workdir, ignore_errors=True)
        self.conn, child = ctx.Pipe()
        # Never written: the worker's watchdog sees end of file when this process is gone.
        lifeline, self._lifeline = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=worker_main, args=(child, lifeline, self.workdir, runner), daemon=True)
        with _main_hidden():
            self.process.start()
        child.close()
        lifeline.close()
        self.closed = False

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def send(self, job: SimJob) -> None:
        self.conn.send(job)

    def rss_bytes(self) -> int | None:
        """The worker's resident set size from ``/proc`` (Linux), ``None`` elsewhere."""
        try:
            with open(f"/proc/{self.pid}/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return None

    def receive(self) -> Event:
        """What the worker said (its pipe is readable), or how it died."""
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            return Died(self._exit_detail())
        if message[0] == "ready":
            return Ready(message[1])
        if message[0] == "unavailable":
            return Unavailable(message[1])
        _, result, cacheable, alive = message
        return Done(result, cacheable, alive)

    def _exit_detail(self) -> str:
        self.process.join(0.5)
        code = self.process.exitcode
        return f"exit code {code}" if code is not None else "it exited"

    def stop(self, grace_s: float = 2.0) -> None:
        """Ask the worker to exit; kill it if it does not within ``grace_s``."""
        if not self.closed and self.process.is_alive():
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self.process.join(grace_s)
        self.kill()

    def kill(self) -> None:
        """Kill the worker (if alive), reap it and remove its scratch directory."""
        if self.closed:
            return
        self.closed = True
        # The whole group, even when the worker itself is already dead: an ngspice -b it started
        # would otherwise run on as an orphan.
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # it never got to setsid
                os.killpg(self.pid, signal.SIGKILL)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()
        self._lifeline.close()
        self.process.close()
        self._cleanup()


class LocalPool:
    """Worker processes on this machine, each holding ``runner`` (a ``SlotPool``)."""

    kind = "worker"

    def __init__(self, runner: JobRunner | None = None) -> None:
        self.runner: JobRunner = runner if runner is not None else NgspiceRunner()
        self._ctx = context()

    def start(self) -> WorkerProcess:
        return WorkerProcess(self._ctx, self.runner)

    def wait(self, slots: Sequence[WorkerProcess], timeout: float | None) -> list[tuple[WorkerProcess, Event]]:
        waitables: list[Any] = [w.conn for w in slots] + [w.process.sentinel for w in slots]
        ready = set(multiprocessing.connection.wait(waitables, timeout))
        events: list[tuple[WorkerProcess, Event]] = []
        for worker in slots:
            if worker.conn in ready:
                events.append((worker, worker.receive()))
            elif worker.process.sentinel in ready and not worker.conn.poll():
                events.append((worker, Died(worker._exit_detail())))
        return events
