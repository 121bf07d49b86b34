"""The libngspice backend: ngspice's shared library inside this process, one deck at a time.

libngspice keeps global state and is not thread-safe, so a process holds at most one
``SharedSession``; callers reach it through worker processes (``ckt.sim.worker``) or Ray actors,
which replace the process when a deck makes ngspice exit.

PySpice 1.5 treats every stderr line as an error and warns about ngspice 39 being "unsupported";
``SharedSession`` keeps PySpice's library loading and FFI declarations but replaces its output
callbacks and command wrappers, so model-card chatter lands in the log instead of an exception.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ckt.errors import SimulatorNotFoundError
from ckt.sim.backends.bins import GEOMETRY_COMMAND, BinnedLibrary, read_geometry, script_keeps_circuit, seeds_random
from ckt.sim.backends.locate import LIBNGSPICE_ENV, fix_for, libngspice_candidates
from ckt.sim.backends.reuse import LoadedDeck, file_stamps, loaded_deck, param_changes
from ckt.sim.backends.vectors import scale_to_real, vector_key
from ckt.sim.decktext import has_control_block, include_closure, without_control
from ckt.sim.log import read_log
from ckt.sim.result import SimJob, SimResult, Status

# ngspice's OpenMP thread count for device evaluation, in every backend (see SharedSession).
NUM_THREADS = 1


class _QuietVersionWarning(logging.Filter):
    """Drops PySpice's "Unsupported Ngspice version" warning for ngspice > 34: the version only
    picks PySpice's vector-type table, which ckt does not use (see ``vector_key``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Unsupported Ngspice version" not in record.getMessage()


