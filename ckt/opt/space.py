"""The search space: sizing variables and their map to and from the unit cube.

Every optimiser in ``ckt.opt`` works in ``[0, 1]^d``; real units appear only when a design is handed
to the simulator. ``Space`` owns that map, including log scaling (capacitors and currents spanning
decades) and stepped variables (finger counts, multipliers), which are snapped to their grid on
decode so that two proposals that round to the same design are recognised as one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ckt.errors import SpecError


@dataclass(frozen=True, slots=True)
class Variable:
    """One sizing variable (the name of a ``.param`` in the netlist).

    Attributes:
        name: parameter name as written in the netlist.
        lo: smallest allowed value (SI units).
        hi: largest allowed value (SI units).
        step: grid spacing in SI units (``1`` for integers); values are ``lo + k*step``.
        log: search uniformly in ``log(value)`` instead of ``value`` (needs ``lo > 0``).
    """

    name: str
    lo: float
    hi: float
    step: float | None = None
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or not self.lo < self.hi:
            raise SpecError(f"variable {self.name}: need finite min < max, got min={self.lo} max={self.hi}")
        if self.log and self.lo <= 0:
            raise SpecError(f"variable {self.name}: scale: log needs min > 0, got min={self.lo}")
        if self.step is not None and not (self.step > 0 and self.step <= self.hi - self.lo):
            raise SpecError(f"variable {self.name}: step must be > 0 and <= max - min, got {self.step}")

    def to_unit(self, value: float) -> float:
        """Map an SI value into ``[0, 1]`` (values outside the bounds are clipped)."""
        v = min(max(float(value), self.lo), self.hi)
        if self.log:
            return (math.log(v) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        return (v - self.lo) / (self.hi - self.lo)

    def from_unit(self, u: float) -> float:
        """Map ``u`` in ``[0, 1]`` to an SI value, snapped to the step grid when there is one."""
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            v = math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))
        else:
            v = self.lo + u * (self.hi - self.lo)
        if self.step is not None:
            k = round((v - self.lo) / self.step)
            v = self.lo + k * self.step
            if v > self.hi + 1e-12 * abs(self.hi):
                v -= self.step
            # Printing-friendly: remove the float noise that ``lo + k*step`` accumulates.
            v = float(f"{v:.12g}")
        return min(max(v, self.lo), self.hi)


class Space:
    """An ordered set of variables; points are ``numpy`` arrays of shape `(d,)` or `(n, d)` in the unit cube."""

    def __init__(self, variables: Sequence[Variable]) -> None:
        if not variables:
            raise SpecError("the search space needs at least one variable")
        names = [v.name for v in variables]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise SpecError(f"duplicate variable name(s): {', '.join(sorted(dup))}")
        self.variables: tuple[Variable, ...] = tuple(variables)

    @property
    def dim(self) -> int:
        return len(self.variables)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    def to_unit(self, params: Mapping[str, float]) -> np.ndarray:
        """The unit-cube point `(d,)` of a design given in SI units."""
        missing = [v.name for v in self.variables if v.name not in params]
        if missing:
            raise SpecError(f"design lacks variable(s): {', '.join(missing)}")
        return np.array([v.to_unit(params[v.name]) for v in self.variables], dtype=np.float64)

    def from_unit(self, u: np.ndarray) -> dict[str, float]:
        """The design in SI units (stepped variables snapped) of a unit-cube point `(d,)`."""
        u = np.asarray(u, dtype=np.float64).reshape(-1)
        if u.shape[0] != self.dim:
            raise ValueError(f"expected a point of dimension {self.dim}, got {u.shape[0]}")
        return {v.name: v.from_unit(x) for v, x in zip(self.variables, u)}

    def round_trip(self, u: np.ndarray) -> np.ndarray:
        """Snap unit points `(d,)` or `(n, d)` to what will really be simulated (clip + step grid).

        Vectorised, because candidate sets of thousands of points are snapped every iteration.
        """
        arr = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        flat = np.atleast_2d(arr).copy()
        for j, v in enumerate(self.variables):
            if v.step is None:
                continue
            col = flat[:, j]
            if v.log:
                real = np.exp(np.log(v.lo) + col * (np.log(v.hi) - np.log(v.lo)))
            else:
                real = v.lo + col * (v.hi - v.lo)
            k = np.floor((v.hi - v.lo) / v.step + 1e-9)
            real = v.lo + np.clip(np.round((real - v.lo) / v.step), 0, k) * v.step
            if v.log:
                flat[:, j] = (np.log(real) - np.log(v.lo)) / (np.log(v.hi) - np.log(v.lo))
            else:
                flat[:, j] = (real - v.lo) / (v.hi - v.lo)
        return np.clip(flat, 0.0, 1.0).reshape(arr.shape)

    def key(self, params: Mapping[str, float]) -> tuple[float, ...]:
        """The design key: one hashable identity per design, equal for designs that simulate
        identically (10 significant digits per variable, in variable order). The loop, the history
        replay, warm starts and the methods all use it (the methods through ``unit_key``)."""
        return tuple(float(f"{float(params[n]):.10g}") for n in self.names)

    def unit_key(self, x: np.ndarray) -> tuple[float, ...]:
        """The design key of a unit-cube point (snapped to the grid first)."""
        return self.key(self.from_unit(self.round_trip(x)))

    def contains(self, params: Mapping[str, float]) -> bool:
        """Whether a design sets every variable within its bounds (earlier runs may have used wider ones)."""
        for v in self.variables:
            x = params.get(v.name)
            if x is None or not math.isfinite(x) or not (v.lo - 1e-12 * abs(v.lo) <= x <= v.hi + 1e-12 * abs(v.hi)):
                return False
        return True
