"""The ways ckt runs ngspice, behind one interface, and what a machine has of them.

A ``Backend`` turns one ``SimJob`` into one ``SimResult`` in the calling process: ``"shared"``
(libngspice, ``ckt.sim.backends.shared``) or ``"subprocess"`` (``ngspice -b``,
``ckt.sim.backends.batch``). ``NgspiceRunner`` picks the one a job names; it is the job runner
that worker processes and Ray actors hold. A backend that cannot find its simulator raises
``SimulatorNotFoundError``: that is the environment, not the deck, and no job can succeed.
Every job passes the deck policy (``ckt.sim.deckpolicy``) here, in the process that runs ngspice, so
no backend and no executor (local pool, Ray actor, in-process) can skip it.
``probe`` reports what is installed (for ``ckt doctor``) without running a deck.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import subprocess
from dataclasses import dataclass
from typing import Protocol

from ckt.errors import DeckPolicyError, SimulatorNotFoundError
from ckt.sim.backends.batch import SubprocessBackend
from ckt.sim.backends.locate import LIBNGSPICE_ENV, NGSPICE_ENV, fix_for, libngspice_candidates, ngspice_binary
from ckt.sim.backends.reuse import file_stamps, policy_skeleton, unchanged
from ckt.sim.backends.shared import SharedBackend, SharedSession
from ckt.sim.deckpolicy import check_deck
from ckt.sim.result import SimJob, SimResult, Status

__all__ = ["Backend", "Component", "JobRunner", "NgspiceRunner", "ngspice_version", "probe"]

_CLEAN_VERDICTS = 64
"""Clean deck-policy verdicts a runner remembers (one per deck skeleton: a sizing run has a few)."""


class Backend(Protocol):
    """Runs one job in this process."""

    def run(self, job: SimJob) -> SimResult:
        """The job's result; a failed simulation is a result, a missing simulator an exception."""
        ...

    @property
    def alive(self) -> bool:
        """Whether this process can run another job (false after ngspice exited in it)."""
        ...


class JobRunner(Backend, Protocol):
    """A backend that a worker slot holds for its whole life."""

    def start(self) -> None:
        """Prepare in the slot's process before the first job (load libraries); never raises."""
        ...


class NgspiceRunner:
    """The job runner of worker processes and Ray actors: the backend each job names.

    Where ngspice is gets fixed when the runner is made, in the caller's process (workers start
    from a server that does not see later changes to the caller's environment). libngspice is
    loaded at ``start`` so the first job does not pay for it; when it cannot be loaded, only jobs
    that need it raise (a ``"subprocess"`` job still runs).

    Args:
        executable: the ngspice executable (default: ``$CKT_NGSPICE``, else ``ngspice`` on ``PATH``).
        library: the libngspice file (default: ``$CKT_LIBNGSPICE``, else the system's).
    """

    def __init__(self, *, executable: str | None = None, library: str | None = None) -> None:
        self.executable = executable or os.environ.get(NGSPICE_ENV) or None
        self.library = library or os.environ.get(LIBNGSPICE_ENV) or None
        self._backends: dict[str, Backend] = {}
        self._clean: dict[tuple[str, str, str], tuple[tuple[str, tuple[int, int, int] | None], ...]] = {}

    def __getstate__(self) -> dict[str, object]:
        return {"executable": self.executable, "library": self.library, "_backends": {}, "_clean": {}}

    def start(self) -> None:
        self._backends = {"shared": SharedBackend(self.library),
                          "subprocess": SubprocessBackend(scratch=os.getcwd(), executable=self.executable)}
        try:
            SharedSession.get(self.library)
        except SimulatorNotFoundError:
            pass  # remembered by SharedSession; raised by the first shared job

    def run(self, job: SimJob) -> SimResult:
        """The job's result; a deck the policy refuses is a failed result naming the command."""
        if not self._backends:
            self.start()
        try:
            self._check(job)
        except DeckPolicyError as exc:
            return SimResult(status=Status.ERROR, message=str(exc))
        return self._backends[job.backend].run(job)

    def _check(self, job: SimJob) -> None:
        """Apply the deck policy; raises ``DeckPolicyError`` on a refusal.

        Scanning a PDK's model files costs more than a simulation (half a second for sky130), so a
        clean verdict is remembered for the deck's ``policy_skeleton`` (the policy never reads
        ``.param`` values) while none of the files it scanned has changed; a refusal is never
        remembered, and every job is checked.
        """
        source = f"<deck prepared from {job.source}>" if job.source else "<deck>"
        run_dir = os.getcwd()
        if job.trusted:
            check_deck(job.deck, source=source, run_dir=run_dir, trusted=True).raise_if_refused()
            return
        key = (policy_skeleton(job.deck), source, run_dir)
        stamps = self._clean.get(key)
        if stamps is not None and unchanged(stamps):
            return
        check = check_deck(job.deck, source=source, run_dir=run_dir)
        check.raise_if_refused()
        if len(self._clean) >= _CLEAN_VERDICTS:
            self._clean.pop(next(iter(self._clean)))
        self._clean[key] = file_stamps(check.files[1:])  # files[0] is the deck's own label

    @property
    def alive(self) -> bool:
        return all(backend.alive for backend in self._backends.values())


@dataclass(frozen=True)
class Component:
    """One thing a simulation needs, as ``probe`` found it.

    Attributes:
        name: ``"ngspice"`` (the executable) or ``"libngspice"`` (the shared library).
        found: whether it is usable.
        detail: the version or path when found, what went wrong otherwise.
        fix: how to install it or point ckt at it ('' when found).
    """

    name: str
    found: bool
    detail: str
    fix: str


@functools.cache
def _binary_version(exe: str) -> str | None:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"ngspice-(\S+)", out)
    return match.group(1) if match else "unknown"


def ngspice_version() -> str:
    """The ngspice executable's version string (part of every cache key), ``"unknown"`` if none."""
    exe = ngspice_binary()
    return (_binary_version(exe) if exe else None) or "unknown"


def probe(*, executable: str | None = None, library: str | None = None) -> list[Component]:
    """What this machine has for simulating: the ngspice executable and the libngspice library.

    Loads the library with ``ctypes`` to check it (no ngspice session is started) and runs
    ``ngspice --version``; never raises.

    Args:
        executable: check this executable instead of ``$CKT_NGSPICE`` / ``PATH``.
        library: check this library instead of ``$CKT_LIBNGSPICE`` / the system's.
    """
    exe = ngspice_binary(executable)
    version = _binary_version(exe) if exe else None
    if exe is None:
        binary = Component("ngspice", False, "no ngspice executable on PATH", fix_for(NGSPICE_ENV))
    elif version is None:
        binary = Component("ngspice", False, f"{exe} cannot be run", fix_for(NGSPICE_ENV))
    else:
        binary = Component("ngspice", True, f"ngspice {version} at {exe}", "")
    tried = []
    for candidate in libngspice_candidates(library):
        try:
            ctypes.CDLL(candidate)
        except OSError as exc:
            tried.append(f"{candidate}: {exc}")
        else:
            return [binary, Component("libngspice", True, candidate, "")]
    return [binary, Component("libngspice", False, "cannot load the shared library (" + "; ".join(tried) + ")",
                              fix_for(LIBNGSPICE_ENV))]