class SharedSession:
    """The process's one libngspice instance, run one deck at a time.

    Use ``SharedSession.get()``; it loads the library on first use. After a deck makes ngspice
    exit (``quit``, a fatal error), the library is unusable: ``alive`` turns false and the
    owning worker process must be replaced. After a clean run the circuit stays loaded, so a next
    deck that differs from it only in ``.param`` values runs on it (``alterparam`` + ``reset``)
    instead of being loaded from text; a failed run, a reset that fails, a ``.control`` deck and an
    unexpected circuit count all fall back to a fresh load. One circuit only: ngspice 39 keeps the
    deck that ``reset`` rebuilds from in one global, the last one loaded, so after another load
    ``reset`` would rebuild the wrong circuit (see ``ckt.sim.backends.reuse``).
    """

    _instance: SharedSession | None = None
    _failure: SimulatorNotFoundError | None = None
    # ngspice keeps every command in its control structures; freeing them now and then keeps
    # memory flat (PySpice does the same every 10,000 commands).
    _RELEASE_EVERY = 1000
    # Model libraries whose binned cards a session remembers (a sizing run uses one).
    _LIBRARIES = 8

    @classmethod
    def get(cls, library: str | None = None) -> SharedSession:
        """The process's session, loading libngspice on first use.

        Args:
            library: the library file to load (default: ``$CKT_LIBNGSPICE``, else the system's);
                only the first call's choice counts.

        Raises:
            SimulatorNotFoundError: PySpice or libngspice cannot be loaded.
        """
        if cls._failure is not None:
            raise cls._failure  # loading is not retried: the environment has not changed
        if cls._instance is None:
            try:
                cls._instance = cls(library)
            except SimulatorNotFoundError as exc:
                cls._failure = exc
                raise
        return cls._instance

    def __init__(self, library: str | None = None) -> None:
        try:
            from PySpice.Spice.NgSpice import Shared
        except ImportError as exc:
            raise SimulatorNotFoundError("PySpice", str(exc), "pip install PySpice==1.5") from None

        self._ffi = Shared.ffi
        self._lines: list[str] = []
        self._exit_status: tuple[int, bool] | None = None
        self._runs = 0
        self._run_error = ""
        # Between jobs: the deck of the one circuit ngspice keeps for the next job, if any. During a
        # job: whether ngspice holds the job's circuit, and what to keep if its run is clean.
        self._loaded: LoadedDeck | None = None
        self._holding = False
        self._keep: LoadedDeck | None = None
        # Model files (by stat) -> what their binned cards' pruned copies keep; where copies go.
        self._libraries: dict[tuple[tuple[str, tuple[int, int, int] | None], ...], BinnedLibrary] = {}
        self._bins_root: str | None = None
        lines = self._lines
        ffi = self._ffi
        session = self

        class _Library(Shared.NgSpiceShared):
            # PySpice registers these staticmethods as the C callbacks; overriding them keeps
            # ngspice's output as data instead of PySpice's error flags and log records.
            @staticmethod
            def _send_char(message_c: Any, ngspice_id: Any, user_data: Any) -> int:
                text = ffi.string(message_c).decode("utf-8", "replace")
                prefix, _, content = text.partition(" ")
                lines.append(content if prefix in ("stdout", "stderr") else text)
                return 0

            @staticmethod
            def _send_stat(message: Any, ngspice_id: Any, user_data: Any) -> int:
                return 0

            @staticmethod
            def _exit(exit_status: Any, immediate_unloading: Any, quit_exit: Any, ngspice_id: Any,
                      user_data: Any) -> int:
                session._exit_status = (int(exit_status), bool(quit_exit))
                return int(exit_status)

            @staticmethod
            def _background_thread_running(is_running: Any, ngspice_id: Any, user_data: Any) -> int:
                return 0

            def _get_version(self) -> None:
                self._ngspice_version = None
                self._has_xspice = self._has_cider = False
                self._extensions: list[str] = []
                self._ngspice_shared.ngSpice_Command(b"version -f")
                for line in lines:
                    match = re.match(r"\*\* ngspice-(\d+)", line.strip())
                    if match:
                        self._ngspice_version = int(match.group(1))

        quiet = _QuietVersionWarning()
        Shared.NgSpiceShared._logger.addFilter(quiet)
        tried = []
        try:
            for candidate in libngspice_candidates(library):
                _Library.LIBRARY_PATH = candidate.replace("{", "{{").replace("}", "}}")
                _Library._instances = {}
                try:
                    self._library = _Library.new_instance()
                    break
                except OSError as exc:
                    tried.append(f"{candidate}: {exc}")
            else:
                raise SimulatorNotFoundError("libngspice", "cannot load the shared library (" + "; ".join(tried) + ")",
                                             fix_for(LIBNGSPICE_ENV))
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

    @property
    def loaded(self) -> LoadedDeck | None:
        """The deck of the circuit kept loaded for the next one, ``None`` when there is none."""
        return self._loaded

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
        """Run and read one deck, on the kept circuit when only ``.param`` values differ (``job.reuse``)."""
        start = time.perf_counter()
        self._lines.clear()
        if not self.alive:
            raise RuntimeError("libngspice has exited in this process; the worker must be replaced")
        self._run_error = ""
        self._holding, self._keep = False, None
        output = self._run_loaded(job.deck) if job.reuse and self._loaded is not None else None
        if output is None:
            output = self._run_fresh(job)
        failed = self._run_error
        if not self.alive:
            status, quit_exit = self._exit_status or (0, False)
            how = "quit" if quit_exit else f"exited with status {status}"
            failed = f"ngspice {how} while running the deck; its worker is replaced"
        reading = read_log(output, job.deck, failed=failed)
        vectors = self._vectors() if job.vectors and self.alive else {}
        if self.alive:
            # The circuit is kept only after a clean run: whatever else it is left in is not trusted.
            self._reset(restore_variables=has_control_block(job.deck), keep=reading.status is Status.OK and not failed)
        return SimResult(
            status=reading.status,
            measurements=reading.measurements,
            vectors=vectors,
            log="\n".join(output),
            elapsed_s=time.perf_counter() - start,
            message=reading.message,
        )

    def _run_fresh(self, job: SimJob) -> list[str]:
        """Load the job's deck as the only circuit and run it; the output lines.

        On a copy of its library cut down to the binned cards its devices use
        (``ckt.sim.backends.bins``) when their geometry is covered; else as written, after which
        the geometry is learnt for the next load.
        """
        if self._loaded is not None:
            self._command("remcirc")
            self._loaded = None
        library = self._binned(job) if job.reuse else None
        if library is not None:
            pruned = self._run_pruned(job, library) if library.keep else None
            if pruned is None and library.probing:
                points = self._probe(job, library)
                if points is not None and not library.covers(points):
                    library.grow(points)
                    pruned = self._run_pruned(job, library)
            if pruned is not None:
                return pruned
        self._lines.clear()
        if self._load(job.deck) != 0:
            self._run_error = "ngspice could not load the deck"
        elif self.alive and not has_control_block(job.deck) and self._command("run") != 0:
            self._run_error = "ngspice 'run' command failed"
        output = list(self._lines)
        if self.alive:
            count = self._circuit_count()
            if count == 1:
                self._holding = True
                self._keep = loaded_deck(job.deck, job.files) if job.reuse else None
                if library is not None and not self._run_error:
                    self._learn(library)
            else:  # a failed load makes none; a script may have made or removed some
                self._remove_circuits(count)
        return output

    def _run_pruned(self, job: SimJob, library: BinnedLibrary) -> list[str] | None:
        """Load and run the deck on its pruned library; ``None`` (nothing loaded) when the devices'
        geometry needs a card the copy dropped, or the copy does not load. A ``.control`` script
        runs as its deck loads, so its output counts only once the check after it passes."""
        output, count, points = self._load_for_geometry(library.deck(job.deck, os.getcwd()))
        if not self.alive:
            return output
        if points is None or not library.covers(points):
            self._remove_circuits(count)
            return None
        self._holding = True
        if has_control_block(job.deck):
            return output
        if self._command("run") != 0:
            self._run_error = "ngspice 'run' command failed"
        keep = loaded_deck(job.deck, job.files)
        self._keep = replace(keep, pruned=True) if keep is not None else None
        return output + self._lines

    def _probe(self, job: SimJob, library: BinnedLibrary) -> tuple[tuple[float, float], ...] | None:
        """The devices' binning geometry, read from the deck loaded on stub cards (no analysis
        runs: a ``.control`` script is left out); ``None``, and no more probing of this library,
        when that does not load."""
        _, count, points = self._load_for_geometry(library.probe_deck(without_control(job.deck), os.getcwd()))
        if not self.alive:
            return None
        self._remove_circuits(count)
        library.probing = points is not None
        return points

    def _load_for_geometry(self, deck: str) -> tuple[list[str], int, tuple[tuple[float, float], ...] | None]:
        """Load ``deck``: its output lines, the circuits ngspice then holds, and the devices'
        geometry when exactly its circuit loaded (after ngspice exits, only the output counts)."""
        self._lines.clear()
        loaded = self._load(deck) == 0
        output = list(self._lines)
        if not self.alive:
            return output, 0, None
        count = self._circuit_count()
        return output, count, self._geometry() if loaded and count == 1 else None

    def _remove_circuits(self, count: int) -> None:
        for _ in range(count):
            self._command("remcirc")
        self._lines.clear()

    def _binned(self, job: SimJob) -> BinnedLibrary | None:
        """The binned library of the job's model files, when pruning it can be exact."""
        if seeds_random(job.deck) or not script_keeps_circuit(job.deck):
            return None
        closure = include_closure(job.deck, job.files)
        key = file_stamps(m.path for m in closure)  # as a kept circuit's LoadedDeck.stamps
        if key not in self._libraries:
            if self._bins_root is None:
                self._bins_root = tempfile.mkdtemp(prefix="ckt-bins-")
                weakref.finalize(self, shutil.rmtree, self._bins_root, ignore_errors=True)
            try:  # latin-1 maps every byte to one character: the copies keep the files' bytes exactly
                texts = {m.path: Path(m.path).read_text(encoding="latin-1") for m in closure if m.exists}
            except OSError:
                return None  # an unreadable file: the deck as written says what ngspice makes of it
            while len(self._libraries) >= self._LIBRARIES:
                del self._libraries[next(iter(self._libraries))]
            self._libraries[key] = BinnedLibrary(texts, Path(self._bins_root))
        library = self._libraries[key]
        return library if library.usable else None

    def _learn(self, library: BinnedLibrary) -> None:
        """After a load of the full library, keep the cards its devices use. When they were kept
        already, the pruned copy failed for another reason: the library is never pruned again."""
        points = self._geometry()
        if points is None or (library.keep and library.covers(points)):
            library.keep, library.usable = frozenset(), False
        else:
            library.grow(points)

    def _geometry(self) -> tuple[tuple[float, float], ...] | None:
        """The binning geometry of the loaded circuit's MOSFETs (``ckt.sim.backends.bins``)."""
        self._lines.clear()
        self._command(GEOMETRY_COMMAND)
        points = read_geometry(self._lines)
        self._lines.clear()
        return points

    def _run_loaded(self, deck: str) -> list[str] | None:
        """Run ``deck`` on the kept circuit; ``None`` (the circuit still kept) when it cannot become it."""
        loaded = self._loaded
        changes = param_changes(loaded, deck) if loaded is not None else None
        if loaded is None or changes is None:
            return None
        library = self._libraries.get(loaded.stamps)
        if library is not None and not (library.usable and library.keep):
            library = None  # nothing to prune
        if library is not None and not loaded.pruned:
            return None  # the library's pruned copy loads and resets faster than this circuit
        self._lines.clear()
        if changes:
            for name, value in changes:
                self._command(f"alterparam {name}={value}")
            self._command("reset")
            if not self.alive or read_log(self._lines, "").status is not Status.OK:
                return None  # loaded afresh instead, so that its log is a fresh load's
            if library is not None:
                reset = list(self._lines)
                points = self._geometry()
                if points is None or not library.covers(points):
                    return None  # a device moved into a dropped bin: loaded afresh, its bin added
                self._lines.extend(reset)
            loaded = replace(loaded, lines=tuple(deck.splitlines()))
        self._loaded, self._holding, self._keep = None, True, loaded
        if self._command("run") != 0:
            self._run_error = "ngspice 'run' command failed"
        return list(self._lines)

    def _circuit_count(self) -> int:
        """How many circuits ngspice holds (its ``setcirc`` listing)."""
        self._lines.clear()
        self._command("setcirc")
        count = sum(1 for line in self._lines[1:] if re.match(r"^(?:current)?\s*\d+\t", line, re.IGNORECASE))
        self._lines.clear()
        return count

    def _variables(self) -> dict[str, str]:
        """The interpreter's variables (``set`` output), name -> value ('' for booleans)."""
        self._lines.clear()
        self._command("set")
        variables = {}
        for line in self._lines:
            if line.startswith(("*", "+")) or not line.strip():
                # starred entries describe the current plot, "+" ones the current circuit's options
                # (.temp, .options): ngspice maintains them, and unsetting one frees it twice
                continue
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

    def _reset(self, restore_variables: bool, keep: bool) -> None:
        """Clear the plots, and the job's circuit unless ``keep``; release memory every so often."""
        if restore_variables:
            self._restore_variables()
        if self._holding:
            if keep and self._keep is not None:
                self._loaded = self._keep
            else:
                self._command("remcirc")
        self._holding, self._keep = False, None
        self._command("destroy all")
        self._runs += 1
        if self._runs % self._RELEASE_EVERY == 0:
            self._api.ngSpice_Command(self._ffi.NULL)
            if self._circuit_count() != (self._loaded is not None):
                self._loaded = None  # not the state this session knows: start again from none
                self._remove_circuits(self._circuit_count())
        self._lines.clear()

    def _strings(self, array: Any) -> list[str]:
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
                info = self._api.ngGet_Vec_Info(f"{plot}.{name}".encode())
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


class SharedBackend:
    """The ``"shared"`` backend: this process's ``SharedSession``, loaded on the first job.

    Args:
        library: the libngspice file (default: ``$CKT_LIBNGSPICE``, else the system's).
    """

    name = "shared"

    def __init__(self, library: str | None = None) -> None:
        self.library = library

    def run(self, job: SimJob) -> SimResult:
        """Run ``job`` in libngspice; raises ``SimulatorNotFoundError`` when it cannot be loaded."""
        return SharedSession.get(self.library).run(job)

    @property
    def alive(self) -> bool:
        """False once ngspice has exited in this process (the process must then be replaced)."""
        session = SharedSession._instance
        return session is None or session.alive
