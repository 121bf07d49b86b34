"""libngspice inside this process, and reading what ngspice says.

This module owns the one thing ngspice-specific that every backend shares: turning ngspice's
chatter into a status, a message and ``.meas`` values (``read_log``), plus the in-process
shared-library session (``SharedSession``) a worker process holds, and the ``simulate``
convenience function. libngspice keeps global state and is not thread-safe, so a process holds
at most one ``SharedSession``; callers reach it through worker processes (``ckt.sim.executor``).

PySpice 1.5 treats every stderr line as an error and warns about ngspice 39 being "unsupported";
``SharedSession`` keeps PySpice's library loading and FFI declarations but replaces its output
callbacks and command wrappers, so model-card chatter lands in the log instead of an exception.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ckt.sim.result import ERROR, NONCONVERGENCE, OK, SimJob, SimResult


# --------------------------------------------------------------------------------------------
# Reading decks
# --------------------------------------------------------------------------------------------

_MEAS_RE = re.compile(r"^\s*\.?meas(?:ure)?\s+\S+\s+([^\s=]+)", re.IGNORECASE)
_INCLUDE_RE = re.compile(r"""^\s*\.(?:include|inc|lib)\s+(?:"([^"]+)"|'([^']+)'|(\S+))""", re.IGNORECASE)
_CONTROL_RE = re.compile(r"^\s*\.control\b", re.IGNORECASE)


def _logical_lines(deck: str) -> list[str]:
    """Deck lines with ``+`` continuations joined and comment lines dropped (title kept)."""
    lines: list[str] = []
    for raw in deck.splitlines():
        stripped = raw.strip()
        if stripped.startswith("+") and lines:
            lines[-1] += " " + stripped[1:]
        elif stripped.startswith("*"):
            continue
        else:
            lines.append(raw)
    return lines


def meas_names(deck: str) -> list[str]:
    """Lower-case names of every ``.meas`` statement (and ``meas`` command in ``.control``)."""
    names: list[str] = []
    for line in _logical_lines(deck)[1:]:
        match = _MEAS_RE.match(line)
        if match and match.group(1).lower() not in names:
            names.append(match.group(1).lower())
    return names


def include_paths(deck: str) -> list[str]:
    """Files named by ``.include``/``.inc``/``.lib`` lines, in deck order, as written."""
    paths: list[str] = []
    for line in _logical_lines(deck)[1:]:
        match = _INCLUDE_RE.match(line)
        if match:
            path = next(g for g in match.groups() if g)
            if path not in paths:
                paths.append(path)
    return paths


def has_control_block(deck: str) -> bool:
    """Whether the deck runs its own ``.control`` script (so no implicit ``run`` is wanted)."""
    return any(_CONTROL_RE.match(line) for line in deck.splitlines())


# --------------------------------------------------------------------------------------------
# Reading ngspice's output
# --------------------------------------------------------------------------------------------

# A failure ngspice announces; anything else on stderr (BSIM parameter checks, "unrecognized
# parameter", "Warning: ...") is chatter.
_FAILURE_RE = re.compile(
    r"^(error\b|.*\bcircuit not parsed|.*run simulation\(s\) aborted|doanalyses:|.*there aren't any circuits loaded"
    r"|.*simulation interrupted|.*fatal)",
    re.IGNORECASE,
)
# Among failures, the ones that mean the circuit did not converge rather than a broken deck.
_CONVERGENCE_RE = re.compile(
    r"timestep too small|no convergence|singular matrix|gmin stepping failed|source stepping failed"
    r"|dc solution failed|transient op failed|iteration limit reached|too many iterations",
    re.IGNORECASE,
)
_MEAS_FAILED_RE = re.compile(r"^\s*\.?meas(?:ure)?\b.*\bfailed!?\s*$", re.IGNORECASE)
_MEAS_VALUE_RE = re.compile(r"^\s*([^\s=]+)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")
_MAX_MESSAGE_LINES = 12


@dataclass(frozen=True)
class LogReading:
    """What a run's output says: status, failure message and ``.meas`` values."""

    status: str
    message: str
    measurements: dict[str, float | None]


