"""What a simulation is asked to do (``SimJob``) and what comes back (``SimResult``).

Both are plain frozen dataclasses so they pickle cheaply across worker pipes and Ray, and so a
result can be cached and compared. Describing a job is separate from running it: backends and
executors take ``SimJob`` and return ``SimResult``, never raise for a failed simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from ckt.errors import ConvergenceError, SimulationError, SimulationTimeout


class Status(StrEnum):
    """How a simulation ended. Members are strings (``Status.OK == "ok"``), so they go to JSON,
    SQLite and log lines as their plain value."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    NONCONVERGENCE = "nonconvergence"
    PARTIAL = "partial"  # a testbench's check decks failed: only their own metrics are missing


BACKENDS = ("shared", "subprocess")


@dataclass(frozen=True)
class SimResult:
    """The outcome of one deck.

    Attributes:
        status: how it ended; a plain string is accepted and turned into its ``Status``.
        measurements: every ``.meas`` name in the deck, lower-case, mapped to its value, or to
            ``None`` when ngspice reported that measurement failed (or never got to it).
        vectors: plot name as ngspice names it (``"ac1"``, ``"op1"``, ``"tran1"``...) -> vector
            name lower-case (``"frequency"``, ``"v(out)"``, ``"i(vdd)"``) -> array (complex for
            AC). Empty unless the job asked for vectors.
        log: ngspice's stdout/stderr chatter, in the order it was printed.
        elapsed_s: wall-clock seconds spent on the simulation.
        message: why it failed (ngspice's own error lines), empty when ``ok``.
    """

    status: Status
    measurements: dict[str, float | None] = field(default_factory=dict)
    vectors: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    log: str = ""
    elapsed_s: float = 0.0
    message: str = ""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "status", Status(self.status))
        except ValueError:
            raise ValueError(f"unknown simulation status {self.status!r}; expected one of "
                             f"{[s.value for s in Status]}") from None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def raise_for_status(self, netlist: str | None = None) -> SimResult:
        """Return ``self`` when ok, else raise the matching ``ckt.errors`` exception with the log.

        Args:
            netlist: the deck text, attached to the exception for the caller's diagnostics.
        """
        if self.status is Status.OK:
            return self
        message = self.message or f"simulation ended with status {self.status}"
        cls = {Status.TIMEOUT: SimulationTimeout, Status.NONCONVERGENCE: ConvergenceError}.get(
            self.status, SimulationError)
        raise cls(message, netlist=netlist, log=self.log)


@dataclass(frozen=True)
class SimJob:
    """One deck to simulate and how.

    Attributes:
        deck: full deck text, title line first and ``.end`` last; includes should use absolute
            paths (workers do not run in the caller's directory).
        vectors: return the analysis vectors as well as the measurements.
        timeout_s: hard wall-clock limit; past it the worker is killed and the status is
            ``Status.TIMEOUT``.
        backend: ``"shared"`` (libngspice inside a worker process) or ``"subprocess"``
            (``ngspice -b``, for decks the shared library cannot run).
        files: model files the deck reads; they enter the cache key and are shipped to Ray
            workers. Files named by ``.include``/``.lib`` lines, and those their own include
            lines name (``ckt.sim.decktext.include_closure``), are added automatically.
        trusted: the user's explicit opt-in to run the deck's control commands unchecked
            (``ckt.sim.deckpolicy``); never the default, and it travels with the job to every worker.
        source: the file the deck was prepared from, named in policy refusals (the deck's own
            line numbers are those of ``deck``).
        reuse: let the shared backend run the deck on the circuit it kept from the previous job
            when the two decks differ only in top-level ``.param`` values (``alterparam`` +
            ``reset``, ``ckt.sim.backends.reuse``): measurements and vectors are bit-identical to a
            fresh load's, at a fraction of its cost on large model libraries. ``False`` always
            loads afresh and keeps nothing.
    """

    deck: str
    vectors: bool = False
    timeout_s: float = 60.0
    backend: str = "shared"
    files: tuple[str, ...] = ()
    trusted: bool = False
    source: str | None = None
    reuse: bool = True

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown simulation backend {self.backend!r}; expected one of {BACKENDS}")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {self.timeout_s}")
        if not isinstance(self.files, tuple):
            object.__setattr__(self, "files", tuple(self.files))
