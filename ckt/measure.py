"""Measurements on simulated vectors: pure numpy, no simulator, never NaN.

This module owns the arithmetic that turns AC, DC, transient and noise vectors into figures of merit.
Every function either returns a finite float or raises ``MeasurementError`` whose message says why
the quantity does not exist (no 0 dB crossing, output never settles, non-finite samples...), so a
caller can record the reason instead of propagating NaN.

Conventions (see ``docs/metrics.md`` for the full definitions):

* Frequency-domain crossings are interpolated linearly in ``log10(f)`` against dB (or degrees), which
  is exact for a single pole's asymptote and keeps 100-points-per-decade sweeps within ~1e-4 of the
  closed form.
* Phase is always ``np.unwrap`` of the complex angle, so a response whose ``vp()`` wraps past -180°
  (three poles and more) still yields the right phase margin. Phase margin is measured relative to the
  DC phase: ``PM = 180° + φ(f_u) - φ_DC``, where ``φ_DC`` is the phase at the lowest simulated frequency
  rounded to the nearest multiple of 180° (the DC value of a real transfer function is real: 0° or
  ±180°). This is correct for inverting and non-inverting amplifiers alike and does not count the lag
  already accumulated at a sweep start above DC.
* A margin is only reported when it describes the loop (``loop_check``): the measured phase must not
  lead the minimum-phase phase that Bode's gain-phase relation derives from the magnitude (a lead is
  the signature of a right-half-plane open-loop pole, which makes a single-crossing margin lie), the
  gain must cross 0 dB once, and the magnitude must not peak near the crossover.
* Step responses (``step_response``) are judged on the whole window: overshoot, settling into a band,
  ringing, and whether the tail still oscillates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ckt.errors import MeasurementError

HALF_POWER_DB = 20.0 * math.log10(math.sqrt(0.5))
"""-3.0103 dB: the half-power level that defines the -3 dB bandwidth and the swing limit."""


def _finite(name: str, *arrays: np.ndarray) -> None:
    for a in arrays:
        if not np.all(np.isfinite(a)):
            raise MeasurementError(f"{name}: vectors hold non-finite samples")


def _as_xy(x: ArrayLike, y: ArrayLike, name: str, *, complex_ok: bool = False) -> tuple[np.ndarray, np.ndarray]:
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y).ravel()
    if not complex_ok:
        if np.iscomplexobj(ya):
            raise MeasurementError(f"{name}: expects a real vector")
        ya = ya.astype(float)
    if xa.shape != ya.shape:
        raise MeasurementError(f"{name}: x has {xa.size} samples but y has {ya.size}")
    if xa.size < 2:
        raise MeasurementError(f"{name}: needs at least two samples, got {xa.size}")
    _finite(name, xa, ya)
    return xa, ya


def db(h: ArrayLike) -> np.ndarray:
    """Magnitude in dB, ``20 log10 |h|``; a zero sample raises instead of giving -inf."""
    mag = np.abs(np.asarray(h))
    if np.any(mag == 0.0):
        raise MeasurementError("magnitude is exactly zero at some frequency (-inf dB)")
    return 20.0 * np.log10(mag)


def phase_deg(h: ArrayLike) -> np.ndarray:
    """Unwrapped phase in degrees: continuous across ±180°, starting in (-180°, 180°]."""
    return np.degrees(np.unwrap(np.angle(np.asarray(h, dtype=complex))))


def crossing(
    x: ArrayLike, y: ArrayLike, level: float, *,
    direction: str = "any", log_x: bool = False, after: float | None = None,
) -> float:
    """The first ``x`` where ``y`` crosses ``level``, linearly interpolated.

    Args:
        x: abscissa `(n,)`, monotonic.
        y: ordinate `(n,)`, real.
        level: the value to cross.
        direction: ``"rising"``, ``"falling"`` or ``"any"``.
        log_x: interpolate in ``log10(x)`` (frequency axes); ``x`` must then be positive.
        after: only consider samples with ``x >= after``.

    Raises:
        MeasurementError: when there is no such crossing.
    """
    if direction not in ("rising", "falling", "any"):
        raise ValueError(f"direction must be rising, falling or any, not {direction!r}")
    xa, ya = _as_xy(x, y, "crossing")
    if after is not None:
        keep = xa >= after
        xa, ya = xa[keep], ya[keep]
        if xa.size < 2:
            raise MeasurementError(f"crossing: fewer than two samples after x={after:g}")
    if log_x:
        if np.any(xa <= 0):
            raise MeasurementError("crossing: log interpolation needs positive x")
        xi = np.log10(xa)
    else:
        xi = xa
    d = ya - level
    below, above = d[:-1], d[1:]
    rising = (below < 0) & (above >= 0)
    falling = (below > 0) & (above <= 0)
    hit = {"rising": rising, "falling": falling, "any": rising | falling}[direction]
    if d[0] == 0 and direction == "any":
        return float(xa[0])
    idx = np.flatnonzero(hit)
    if idx.size == 0:
        raise MeasurementError(f"{_describe(ya)} never crosses {level:g} ({direction})")
    i = int(idx[0])
    frac = d[i] / (d[i] - d[i + 1])
    xc = xi[i] + frac * (xi[i + 1] - xi[i])
    return float(10.0**xc if log_x else xc)


def _describe(y: np.ndarray) -> str:
    return f"signal (range {float(np.min(y)):.4g} .. {float(np.max(y)):.4g})"


def dc_gain_db(freq: ArrayLike, h: ArrayLike) -> float:
    """Low-frequency gain in dB: ``|h|`` at the lowest simulated frequency."""
    f, hc = _as_xy(freq, h, "dc_gain_db", complex_ok=True)
    return float(db(hc[np.argmin(f)]))


def unity_gain_frequency(freq: ArrayLike, h: ArrayLike) -> float:
    """First frequency where ``|h|`` falls through 0 dB (Hz), log-interpolated.

    Raises:
        MeasurementError: the gain starts below 0 dB, or never falls to 0 dB within the sweep.
    """
    f, hc = _as_xy(freq, h, "unity_gain_frequency", complex_ok=True)
    mag = db(hc)
    if mag[0] <= 0.0:
        raise MeasurementError(f"gain at {f[0]:g} Hz is {mag[0]:.3g} dB, below unity: no 0 dB crossing")
    try:
        return crossing(f, mag, 0.0, direction="falling", log_x=True)
    except MeasurementError:
        raise MeasurementError(f"gain stays above 0 dB up to {f[-1]:g} Hz (min {mag.min():.3g} dB)") from None


def _interp_log(f: np.ndarray, y: np.ndarray, at: float) -> float:
    return float(np.interp(math.log10(at), np.log10(f), y))


def phase_margin(freq: ArrayLike, h: ArrayLike, ugf: float | None = None) -> float:
    """Phase margin in degrees: ``180 + φ(f_u) - φ_DC`` on the unwrapped phase.

    ``φ_DC`` is the unwrapped phase at the lowest frequency rounded to a multiple of 180°, so inverting and
    non-inverting loops are treated alike and a ``vp()`` that wraps past ±180° does not fool the result.
    Negative when the loop is unstable.

    Args:
        freq: frequencies `(n,)` in Hz, ascending.
        h: complex loop (open-loop) response `(n,)`.
        ugf: the unity-gain frequency when already known; found with ``unity_gain_frequency`` otherwise.
    """
    f, hc = _as_xy(freq, h, "phase_margin", complex_ok=True)
    fu = unity_gain_frequency(f, hc) if ugf is None else ugf
    ph = phase_deg(hc)
    return 180.0 + _interp_log(f, ph, fu) - dc_phase_deg(ph[0])


def dc_phase_deg(phase_at_f0: float) -> float:
    """The DC phase implied by the phase at the sweep start: the nearest multiple of 180°."""
    return 180.0 * round(float(phase_at_f0) / 180.0)


def gain_margin_db(freq: ArrayLike, h: ArrayLike) -> float:
    """Gain margin in dB: ``-|h|`` (dB) where the unwrapped phase has turned 180° from its low-frequency value."""
    f, hc = _as_xy(freq, h, "gain_margin_db", complex_ok=True)
    ph = phase_deg(hc)
    ph = ph - dc_phase_deg(ph[0])
    try:
        f180 = crossing(f, ph, -180.0, direction="falling", log_x=True)
    except MeasurementError:
        raise MeasurementError(f"phase never turns by -180° up to {f[-1]:g} Hz") from None
    return -_interp_log(f, db(hc), f180)


def bandwidth_3db(freq: ArrayLike, h: ArrayLike) -> float:
    """-3 dB bandwidth (Hz): where ``|h|`` first falls 3.0103 dB below its low-frequency value."""
    f, hc = _as_xy(freq, h, "bandwidth_3db", complex_ok=True)
    mag = db(hc)
    try:
        return crossing(f, mag, mag[0] + HALF_POWER_DB, direction="falling", log_x=True)
    except MeasurementError:
        raise MeasurementError(f"gain does not drop by 3 dB up to {f[-1]:g} Hz") from None


def gain_bandwidth(freq: ArrayLike, h: ArrayLike) -> float:
    """Gain-bandwidth product (Hz): low-frequency gain (V/V) times the -3 dB bandwidth."""
    f, hc = _as_xy(freq, h, "gain_bandwidth", complex_ok=True)
    return float(abs(hc[0])) * bandwidth_3db(f, hc)


def slew_rate(
    t: ArrayLike, v: ArrayLike, *,
    lo: float = 0.1, hi: float = 0.9, initial: float | None = None, final: float | None = None,
) -> float:
    """Slew rate (V/s, positive for rising and falling edges) between the 10% and 90% points of a step.

    The levels are fractions of the swing from ``initial`` (default: first sample) to ``final`` (default:
    last sample); a slew-limited ramp of slope S gives exactly S, a first-order response of time constant
    τ gives ``0.8 ΔV / (τ ln 9)``.
    """
    ta, va = _as_xy(t, v, "slew_rate")
    v0 = float(va[0]) if initial is None else initial
    v1 = float(va[-1]) if final is None else final
    swing = v1 - v0
    if swing == 0.0:
        raise MeasurementError("the output does not move: no edge to measure")
    direction = "rising" if swing > 0 else "falling"
    t_lo = crossing(ta, va, v0 + lo * swing, direction=direction)
    t_hi = crossing(ta, va, v0 + hi * swing, direction=direction, after=t_lo)
    if t_hi <= t_lo:
        raise MeasurementError("the edge is faster than the time step: slew rate not resolved")
    return abs((hi - lo) * swing) / (t_hi - t_lo)


def settling_time(
    t: ArrayLike, v: ArrayLike, *,
    t0: float, tol: float = 0.01, initial: float | None = None, final: float | None = None,
) -> float:
    """Time after ``t0`` until the output stays within ``tol`` of the step (s).

    The band is ``±tol·|final - initial|`` around ``final``; ``initial`` defaults to the value at ``t0`` and
    ``final`` to the last sample. The exit from the band is interpolated between samples, so a first-order
    response gives ``τ ln(1/tol)``.

    Raises:
        MeasurementError: the output is still outside the band at the last sample.
    """
    if not 0.0 < tol < 1.0:
        raise ValueError(f"tol must lie in (0, 1), got {tol}")
    ta, va = _as_xy(t, v, "settling_time")
    keep = ta >= t0
    ta, va = ta[keep], va[keep]
    if ta.size < 2:
        raise MeasurementError(f"settling_time: fewer than two samples after t0={t0:g}")
    v0 = float(va[0]) if initial is None else initial
    v1 = float(va[-1]) if final is None else final
    band = tol * abs(v1 - v0)
    if band == 0.0:
        raise MeasurementError("the output does not move: no step to settle")
    err = np.abs(va - v1) - band
    outside = np.flatnonzero(err > 0)
    if outside.size == 0:
        return 0.0
    i = int(outside[-1])
    if i == ta.size - 1:
        raise MeasurementError(f"output is still outside the ±{tol:g} band at t={ta[-1]:g} s")
    frac = err[i] / (err[i] - err[i + 1])
    return float(ta[i] + frac * (ta[i + 1] - ta[i]) - t0)


def incremental_gain(x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """``dy/dx`` on a sweep, by central differences (one-sided at the ends)."""
    xa, ya = _as_xy(x, y, "incremental_gain")
    return np.gradient(ya, xa)


def output_swing(
    vsweep: ArrayLike, vout: ArrayLike, vdiff: ArrayLike, *, drop_db: float = -HALF_POWER_DB,
) -> tuple[float, float]:
    """Output range ``(low, high)`` over which the open-loop incremental gain stays within ``drop_db`` of its peak.

    The amplifier is swept in closed loop (any configuration); ``vdiff = v(inp) - v(inn)`` is recorded at each
    point, so the open-loop gain is ``A = (dvout/dvsweep) / (dvdiff/dvsweep)`` without the input offset ever
    mattering. The region is the contiguous run of sweep points around the gain peak where
    ``|A| >= |A|max · 10^(-drop_db/20)``; its ends are interpolated in ``vout``.

    Raises:
        MeasurementError: the gain never drops by ``drop_db`` on one side (the sweep did not reach a limit).
    """
    xs, yo = _as_xy(vsweep, vout, "output_swing")
    _, yd = _as_xy(vsweep, vdiff, "output_swing")
    dvout = np.gradient(yo, xs)
    dvd = np.gradient(yd, xs)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.abs(dvout) / np.abs(dvd)  # inf where vdiff did not move: gain beyond resolution
    finite = np.isfinite(gain)
    if not finite.any():
        raise MeasurementError("the differential input never moves: open-loop gain not resolved")
    peak_i = int(np.argmax(np.where(finite, gain, -1.0)))
    limit = gain[peak_i] * 10.0 ** (-drop_db / 20.0)
    ok = gain >= limit

    def edge(step: int) -> float:
        i = peak_i
        while 0 <= i + step < gain.size and ok[i + step]:
            i += step
        j = i + step
        if not 0 <= j < gain.size:
            side = "end" if step > 0 else "start"
            raise MeasurementError(
                f"open-loop gain does not drop by {drop_db:.3g} dB before the sweep {side} "
                f"(output {yo[i]:.4g} V): swing not limited by the amplifier"
            )
        frac = (gain[i] - limit) / (gain[i] - gain[j]) if math.isfinite(gain[i]) else 0.0
        return float(yo[i] + frac * (yo[j] - yo[i]))

    a, b = edge(-1), edge(+1)
    return (min(a, b), max(a, b))


def _snap(x: float, grid: np.ndarray, rel: float = 1e-9) -> float:
    """``x`` moved onto the first or last grid point when it misses it only by rounding."""
    for end in (float(grid[0]), float(grid[-1])):
        if abs(x - end) <= rel * abs(end):
            return end
    return x


def spot_noise(freq: ArrayLike, density: ArrayLike, at: float) -> float:
    """Noise density at frequency ``at`` (same unit as ``density``), interpolated log-log."""
    f, d = _as_xy(freq, density, "spot_noise")
    at = _snap(at, f)
    if not f[0] <= at <= f[-1]:
        raise MeasurementError(f"spot frequency {at:g} Hz lies outside the noise sweep {f[0]:g}..{f[-1]:g} Hz")
    if np.any(d <= 0):
        raise MeasurementError("noise density has non-positive samples")
    return float(10.0 ** _interp_log(f, np.log10(d), at))


def integrated_noise(freq: ArrayLike, density: ArrayLike, f_lo: float, f_hi: float) -> float:
    """RMS noise over ``[f_lo, f_hi]``: ``sqrt(∫ density² df)`` by the trapezoid rule (unit: density·√Hz)."""
    f, d = _as_xy(freq, density, "integrated_noise")
    f_lo, f_hi = _snap(f_lo, f), _snap(f_hi, f)
    if not (f[0] <= f_lo < f_hi <= f[-1]):
        raise MeasurementError(f"band {f_lo:g}..{f_hi:g} Hz is not inside the noise sweep {f[0]:g}..{f[-1]:g} Hz")
    inside = (f > f_lo) & (f < f_hi)
    fs = np.concatenate(([f_lo], f[inside], [f_hi]))
    psd = np.concatenate(([spot_noise(f, d, f_lo) ** 2], d[inside] ** 2, [spot_noise(f, d, f_hi) ** 2]))
    return float(math.sqrt(np.trapezoid(psd, fs)))


# ---- loop stability --------------------------------------------------------------------------------

LEAD_TOL_DEG = 30.0
"""Phase lead over the minimum-phase phase beyond which the loop is taken to have a right-half-plane pole
(one RHP pole leads by ``2·atan(f/p)``: 30° at a quarter of its frequency; LHP zeros and poles never lead)."""
PEAK_TOL_DB = 3.0
"""Magnitude rise above its running minimum, within a decade of the crossover, that makes a margin suspect."""
CHECK_FLOOR_DB = -40.0
"""The lead test only looks where ``|H|`` is above this level (below it the loop cannot matter and the
simulator's numerical floor would dominate the phase)."""
_EXTEND_DECADES = 6.0
_GRID_PER_DECADE = 200


def minimum_phase_deg(freq: ArrayLike, h: ArrayLike) -> np.ndarray:
    """The phase (degrees) a minimum-phase response with ``|h|`` would have, by Bode's gain-phase relation.

    ``φ(u0) = (1/π) ∫ dln|H|/du · ln coth(|u - u0|/2) du`` with ``u = ln ω``; the magnitude slope is taken
    per sweep segment and held constant for six decades beyond either end. A measured phase that leads
    this curve cannot come from left-half-plane poles and zeros (those are minimum phase): it needs a
    right-half-plane pole. Accurate to about a degree on 100-points-per-decade sweeps.
    """
    f, hc = _as_xy(freq, h, "minimum_phase_deg", complex_ok=True)
    if np.any(f <= 0) or np.any(np.diff(f) <= 0):
        raise MeasurementError("minimum_phase_deg: frequencies must be positive and ascending")
    mag = np.abs(hc)
    if np.any(mag == 0):
        raise MeasurementError("minimum_phase_deg: magnitude is exactly zero at some frequency")
    u, g = np.log(f), np.log(mag)
    slope = np.diff(g) / np.diff(u)
    du = math.log(10.0) / _GRID_PER_DECADE
    ext = _EXTEND_DECADES * math.log(10.0)
    nodes = np.arange(u[0] - ext, u[-1] + ext + du, du)
    mids = nodes[:-1] + du / 2
    seg = np.clip(np.searchsorted(u, mids, side="right") - 1, 0, slope.size - 1)
    s_mid = slope[seg]
    j0 = np.rint((u - nodes[0]) / du).astype(int)
    offsets = (np.arange(mids.size)[None, :] - j0[:, None] + 0.5) * du
    kernel = np.log(1.0 / np.tanh(np.abs(offsets) / 2.0))
    return np.degrees(du / math.pi * (kernel @ s_mid))


@dataclass(frozen=True)
class LoopCheck:
    """Whether a margin read off a loop response means what a designer means by it.

    Attributes:
        crossings: every 0 dB crossing of ``|H|`` (Hz), falling or rising, in order.
        lead_deg: the largest lead of the measured (unwrapped, DC-referenced) phase over the
            minimum-phase phase, where ``|H|`` is above ``CHECK_FLOOR_DB``; ``lead_hz`` where it occurs.
        phase_rise_deg: the largest rise of the phase above its running minimum within a decade of the
            first crossing (a rising phase needs a zero or a right-half-plane pole).
        peaking_db: the largest rise of ``|H|`` above its running minimum, up to a decade past the first
            crossing.
        problems: why a margin on this response would not be meaningful; empty when it is.
    """

    crossings: tuple[float, ...]
    lead_deg: float
    lead_hz: float
    phase_rise_deg: float
    peaking_db: float
    problems: tuple[str, ...]

    @property
    def meaningful(self) -> bool:
        return not self.problems


def _all_crossings(f: np.ndarray, mag_db: np.ndarray) -> tuple[float, ...]:
    sign = mag_db > 0
    idx = np.flatnonzero(sign[:-1] != sign[1:])
    lf = np.log10(f)
    out = []
    for i in idx:
        frac = mag_db[i] / (mag_db[i] - mag_db[i + 1])
        out.append(float(10.0 ** (lf[i] + frac * (lf[i + 1] - lf[i]))))
    return tuple(out)


def _rise(y: np.ndarray) -> float:
    """Largest rise of ``y`` above its running minimum (0 for a non-increasing ``y``)."""
    return float(np.max(y - np.minimum.accumulate(y))) if y.size else 0.0


def loop_check(
    freq: ArrayLike, h: ArrayLike, *, lead_tol_deg: float = LEAD_TOL_DEG, peak_tol_db: float = PEAK_TOL_DB,
) -> LoopCheck:
    """Test a loop (open-loop) response for what makes a phase or gain margin lie.

    Three findings make a margin not meaningful: a phase lead over the minimum-phase phase of more than
    ``lead_tol_deg`` (a right-half-plane open-loop pole: the measured phase rises where the magnitude
    says it must fall, and a margin read at the crossing comes out flattering), more than one 0 dB
    crossing, and magnitude peaking of more than ``peak_tol_db`` up to a decade past the crossover.
    """
    f, hc = _as_xy(freq, h, "loop_check", complex_ok=True)
    mag = db(hc)
    ph = phase_deg(hc)
    ph = ph - dc_phase_deg(ph[0])
    crossings = _all_crossings(f, mag)
    lead = ph - minimum_phase_deg(f, hc)
    looked = mag >= CHECK_FLOOR_DB
    if looked.any():
        i = int(np.argmax(np.where(looked, lead, -np.inf)))
        lead_deg, lead_hz = float(lead[i]), float(f[i])
    else:
        lead_deg, lead_hz = 0.0, float(f[0])
    problems = []
    if lead_deg > lead_tol_deg:
        problems.append(f"the phase leads the minimum-phase phase by {lead_deg:.0f}° at {lead_hz:.4g} Hz "
                        "(right-half-plane open-loop pole)")
    if len(crossings) > 1:
        where = ", ".join(f"{c:.4g}" for c in crossings[:4])
        problems.append(f"the gain crosses 0 dB {len(crossings)} times (at {where} Hz)")
    rise = peak = 0.0
    if crossings:
        fu = crossings[0]
        near = (f >= fu / 10) & (f <= fu * 10)
        rise = _rise(ph[near])
        peak = _rise(mag[f <= fu * 10])
        if peak > peak_tol_db:
            problems.append(f"the gain peaks by {peak:.1f} dB near the {fu:.4g} Hz crossover")
    return LoopCheck(crossings, lead_deg, lead_hz, rise, peak, tuple(problems))


def stable_phase_margin(freq: ArrayLike, h: ArrayLike) -> float:
    """``phase_margin`` when ``loop_check`` finds it meaningful; otherwise ``MeasurementError`` with why."""
    check = loop_check(freq, h)
    if check.problems:
        raise MeasurementError("phase margin not meaningful: " + "; ".join(check.problems))
    return phase_margin(freq, h)


def stable_gain_margin_db(freq: ArrayLike, h: ArrayLike) -> float:
    """``gain_margin_db`` when ``loop_check`` finds the response meaningful; otherwise ``MeasurementError``."""
    check = loop_check(freq, h)
    if check.problems:
        raise MeasurementError("gain margin not meaningful: " + "; ".join(check.problems))
    return gain_margin_db(freq, h)


# ---- step response ---------------------------------------------------------------------------------

TAIL_FRACTION = 0.2
"""The last fifth of a step window is its tail: the output must have settled before it and stay still in it."""


@dataclass(frozen=True)
class StepResponse:
    """A small-signal step judged over its whole window.

    Attributes:
        initial, final: output before the edge and the mean over the tail (V).
        overshoot_pct: the largest excursion beyond ``final`` in the step's direction, in % of the
            output step (0 when it never passes ``final``).
        settling_s: time from the edge until the output stays inside the band; None when it leaves the
            band during the tail.
        ringing: how many times the error ``v - final`` changes sign between excursions beyond the band
            (half-cycles of ringing; 0 for an overdamped step, 1 for a single overshoot).
        tail_pp: peak-to-peak of the output over the tail (V): a sustained oscillation's amplitude.
        stable: the output follows the step (its step is within 50 % of the expected one), settles before
            the tail and its tail peak-to-peak is inside the band.
        reason: why it is not stable; empty when it is.
    """

    initial: float
    final: float
    overshoot_pct: float
    settling_s: float | None
    ringing: int
    tail_pp: float
    stable: bool
    reason: str


def step_response(t: ArrayLike, v: ArrayLike, *, t0: float, expected_step: float, tol: float = 0.01,
                  tail: float = TAIL_FRACTION) -> StepResponse:
    """Judge the response ``v(t)`` to an input step at ``t0`` whose output should move by ``expected_step``.

    The band is ``±tol·|expected_step|`` around the tail mean. Raises ``MeasurementError`` only for
    unusable vectors (too few samples after ``t0``, zero expected step); an unstable or stuck output is a
    ``StepResponse`` with ``stable=False`` and a reason.
    """
    if not 0.0 < tol < 1.0:
        raise ValueError(f"tol must lie in (0, 1), got {tol}")
    if expected_step == 0:
        raise MeasurementError("step_response: the expected step is zero")
    va_raw = np.asarray(v, dtype=float).ravel()
    if va_raw.size and not np.all(np.isfinite(va_raw)):
        first = float(np.asarray(t, dtype=float).ravel()[np.argmin(np.isfinite(va_raw))])
        return StepResponse(float(va_raw[0]), math.inf, math.inf, None, 0, math.inf, False,
                            f"the output diverges (non-finite from t={first:.4g} s)")
    ta, va = _as_xy(t, v, "step_response")
    initial = float(np.interp(t0, ta, va))
    keep = ta >= t0
    ta, va = ta[keep], va[keep]
    if ta.size < 10:
        raise MeasurementError(f"step_response: {ta.size} samples after the edge at {t0:g} s; need 10")
    window = float(ta[-1] - t0)
    tail_start = float(ta[-1] - tail * window)
    in_tail = ta >= tail_start
    final = float(np.mean(va[in_tail]))
    tail_pp = float(np.ptp(va[in_tail]))
    band = tol * abs(expected_step)
    moved = final - initial
    direction = 1.0 if expected_step > 0 else -1.0
    err = va - final
    overshoot = max(0.0, float(np.max(direction * err))) / abs(moved) * 100.0 if moved != 0 else 0.0
    signs = np.sign(err[np.abs(err) > band])
    ringing = int(np.count_nonzero(signs[1:] != signs[:-1])) if signs.size else 0
    outside = np.flatnonzero(np.abs(err) > band)
    settling: float | None
    if outside.size == 0:
        settling = 0.0
    else:
        i = int(outside[-1])
        if i == ta.size - 1 or ta[i] >= tail_start:
            settling = None
        else:
            e0, e1 = abs(err[i]) - band, abs(err[i + 1]) - band
            settling = float(ta[i] + e0 / (e0 - e1) * (ta[i + 1] - ta[i]) - t0)
    reason = ""
    ratio = moved / expected_step
    if tail_pp > 2 * band:
        wiggle = np.sign(va[in_tail] - final)
        how = "oscillates" if np.count_nonzero(wiggle[1:] * wiggle[:-1] < 0) >= 2 else "drifts"
        reason = (f"the output still {how} in the last {tail:.0%} of the {window:.4g} s window "
                  f"({tail_pp:.4g} V peak-to-peak, band ±{band:.4g} V)")
    elif not 0.5 <= ratio <= 1.5:
        reason = (f"the output moved by {moved:.4g} V for an expected {expected_step:.4g} V step "
                  "(stuck or latched)")
    elif settling is None:
        reason = (
            f"the output does not settle into ±{band:.4g} V before the last {tail:.0%} of the {window:.4g} s window"
        )
    return StepResponse(initial, final, overshoot, settling, ringing, tail_pp, not reason, reason)