def read_log(lines: Sequence[str], deck: str, *, failed: str = "") -> LogReading:
    """Classify ngspice's output and pull out the deck's ``.meas`` values.

    Args:
        lines: ngspice's output lines, without PySpice's ``stdout``/``stderr`` prefixes.
        deck: the deck that produced them (for the ``.meas`` names).
        failed: a failure the caller saw outside the log (a non-zero return code...).
    """
    names = meas_names(deck)
    values: dict[str, float | None] = dict.fromkeys(names)
    errors: list[str] = []
    converge = False
    for i, line in enumerate(lines):
        text = line.strip()
        match = _MEAS_VALUE_RE.match(text)
        if match and match.group(1).lower() in values:
            values[match.group(1).lower()] = float(match.group(2))
            continue
        if not _FAILURE_RE.match(text):
            continue
        # "Error: no such vector" right before ".meas ... failed!" is that measurement's failure,
        # reported as a None value, not a failed simulation.
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _MEAS_FAILED_RE.match(following):
            continue
        errors.append(text)
        converge = converge or bool(_CONVERGENCE_RE.search(text))
    if failed:
        errors.append(failed)
    if not errors:
        return LogReading(OK, "", values)
    if not converge:
        converge = any(_CONVERGENCE_RE.search(line) for line in lines)
    message = "\n".join(list(dict.fromkeys(errors))[:_MAX_MESSAGE_LINES])  # ngspice repeats some errors
    return LogReading(NONCONVERGENCE if converge else ERROR, message, values)


# ngspice's vector types (``enum simulation_types`` in ngspice's sim.h).
_SV_VOLTAGE = 3
_SV_CURRENT = 4


def vector_key(name: str, vector_type: int) -> str:
    """The name a vector is returned under: ``v(node)``, ``i(source)``, or ngspice's own."""
    name = name.lower()
    if name.endswith("#branch"):
        return f"i({name[: -len('#branch')]})"
    plain = not any(c in name for c in "()@[]#") and not name.endswith("-sweep")
    if vector_type == _SV_VOLTAGE and plain:
        return f"v({name})"
    return name


def scale_to_real(name: str, array: np.ndarray) -> np.ndarray:
    """AC plots store their ``frequency`` scale as complex with zero imaginary part; return it real."""
    if name == "frequency" and np.iscomplexobj(array) and not np.any(array.imag):
        return array.real.copy()
    return array


@functools.cache
def ngspice_version() -> str:
    """The installed ngspice's version string (part of every cache key), ``"unknown"`` if none."""
    exe = shutil.which("ngspice")
    if exe is None:
        return "unknown"
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    match = re.search(r"ngspice-(\S+)", out)
    return match.group(1) if match else "unknown"


# ngspice's OpenMP thread count for device evaluation, in every backend (see SharedSession).
NUM_THREADS = 1

# --------------------------------------------------------------------------------------------
# libngspice in this process
# --------------------------------------------------------------------------------------------


