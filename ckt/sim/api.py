"""``simulate``: one deck, one result, for scripts and notebooks.

It runs in the module's default one-worker ``LocalExecutor`` (started on first use, closed at
interpreter exit), so a hang or a crash in ngspice costs the call, not the caller; inside a worker
(where a nested pool would be wasteful) it runs in-process.
"""

from __future__ import annotations

import threading

from ckt.sim.backends import NgspiceRunner
from ckt.sim.executor import default_executor
from ckt.sim.result import SimJob, SimResult
from ckt.sim.worker import in_worker

_DEFAULT_LOCK = threading.Lock()


def simulate(deck: str, *, vectors: bool = False, timeout_s: float = 60.0, backend: str = "shared",
             trusted: bool = False) -> SimResult:
    """Simulate one deck and return its result; a failed simulation is a result, not an exception.

    Args:
        deck: full deck text, title line first, ``.end`` last.
        vectors: also return the analysis vectors.
        timeout_s: hard wall-clock limit.
        backend: ``"shared"`` (libngspice) or ``"subprocess"`` (``ngspice -b``).
        trusted: run the deck's control commands unchecked (``ckt.sim.deckpolicy``); only for
            decks the user trusts.

    Raises:
        SimulatorNotFoundError: ngspice (the library or the executable the backend needs) is
            missing; the message says how to install it.
    """
    job = SimJob(deck=deck, vectors=vectors, timeout_s=timeout_s, backend=backend, trusted=trusted)
    if in_worker():
        return NgspiceRunner().run(job)
    with _DEFAULT_LOCK:  # executors are driven from one thread at a time
        return default_executor().map([job])[0]
