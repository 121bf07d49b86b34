"""Reading what ngspice prints: a status, the failure message and the deck's ``.meas`` values.

Both backends hand their output lines here, so a deck gets the same status and measurements
whether libngspice or ``ngspice -b`` ran it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ckt.sim.decktext import meas_names
from ckt.sim.result import Status

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

    status: Status
    message: str
    measurements: dict[str, float | None]


def read_log(lines: Sequence[str], deck: str, *, failed: str = "") -> LogReading:
    """Classify ngspice's output and pull out the deck's ``.meas`` values.

    Args:
        lines: ngspice's output lines, without PySpice's ``stdout``/``stderr`` prefixes.
        deck: the deck that produced them (for the ``.meas`` names).
        failed: a failure the caller saw outside the log (a non-zero return code...).
    """
    values: dict[str, float | None] = dict.fromkeys(meas_names(deck))
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
        return LogReading(Status.OK, "", values)
    if not converge:
        converge = any(_CONVERGENCE_RE.search(line) for line in lines)
    message = "\n".join(list(dict.fromkeys(errors))[:_MAX_MESSAGE_LINES])  # ngspice repeats some errors
    return LogReading(Status.NONCONVERGENCE if converge else Status.ERROR, message, values)
