"""Making simulation workers die with the run that started them, however it ends.

A worker stuck in a long simulation never reads its job pipe, so a parent killed by SIGKILL or
SIGTERM would leave it spinning under PID 1. Two independent guards stop that: Linux's parent-death
signal (``PR_SET_PDEATHSIG``) on every worker, forkserver and ``ngspice -b`` child, and a watchdog
thread in each worker that kills the worker's process group when its lifeline pipe from the parent
reaches end of file (the parent is gone, on any platform with pipes).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection

_PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (Linux only), looked up once so a forked child only has to call it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the thread that started it exits (no-op elsewhere).

    Safe as a ``subprocess`` ``preexec_fn`` once called in the parent (the lookup is cached).
    """
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_prctl()


def watch(lifeline: Connection) -> threading.Thread:
    """Start a daemon thread that kills this process group once ``lifeline`` closes.

    The parent holds the only write end and never writes; end of file means it has exited.
    """

    def wait() -> None:
        try:
            lifeline.recv_bytes()
        except (EOFError, OSError):
            pass
        try:
            os.killpg(os.getpgrp(), signal.SIGKILL)  # the worker and any ngspice -b it started
        finally:
            os._exit(1)

    thread = threading.Thread(target=wait, name="ckt-lifeline", daemon=True)
    thread.start()
    return thread