class _QuietVersionWarning(logging.Filter):
    """Drops PySpice's "Unsupported Ngspice version" warning for ngspice > 34: the version only
    picks PySpice's vector-type table, which ckt does not use (see ``vector_key``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Unsupported Ngspice version" not in record.getMessage()


class SharedSession:
    """The process's one libngspice instance, run one deck at a time.

    Use ``SharedSession.get()``; it loads the library on first use. After a deck makes ngspice
    exit (``quit``, a fatal error), the library is unusable: ``alive`` turns false and the
    owning worker process must be replaced.
    """

    _instance: SharedSession | None = None
    # ngspice keeps every command in its control structures; freeing them now and then keeps
    # memory flat (PySpice does the same every 10,000 commands).
    _RELEASE_EVERY = 1000

    @classmethod
    def get(cls) -> SharedSession:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __init__(self) -> None:
        from PySpice.Spice.NgSpice import Shared

        self._ffi = Shared.ffi
        self._lines: list[str] = []
        self._exit_status: tuple[int, bool] | None = None
        self._runs = 0
        lines = self._lines
        ffi = self._ffi
        session = self

        class _Library(Shared.NgSpiceShared):
            # PySpice registers these staticmethods as the C callbacks; overriding them keeps
            # ngspice's output as data instead of PySpice's error flags and log records.
            @staticmethod
            def _send_char(message_c, ngspice_id, user_data):  # noqa: ANN001, ANN205
                text = ffi.string(message_c).decode("utf-8", "replace")
                prefix, _, content = text.partition(" ")
                lines.append(content if prefix in ("stdout", "stderr") else text)
                return 0

            @staticmethod
            def _send_stat(message, ngspice_id, user_data):  # noqa: ANN001, ANN205
                return 0

            @staticmethod
            def _exit(exit_status, immediate_unloading, quit_exit, ngspice_id, user_data):  # noqa: ANN001, ANN205
                session._exit_status = (int(exit_status), bool(quit_exit))
                return int(exit_status)

            @staticmethod
            def _background_thread_running(is_running, ngspice_id, user_data):  # noqa: ANN001, ANN205
                return 0

            def _get_version(self) -> None:
                self._ngspice_version = None
                self._has_xspice = self._has_cider = False
                self._extensions = []
                self._ngspice_shared.ngSpice_Command(b"version -f")
                for line in lines:
                    match = re.match(r"\*\* ngspice-(\d+)", line.strip())
                    if match:
                        self._ngspice_version = int(match.group(1))

        quiet = _QuietVersionWarning()
        Shared.NgSpiceShared._logger.addFilter(quiet)
        try:
            self._library = _Library.new_instance()
        finally:
            Shared.NgSpiceShared._logger.removeFilter(quiet)
        self._api = self._library._ngspice_shared
        self.version = self._library.ngspice_version
        # Parallelism comes from worker processes. ngspice's OpenMP device loading (2 threads by
        # default in Debian's build) makes BSIM evaluation 10x slower on a busy machine: the
        # threads spin in libgomp waiting for each other.
        self._command(f"set num_threads={NUM_THREADS}")
        self._baseline = self._variables()

    @property
    def alive(self) -> bool:
        return self._exit_status is None

    def _command(self, command: str) -> int:
        return int(self._library._ngspice_shared.ngSpice_Command(command.encode("utf-8")))

    def _load(self, deck: str) -> int:
        ffi = self._ffi
        lines = [line for line in deck.splitlines() if line.strip()]
        if not any(line.strip().lower() == ".end" for line in lines[1:]):
            lines.append(".end")  # ngspice -b reads to end of file; ngSpice_Circ silently drops the deck
        keep = [ffi.new("char[]", line.encode("utf-8")) for line in lines]
        keep.append(ffi.new("char[]", b""))  # ngspice >= 33 wants an empty last line
        array = ffi.new("char *[]", [*keep, ffi.NULL])
        return int(self._api.ngSpice_Circ(array))

    def run(self, job: SimJob) -> SimResult:
        """Load, run and read one deck, then clear the circuit and its plots."""
        start = time.perf_counter()
        self._lines.clear()
        if not self.alive:
            raise RuntimeError("libngspice has exited in this process; the worker must be replaced")
        failed = ""
        if self._load(job.deck) != 0:
            failed = "ngspice could not load the deck"
        elif self.alive and not has_control_block(job.deck) and self._command("run") != 0:
            failed = "ngspice 'run' command failed"
        if not self.alive:
            status, quit_exit = self._exit_status or (0, False)
            how = "quit" if quit_exit else f"exited with status {status}"
            failed = f"ngspice {how} while running the deck; its worker is replaced"
        output = list(self._lines)
        reading = read_log(output, job.deck, failed=failed)
        vectors = self._vectors() if job.vectors and self.alive else {}
        if self.alive:
            self._reset(restore_variables=has_control_block(job.deck))
        return SimResult(
            status=reading.status,
            measurements=reading.measurements,
            vectors=vectors,
            log="\n".join(output),
            elapsed_s=time.perf_counter() - start,
            message=reading.message,
        )

    def _variables(self) -> dict[str, str]:
        """The interpreter's variables (``set`` output), name -> value ('' for booleans)."""
        self._lines.clear()
        self._command("set")
        variables = {}
        for line in self._lines:
            if line.startswith("*") or not line.strip():
                continue  # starred entries describe the current plot; ngspice maintains them
            name, _, value = line.strip().partition("\t")
            variables[name] = value.strip()
        self._lines.clear()
        return variables

    def _restore_variables(self) -> None:
        """Undo ``set``/``unset`` done by a deck's ``.control`` block, so no deck sees another's."""
        current = self._variables()
        for name in current.keys() - self._baseline.keys():
            self._command(f"unset {name}")
        for name, value in self._baseline.items():
            if current.get(name) != value:
                self._command(f"set {name} = {value}" if value else f"set {name}")

    def _reset(self, restore_variables: bool) -> None:
        if restore_variables:
            self._restore_variables()
        self._command("remcirc")
        self._command("destroy all")
        self._runs += 1
        if self._runs % self._RELEASE_EVERY == 0:
            self._api.ngSpice_Command(self._ffi.NULL)
        self._lines.clear()

    def _strings(self, array) -> list[str]:  # noqa: ANN001
        ffi = self._ffi
        out: list[str] = []
        if array == ffi.NULL:
            return out
        i = 0
        while array[i] != ffi.NULL:
            out.append(ffi.string(array[i]).decode("utf-8", "replace"))
            i += 1
        return out

    def _vectors(self) -> dict[str, dict[str, np.ndarray]]:
        ffi = self._ffi
        plots: dict[str, dict[str, np.ndarray]] = {}
        for plot in self._strings(self._api.ngSpice_AllPlots()):
            if plot == "const":
                continue
            vectors: dict[str, np.ndarray] = {}
            for name in self._strings(self._api.ngSpice_AllVecs(plot.encode("utf-8"))):
                info = self._api.ngGet_Vec_Info(f"{plot}.{name}".encode("utf-8"))
                if info == ffi.NULL:
                    continue
                n = int(info.v_length)
                if info.v_compdata != ffi.NULL:
                    raw = np.frombuffer(ffi.buffer(info.v_compdata, n * 16), dtype=np.float64)
                    array = raw[0::2] + 1j * raw[1::2]
                elif info.v_realdata != ffi.NULL:
                    array = np.frombuffer(ffi.buffer(info.v_realdata, n * 8), dtype=np.float64).copy()
                else:
                    continue
                key = vector_key(name, int(info.v_type))
                vectors[key] = scale_to_real(key, array)
            plots[plot.lower()] = vectors
        return plots


