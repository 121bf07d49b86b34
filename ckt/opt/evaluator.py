"""Evaluators: what turns a batch of designs into measured values.

The sizing loop only knows the ``Evaluator`` protocol, so it is tested against analytic fakes and
run against ngspice with ``SimEvaluator``. Outcomes stream back as they complete, which lets the
loop commit each one to the history before the rest of the batch has finished.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Protocol, Sequence

OK = "ok"


@dataclass(frozen=True)
class Outcome:
    """What one evaluated design gave.

    Attributes:
        status: ``"ok"`` or why it failed (``"error"``, ``"timeout"``, ``"nonconvergence"``...).
        values: measurement and metric name -> value (finite floats only; a measurement that
            failed is absent, not NaN).
        seconds: wall-clock time the evaluation took.
        message: why it failed, empty when ok.
    """

    status: str
    values: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""

    def __post_init__(self) -> None:
        clean = {}
        for k, v in self.values.items():
            if v is None:
                continue
            v = float(v)
            if math.isfinite(v):
                clean[str(k)] = v
        object.__setattr__(self, "values", clean)

    @property
    def ok(self) -> bool:
        return self.status == OK


class Evaluator(Protocol):
    """Anything that evaluates designs given as ``{variable: SI value}`` dicts."""

    def evaluate(self, batch: Sequence[Mapping[str, float]]) -> Iterator[tuple[int, Outcome]]:
        """Yield ``(index in batch, outcome)`` as each design completes, in any order."""
        ...
