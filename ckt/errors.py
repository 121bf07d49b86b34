"""The exception and warning hierarchy every layer of ckt raises.

Users catch ``CktError`` (or a subclass) and filter ``CktWarning`` subclasses; the CLI turns any
``CktError`` into ``path:line: message`` and a non-zero exit.
"""

from __future__ import annotations

from collections.abc import Sequence


class CktError(Exception):
    """Root of every error ckt raises on purpose."""


class NetlistError(CktError):
    """An IR object was constructed in an inconsistent state (duplicate names, bad terminals...)."""


class NetlistParseError(CktError):
    """A netlist file could not be read; carries every diagnostic found, not just the first.

    Args:
        diagnostics: the error-level (and any preceding) diagnostics, each with file and line.
    """

    def __init__(self, diagnostics: list | tuple) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics) or "netlist could not be read")

    @property
    def file(self) -> str | None:
        return self.diagnostics[0].file if self.diagnostics else None

    @property
    def line(self) -> int | None:
        return self.diagnostics[0].line if self.diagnostics else None


class ExpressionError(CktError):
    """A parameter expression is malformed or refers to something undefined."""


class PdkError(CktError):
    """An unknown PDK name, or a PDK whose model files are missing."""


class SimulationError(CktError):
    """ngspice rejected or failed to run a deck; ``log`` holds what ngspice said."""

    def __init__(self, message: str, netlist: str | None = None, log: str = "") -> None:
        super().__init__(message)
        self.netlist = netlist
        self.log = log


class SimulationTimeout(SimulationError):
    """A simulation exceeded its wall-clock limit and its worker was replaced."""


class ConvergenceError(SimulationError):
    """ngspice ran but did not converge (operating point or time step)."""


class SimulatorNotFoundError(CktError):
    """ngspice (its shared library or its ``ngspice`` executable) cannot be loaded or started here.

    Raised at once, before any result, because every simulation would fail the same way.

    Args:
        component: what is missing (``"libngspice"`` or ``"ngspice"``).
        detail: what was tried and what went wrong.
        fix: how to install or point at it.
    """

    def __init__(self, component: str, detail: str, fix: str) -> None:
        super().__init__(f"{component} is not available: {detail}\n  fix: {fix}")
        self.component = component
        self.detail = detail
        self.fix = fix

    def __reduce__(self) -> tuple[type[SimulatorNotFoundError], tuple[str, str, str]]:
        # Crosses process boundaries (worker pipes, Ray) with its fields intact.
        return (type(self), (self.component, self.detail, self.fix))


class NotDecomposableError(NetlistError):
    """A netlist is not a circuit of the basis asked for; ``devices`` names the ones that do not fit."""

    def __init__(self, message: str, devices: Sequence[str] = ()) -> None:
        self.devices = tuple(devices)
        listed = f": {', '.join(self.devices)}" if self.devices else ""
        super().__init__(f"not decomposable{listed} ({message})")
        self.reason = message

    def __reduce__(self) -> tuple[type[NotDecomposableError], tuple[str, tuple[str, ...]]]:
        return (type(self), (self.reason, self.devices))


class MeasurementError(CktError):
    """A quantity cannot be measured on the given vectors; the message is the reason."""


class NoUnityGainError(MeasurementError):
    """A response never falls through unity gain within its sweep, so it has no unity-gain frequency."""


class SpecError(CktError):
    """A sizing spec file is malformed or inconsistent with its netlist."""


class CktWarning(UserWarning):
    """Root of every warning ckt emits."""


class NetlistWarning(CktWarning):
    """Something in a netlist was read but looks suspicious (unknown element, renamed duplicate...)."""