def run_in_process(job: SimJob) -> SimResult:
    """Run a job in this process with the backend it names (no timeout, no isolation)."""
    if job.backend == "subprocess":
        from ckt.sim.subprocess_backend import run_subprocess

        return run_subprocess(job)
    try:
        session = SharedSession.get()
    except (OSError, ImportError) as exc:
        return SimResult(status=ERROR, message=f"libngspice could not be loaded: {exc}")
    return session.run(job)


# --------------------------------------------------------------------------------------------
# One-shot convenience
# --------------------------------------------------------------------------------------------

IN_WORKER_ENV = "CKT_SIM_WORKER"


def in_worker() -> bool:
    """Whether this process is a ckt simulation worker (where running in-process is safe)."""
    return os.environ.get(IN_WORKER_ENV) == "1"


def simulate(deck: str, *, vectors: bool = False, timeout_s: float = 60.0, backend: str = "shared") -> SimResult:
    """Simulate one deck and return its result; never raises for a failed simulation.

    Outside a worker the deck runs in the module's default one-worker ``LocalExecutor`` (started
    on first use, closed at interpreter exit), so a hang or a crash in ngspice costs this call,
    not the caller. Inside a worker it runs in-process.

    Args:
        deck: full deck text, title line first, ``.end`` last.
        vectors: also return the analysis vectors.
        timeout_s: hard wall-clock limit.
        backend: ``"shared"`` (libngspice) or ``"subprocess"`` (``ngspice -b``).
    """
    job = SimJob(deck=deck, vectors=vectors, timeout_s=timeout_s, backend=backend)
    if in_worker():
        return run_in_process(job)
    from ckt.sim.executor import default_executor

    with _DEFAULT_LOCK:  # executors are driven from one thread at a time
        return default_executor().map([job])[0]


_DEFAULT_LOCK = threading.Lock()
