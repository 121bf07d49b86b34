"""Process, voltage and temperature (PVT) sweeps of a testbench, and worst-case aggregation.

A ``PVT`` point overrides a testbench's corner, temperature and supply; ``sweep`` runs every point's
decks in one executor batch (so a pool or a Ray cluster works on all of them at once) and
``worst_case`` folds the per-point ``MetricSet`` into one, taking each metric's worse value by the
direction in ``METRICS`` (``high`` is better: the minimum; ``low``: the maximum; ``abs_low``: the
largest magnitude, sign kept).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import product
from typing import Any

from ckt.sim.executor import Executor, default_executor
from ckt.sim.result import SimJob, Status
from ckt.sim.testbench.opamp import METRICS, MetricSet, OpAmpTestbench


@dataclass(frozen=True)
class PVT:
    """One operating condition; None leaves the testbench's own setting.

    Attributes:
        corner: PDK corner name (``tt``, ``ss``, ``typical``...).
        temp: temperature, Celsius.
        vdd: supply, volts (the common mode follows when the testbench uses the mid-supply default).
    """

    corner: str | None = None
    temp: float | None = None
    vdd: float | None = None

    def __str__(self) -> str:
        parts = [f"corner={self.corner}" if self.corner is not None else "",
                 f"temp={self.temp:g}C" if self.temp is not None else "",
                 f"vdd={self.vdd:g}V" if self.vdd is not None else ""]
        return " ".join(p for p in parts if p) or "nominal"

    def apply(self, tb: OpAmpTestbench) -> OpAmpTestbench:
        """``tb`` at this condition."""
        changes: dict[str, Any] = {}
        if self.corner is not None:
            changes["corner"] = self.corner
        if self.temp is not None:
            changes["temp"] = self.temp
        if self.vdd is not None:
            changes["vdd"] = self.vdd
        return replace(tb, **changes) if changes else tb


def grid(corners: Sequence[str | None] = (None,), temps: Sequence[float | None] = (None,),
         vdds: Sequence[float | None] = (None,)) -> list[PVT]:
    """Every combination of the given corners, temperatures and supplies."""
    return [PVT(c, t, v) for c, t, v in product(corners, temps, vdds)]


def sweep(tb: OpAmpTestbench, params: Mapping[str, float | str], pvts: Sequence[PVT],
          executor: Executor | None = None) -> list[tuple[PVT, MetricSet]]:
    """Measure ``tb`` with ``params`` at every PVT point, all decks in one executor batch.

    Args:
        executor: a ``ckt.sim.Executor``; the module's default local pool when None.
    """
    benches = [p.apply(tb) for p in pvts]
    jobs: list[SimJob] = []
    spans: list[tuple[int, int]] = []
    for bench in benches:
        js = bench.jobs(params)
        spans.append((len(jobs), len(jobs) + len(js)))
        jobs.extend(js)
    if executor is None:
        executor = default_executor()
    results = executor.map(jobs)
    return [(p, bench.metrics(results[a:b])) for p, bench, (a, b) in zip(pvts, benches, spans)]


def worst_case(points: Sequence[tuple[PVT, MetricSet]]) -> MetricSet:
    """One ``MetricSet`` holding each metric's worst value over ``points``.

    A metric missing at any point is missing in the result, with that point and its reason; the
    status is the first failed simulation status, else ``partial`` when anything is missing.
    """
    if not points:
        raise ValueError("worst_case needs at least one PVT point")
    names = list(dict.fromkeys(n for _, ms in points for n in (*ms.values, *ms.missing)))
    values: dict[str, float] = {}
    missing: dict[str, str] = {}
    messages: dict[str, str] = {}
    for name in names:
        where = [(p, ms) for p, ms in points if name in ms.missing]
        if where:
            p, ms = where[0]
            missing[name] = f"at {p}: {ms.missing[name]}"
            continue
        seen = [ms.values[name] for _, ms in points if name in ms.values]
        better = METRICS[name].better if name in METRICS else "high"
        if better == "high":
            values[name] = min(seen)
        elif better == "low":
            values[name] = max(seen)
        else:
            values[name] = max(seen, key=abs)
    for p, ms in points:
        messages.update({f"{deck} at {p}": m for deck, m in ms.messages.items()})
    failed = [ms.status for _, ms in points if ms.failed]
    status = failed[0] if failed else (Status.PARTIAL if missing else Status.OK)
    return MetricSet(values=values, missing=missing, status=status, messages=messages)
