"""ckt.sim.measure against closed forms on synthetic vectors (no simulator)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckt.sim import measure as m
from ckt.sim.measure import MeasurementError


def freqs(f0: float = 1.0, f1: float = 1e10, per_decade: int = 100) -> np.ndarray:
    n = int(round(math.log10(f1 / f0) * per_decade)) + 1
    return np.logspace(math.log10(f0), math.log10(f1), n)


def poles_response(f: np.ndarray, a0: float, poles: tuple[float, ...]) -> np.ndarray:
    h = np.full(f.shape, a0, dtype=complex)
    for p in poles:
        h = h / (1 + 1j * f / p)
    return h


def exact_ugf(a0: float, poles: tuple[float, ...]) -> float:
    """Bisection on the analytic |h| = 1 (log f), independent of the sampled interpolation."""
    lo, hi = math.log10(min(poles)) - 3, 15.0
    mag = lambda lf: abs(a0) / math.prod(math.hypot(1, 10**lf / p) for p in poles)  # noqa: E731
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mag(mid) > 1 else (lo, mid)
    return 10 ** ((lo + hi) / 2)


def exact_pm(a0: float, poles: tuple[float, ...]) -> float:
    fu = exact_ugf(a0, poles)
    return 180.0 - sum(math.degrees(math.atan(fu / p)) for p in poles)


def test_crossing_linear_and_log():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([0.0, 2.0, 4.0, 2.0])
    assert m.crossing(x, y, 1.0, direction="rising") == pytest.approx(0.5)
    assert m.crossing(x, y, 3.0, direction="falling") == pytest.approx(2.5)
    assert m.crossing(x, y, 3.0, direction="rising", after=1.0) == pytest.approx(1.5)
    f = np.array([10.0, 1000.0])
    assert m.crossing(f, np.array([0.0, 2.0]), 1.0, log_x=True) == pytest.approx(100.0)
    with pytest.raises(MeasurementError, match="never crosses"):
        m.crossing(x, y, 9.0)


def test_single_pole_gain_ugf_pm_gbw():
    a0, fp = 1000.0, 1e4
    f = freqs()
    h = poles_response(f, a0, (fp,))
    assert m.dc_gain_db(f, h) == pytest.approx(60.0, abs=1e-6)
    fu = fp * math.sqrt(a0**2 - 1)
    assert m.unity_gain_frequency(f, h) == pytest.approx(fu, rel=1e-4)
    assert m.phase_margin(f, h) == pytest.approx(180 - math.degrees(math.atan(fu / fp)), abs=1e-3)
    assert m.bandwidth_3db(f, h) == pytest.approx(fp, rel=1e-3)
    assert m.gain_bandwidth(f, h) == pytest.approx(a0 * fp, rel=1e-3)


def test_inverting_three_poles_pm_relative_to_dc_phase():
    """An inverting amplifier starts at vp() = +180: PM counts the lag from there, not from 0."""
    a0, poles = 1e3, (100.0, 1e6, 1e6)
    f = freqs()
    h = -poles_response(f, a0, poles)
    pm = m.phase_margin(f, h)
    assert pm == pytest.approx(exact_pm(a0, poles), abs=1e-3)
    fu = m.unity_gain_frequency(f, h)
    naive = 180 + np.interp(math.log10(fu), np.log10(f), np.degrees(np.angle(h)))
    assert abs(naive - pm) > 90, "180 + vp() would have given a different answer"


def exact_f180(poles: tuple[float, ...]) -> float:
    lo, hi = math.log10(min(poles)), 15.0
    lag = lambda lf: sum(math.degrees(math.atan(10**lf / p)) for p in poles)  # noqa: E731
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if lag(mid) < 180 else (lo, mid)
    return 10 ** ((lo + hi) / 2)


def test_wrapped_phase_three_poles_unstable():
    """vp() of a 3-pole amplifier wraps past -180 before f_u: PM must follow the unwrapped phase (negative)."""
    a0, poles = 1e4, (1e3, 1e5, 1e5)
    f = freqs()
    h = poles_response(f, a0, poles)
    fu = m.unity_gain_frequency(f, h)
    assert fu == pytest.approx(exact_ugf(a0, poles), rel=1e-5)
    wrapped_at_fu = np.interp(math.log10(fu), np.log10(f), np.degrees(np.angle(h)))
    assert wrapped_at_fu > 0, "test case must have wrapped past -180 at f_u"
    pm = m.phase_margin(f, h)
    assert pm == pytest.approx(exact_pm(a0, poles), abs=1e-3)
    assert pm < 0
    f180 = exact_f180(poles)
    gm_exact = -20 * math.log10(a0 / math.prod(math.hypot(1, f180 / p) for p in poles))
    assert m.gain_margin_db(f, h) == pytest.approx(gm_exact, abs=1e-3)
    assert gm_exact < 0


def test_no_crossing_gives_reason_never_nan():
    f = freqs(1, 1e6)
    flat = np.full(f.shape, 10.0 + 0j)
    with pytest.raises(MeasurementError, match="above 0 dB"):
        m.unity_gain_frequency(f, flat)
    with pytest.raises(MeasurementError, match="below unity"):
        m.unity_gain_frequency(f, flat / 100)
    with pytest.raises(MeasurementError, match="3 dB"):
        m.bandwidth_3db(f, flat)
    bad = poles_response(f, 100.0, (10.0,))
    bad[5] = np.nan
    for fn in (m.dc_gain_db, m.unity_gain_frequency, m.phase_margin):
        with pytest.raises(MeasurementError, match="non-finite"):
            fn(f, bad)


def test_slew_rate_ramp_and_first_order():
    t = np.linspace(0, 10e-6, 10001)
    ramp = np.clip((t - 1e-6) * 2e6, 0, 1.0)  # 2 V/us up to 1 V
    assert m.slew_rate(t, ramp) == pytest.approx(2e6, rel=1e-6)
    assert m.slew_rate(t, 1.0 - ramp) == pytest.approx(2e6, rel=1e-6)
    tau = 0.5e-6
    rc = 0.3 * (1 - np.exp(-t / tau))
    assert m.slew_rate(t, rc, final=0.3) == pytest.approx(0.8 * 0.3 / (tau * math.log(9)), rel=1e-4)
    with pytest.raises(MeasurementError, match="does not move"):
        m.slew_rate(t, np.zeros_like(t))


def test_settling_time_first_order_and_unsettled():
    tau, t0 = 1e-7, 2e-7
    t = np.linspace(0, 3e-6, 30001)
    v = np.where(t < t0, 0.0, 1.0 - np.exp(-(t - t0) / tau))
    for tol in (0.01, 0.001):
        assert m.settling_time(t, v, t0=t0, tol=tol, final=1.0) == pytest.approx(tau * math.log(1 / tol), rel=1e-3)
    ringing = np.where(t < t0, 0.0, 1.0 + 0.5 * np.sin(t * 1e8))
    with pytest.raises(MeasurementError, match="outside"):
        m.settling_time(t, ringing, t0=t0, final=1.0)


def test_output_swing_tanh_closed_form():
    """Inverting unity-gain sweep of a tanh amplifier: gain drops 3 dB at tanh^2 = 1 - 1/sqrt(2)."""
    a, vsat, vmid = 1e4, 0.6, 0.9
    vout = np.linspace(vmid - 0.9999 * vsat, vmid + 0.9999 * vsat, 4001)
    vdiff = np.arctanh((vout - vmid) / vsat) * vsat / a
    vin = 2 * vmid - vout - 2 * vdiff  # vout = 2 vcm - vin - 2 vd for equal resistors
    order = np.argsort(vin)
    lo, hi = m.output_swing(vin[order], vout[order], vdiff[order])
    half = vsat * math.sqrt(1 - 1 / math.sqrt(2))
    assert lo == pytest.approx(vmid - half, abs=1e-4)
    assert hi == pytest.approx(vmid + half, abs=1e-4)


def test_output_swing_unlimited_sweep_is_missing():
    vin = np.linspace(0, 1, 101)
    with pytest.raises(MeasurementError, match="does not drop"):
        m.output_swing(vin, 1 - vin, vin * 1e-4)


def test_noise_spot_and_integrated():
    f = freqs(1, 1e6)
    flat = np.full(f.shape, 10e-9)
    assert m.spot_noise(f, flat, 1234.0) == pytest.approx(10e-9)
    assert m.integrated_noise(f, flat, 10.0, 1e5) == pytest.approx(10e-9 * math.sqrt(1e5 - 10), rel=1e-9)
    k = 1e-14
    flicker = np.sqrt(k / f)
    assert m.spot_noise(f, flicker, 100.0) == pytest.approx(math.sqrt(k / 100), rel=1e-9)
    assert m.integrated_noise(f, flicker, 1.0, 1e6) == pytest.approx(math.sqrt(k * math.log(1e6)), rel=1e-3)
    with pytest.raises(MeasurementError, match="outside"):
        m.spot_noise(f, flat, 1e7)


@settings(max_examples=60, deadline=None)
@given(
    a0=st.floats(1e-2, 1e8),
    poles=st.lists(st.floats(1e-1, 1e11), min_size=1, max_size=4),
    sign=st.sampled_from([1.0, -1.0]),
)
def test_frequency_measurements_are_finite_or_explained(a0, poles, sign):
    """Whatever the response, each function returns a finite float or raises MeasurementError."""
    f = freqs(1, 1e10, 20)
    h = sign * poles_response(f, a0, tuple(poles))
    for fn in (m.dc_gain_db, m.unity_gain_frequency, m.phase_margin, m.gain_margin_db, m.bandwidth_3db,
               m.gain_bandwidth):
        try:
            value = fn(f, h)
        except MeasurementError as exc:
            assert str(exc)
        else:
            assert math.isfinite(value)
