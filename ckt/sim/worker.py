"""Simulation worker processes: each owns one libngspice and runs one job at a time.

The parent side (``WorkerProcess``) talks to its worker over a private pipe, so when a worker
dies or hangs the parent knows exactly which job it held. Workers start from multiprocessing's
``forkserver`` (never ``fork``: the parent may hold torch or Ray threads), with this module and
PySpice preloaded in the server so a replacement worker is ready in tens of milliseconds (most
of it libngspice's own start-up) instead of a fresh interpreter's second. Each worker runs in its own scratch directory, which the parent
removes, so files ngspice writes (BSIM check logs, ``wrdata`` output) never land in the caller's
directory and never collide between workers.

Protocol: the worker sends ``("ready", pid, init_error)`` once, then for each ``(job_id, job)``
received sends ``(job_id, result, cacheable, alive)`` (``alive`` false: ngspice exited and the
worker is about to, so the parent replaces it at once); ``None`` asks it to exit.
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
from collections.abc import Iterator
from dataclasses import dataclass

from ckt.sim.ngspice import IN_WORKER_ENV, SharedSession, run_in_process
from ckt.sim.result import ERROR, SimJob, SimResult

_PRELOAD = ["ckt.sim.worker", "PySpice.Spice.NgSpice.Shared"]
_SUBPROCESS_GRACE_S = 2.0


def context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context workers start from (forkserver with preloads, or spawn)."""
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:  # platforms without forkserver
        return multiprocessing.get_context("spawn")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere).

    A worker stuck in a hanging simulation never reads the closed pipe of a parent that was
    itself killed; without this it would spin on as an orphan.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def worker_main(conn: multiprocessing.connection.Connection, workdir: str) -> None:
    """Entry point of a worker process: load libngspice, then serve jobs until told to stop."""
    # Own process group: killing the worker's group also kills any ngspice -b it started.
    os.setsid()
    _die_with_parent()
    os.environ[IN_WORKER_ENV] = "1"
    # Ctrl-C reaches the whole process group; the parent decides what happens to workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.chdir(workdir)
    init_error = ""
    session: SharedSession | None = None
    try:
        session = SharedSession.get()
    except Exception as exc:  # noqa: BLE001 — reported to the parent, which fails shared jobs with it
        init_error = f"libngspice could not be loaded: {type(exc).__name__}: {exc}"
    try:
        conn.send(("ready", os.getpid(), init_error))
        while True:
            message = conn.recv()
            if message is None:
                break
            job_id, job = message
            result, cacheable = _serve(job, session, init_error)
            alive = session is None or session.alive
            conn.send((job_id, result, cacheable, alive))
            if not alive:
                break  # ngspice exited: this library instance is unusable
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        conn.close()
    os._exit(0)  # skip interpreter teardown: libngspice's atexit handlers can be slow or crash


def _serve(job: SimJob, session: SharedSession | None, init_error: str) -> tuple[SimResult, bool]:
    """Run one job; the flag says whether the result depends only on the job (cacheable)."""
    if job.backend == "shared" and session is None:
        return SimResult(status=ERROR, message=init_error), False
    start = time.perf_counter()
    try:
        return run_in_process(job), True
    except Exception as exc:  # noqa: BLE001 — a bug here must cost one job, not the worker
        message = f"simulation worker failed: {type(exc).__name__}: {exc}"
        log = traceback.format_exc()
        return SimResult(status=ERROR, message=message, log=log, elapsed_s=time.perf_counter() - start), False


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


@dataclass
class Assignment:
    """The job a worker holds: its index in the caller's batch, the job, when it must finish."""

    index: int
    job: SimJob
    started: float
    deadline: float


class WorkerProcess:
    """Parent-side handle of one worker process and its private pipe."""

    def __init__(self, ctx: multiprocessing.context.BaseContext) -> None:
        self.workdir = tempfile.mkdtemp(prefix="ckt-sim-worker-")
        # Removes the scratch directory on kill(), or at interpreter exit for a pool never closed.
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.workdir, ignore_errors=True)
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, self.workdir), daemon=True)
        with _main_hidden():
            self.process.start()
        child.close()
        self.ready = False
        self.pid: int | None = self.process.pid
        self.assignment: Assignment | None = None
        self.runs = 0
        self.closed = False

    @property
    def idle(self) -> bool:
        return self.ready and self.assignment is None

    def send(self, index: int, job: SimJob) -> None:
        now = time.monotonic()
        # ngspice -b enforces its own limit inside the worker (and reports the partial log);
        # the parent steps in only if that fails.
        grace = _SUBPROCESS_GRACE_S if job.backend == "subprocess" else 0.0
        self.assignment = Assignment(index, job, now, now + job.timeout_s + grace)
        self.conn.send((index, job))

    def rss_bytes(self) -> int | None:
        """The worker's resident set size from ``/proc`` (Linux), ``None`` elsewhere."""
        try:
            with open(f"/proc/{self.pid}/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return None

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
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # no such group: it never got to setsid
            pass
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()
        self.process.close()
        self._cleanup()