class DeckPolicyError(CktError):
    """A deck asks ngspice to do something the deck policy refuses (run a program, load code, write outside
    its run directory...): that one evaluation fails, the run goes on.

    Args:
        command: the refused command or directive, as the deck spells it in lower case (``shell``, ``.include``).
        file: the file holding the line (the top-level deck or an included file).
        line: the 1-based physical line where the refused statement starts.
        reason: why it is refused, in words a user can act on.
        refusals: every refusal found in the deck (this one first), for reports.
    """

    def __init__(self, command: str, file: str, line: int, reason: str, refusals: tuple | list = ()) -> None:
        self.command = command
        self.file = file
        self.line = line
        self.reason = reason
        self.refusals = tuple(refusals)
        more = len(self.refusals) - 1
        tail = f" (and {more} more refusal{'s' if more > 1 else ''})" if more > 0 else ""
        super().__init__(
            f"{file}:{line}: deck policy refuses `{command}`: {reason}{tail}; "
            "run decks you trust with --trust-deck (see docs/security.md)"
        )


class HistoryError(CktError):
    """A sizing run's output folder (``history.sqlite``, its lock) cannot be used as asked."""


class UnknownNameError(SpecError):
    """A target, objective or derived input that nothing measures (checked before any simulation).

    Attributes:
        missing: the names (with a note where they came from).
        known: the names the evaluator does provide.
    """

    def __init__(self, source: str, missing: Sequence[str], known: Sequence[str], what: str) -> None:
        self.missing = tuple(missing)
        self.known = tuple(known)
        listing = ", ".join(self.known) or "(none)"
        super().__init__(f"{source}: nothing measures {', '.join(self.missing)}; {what} provide: {listing}")


class RunLockedError(HistoryError):
    """Another live ``ckt size`` process owns the output folder."""

    def __init__(self, folder: str, pid: int) -> None:
        self.folder = folder
        self.pid = pid
        super().__init__(f"{folder}: another sizing run (pid {pid}) is writing to this folder; "
                         "wait for it, or choose another --out")


class HistoryMismatchError(HistoryError):
    """``--resume`` of a run whose spec, netlist, testbench, models or simulator changed."""


class EnvironmentFailure(SimulationError):
    """Every simulation of the first batch failed with the same message: the setup is broken
    (model file missing, simulator missing...), not the designs.

    Attributes:
        message: the shared failure message.
        n: how many simulations failed with it.
    """

    def __init__(self, message: str, n: int) -> None:
        self.message = message
        self.n = n
        super().__init__(f"all {n} simulations of the first batch failed with the same error, so the setup "
                         f"(not the designs) is at fault; stopping: {message}")


class DatasetError(CktError):
    """A dataset's source cannot be fetched or read, or its labels do not match its circuits."""


class UnsafePickleError(DatasetError):
    """A pickled data file names a global outside the allow-list it may use; nothing of it was run.

    Args:
        path: the file.
        names: the refused globals (``module.Qualname``), sorted.
    """

    def __init__(self, path: str, names: Sequence[str]) -> None:
        self.path = path
        self.names = tuple(names)
        super().__init__(f"{path}: refused: it needs global(s) outside the allow-list: {', '.join(self.names)} "
                         f"(nothing was loaded or run)")


class DatasetWarning(CktWarning):
    """A dataset was built, but some of its circuits were renamed, skipped or could not be read."""


class CheckpointError(CktError):
    """A model checkpoint that cannot be used here: not a ckt checkpoint, another schema version, or
    another model than the one asked for; the message names the reason."""


class ModelConfigError(CktError):
    """A model or training config names an unknown encoder, head or option, or an impossible size."""


class ExportError(CktError):
    """A circuit cannot be exported as a sizable op-amp DUT (a missing supply, input or output, or a
    device the export cannot size); the message names the part at fault."""


class TokenError(CktError):
    """A problem at one token of a generator sequence (the base of ``TokenizeError`` and ``GrammarError``).

    Attributes:
        position: index of the offending token in the sequence, None when the problem is not in one.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        self.message = message
        self.position = position
        super().__init__(f"token {position}: {message}" if position is not None else message)

    def __reduce__(self) -> tuple[type[TokenError], tuple[str, int | None]]:
        return (type(self), (self.message, self.position))  # survives pickling into worker processes


class TokenizeError(TokenError):
    """A circuit the generator's tokens cannot express (a device of no family, too many nets), or a token
    sequence that is not a well-formed circuit walk."""


class GrammarError(TokenError):
    """A token pushed that the generator's grammar does not allow there (only a bug reaches it)."""
