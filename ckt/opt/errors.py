"""Errors a sizing run raises on purpose, each a ``ckt.errors`` subclass so the CLI prints one line.

They live beside the loop because only sizing raises them; each carries the data a caller needs
to react (the names that exist, the owning pid, the shared failure message).
"""

from __future__ import annotations

from typing import Sequence

from ckt.errors import CktError, SpecError


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


class RunLockedError(CktError):
    """Another live ``ckt size`` process owns the output folder."""

    def __init__(self, folder: str, pid: int) -> None:
        self.folder = folder
        self.pid = pid
        super().__init__(f"{folder}: another sizing run (pid {pid}) is writing to this folder; "
                         "wait for it, or choose another --out")


class HistoryMismatchError(CktError):
    """``--resume`` of a run whose spec, netlist, testbench, models or simulator changed."""


class EnvironmentFailure(CktError):
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
