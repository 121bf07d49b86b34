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


# ---- loop stability: minimum-phase lead, crossings, peaking --------------------------------------


def _rhp_response(f: np.ndarray, a0: float, lhp: tuple[float, ...], rhp: tuple[float, ...]) -> np.ndarray:
    h = poles_response(f, a0, lhp)
    for p in rhp:
        h = h / (1 - 1j * f / p)
    return h


def test_minimum_phase_of_lhp_poles_is_their_phase():
    f = freqs(1, 1e11)
    h = poles_response(f, 1e4, (1e3, 1e7, 3e8))
    assert np.max(np.abs(m.minimum_phase_deg(f, h) - m.phase_deg(h))) < 1.0
    check = m.loop_check(f, h)
    assert check.meaningful and len(check.crossings) == 1 and abs(check.lead_deg) < 1.0


def test_rhp_pole_leads_by_twice_its_angle_and_voids_the_margin():
    """One RHP pole at p: same |H| as an LHP pole, phase +atan(f/p) instead of -atan: lead 2 atan(f/p)."""
    f = freqs(1, 1e11)
    p = 1e6
    h = _rhp_response(f, 1e4, (1e3, 1e9), (p,))
    lead = m.phase_deg(h) - m.dc_phase_deg(m.phase_deg(h)[0]) - m.minimum_phase_deg(f, h)
    band = (f > 1e4) & (f < 1e8)
    assert np.max(np.abs(lead[band] - 2 * np.degrees(np.arctan(f[band] / p)))) < 1.0
    # The naive margins say "fine": 162 deg on the unwrapped phase at the first crossing.
    naive = m.phase_margin(f, h)
    assert naive > 150
    check = m.loop_check(f, h)
    assert not check.meaningful and "right-half-plane" in check.problems[0]
    with pytest.raises(MeasurementError, match="phase margin not meaningful.*right-half-plane"):
        m.stable_phase_margin(f, h)
    with pytest.raises(MeasurementError, match="gain margin not meaningful"):
        m.stable_gain_margin_db(f, h)


def test_lhp_zero_and_rhp_zero_are_not_mistaken_for_rhp_poles():
    f = freqs(1, 1e11)
    s = 1j * f
    lhp_zero = poles_response(f, 1e4, (1e3, 1e6, 1e8)) * (1 + s / 3e6)  # phase rises: a zero, not a pole
    rhp_zero = poles_response(f, 1e4, (1e3, 1e8)) * (1 - s / 1e8)  # extra lag, as in a Miller amplifier
    for h in (lhp_zero, rhp_zero):
        assert m.loop_check(f, h).meaningful
        assert m.stable_phase_margin(f, h) == pytest.approx(m.phase_margin(f, h))
    assert m.loop_check(f, lhp_zero).phase_rise_deg > 10  # reported, yet explained by the magnitude


def test_multiple_crossings_and_peaking_void_the_margin():
    f = freqs(1, 1e11)
    s = 1j * f
    wn, zeta = 2 * np.pi * 5e7, 0.02
    resonant = poles_response(f, 1e4, (1e3,)) / (1 + 2 * zeta * s * 2 * np.pi / wn + (s * 2 * np.pi / wn) ** 2)
    check = m.loop_check(f, resonant)
    assert len(check.crossings) == 3 and check.peaking_db > 15
    assert any("crosses 0 dB 3 times" in p for p in check.problems)
    assert any("peaks by" in p for p in check.problems)


def test_wrapped_vp_margin_lies_where_unwrapped_does_not():
    """Four poles: the phase passes -180 deg before the crossover; vp() wraps it to a positive angle."""
    f = freqs(1, 1e11)
    h = poles_response(f, 1e5, (1e2, 1e5, 2e5, 3e5))
    fu = m.unity_gain_frequency(f, h)
    wrapped = 180 + math.degrees(np.angle(np.interp(math.log10(fu), np.log10(f), h.real)
                                          + 1j * np.interp(math.log10(fu), np.log10(f), h.imag)))
    assert wrapped > 60  # what a deck's own .meas with vp() would report
    assert m.stable_phase_margin(f, h) < 0


# ---- step response ------------------------------------------------------------------------------


def _second_order(t: np.ndarray, zeta: float, wn: float) -> np.ndarray:
    wd = wn * math.sqrt(1 - zeta**2)
    return 1 - np.exp(-zeta * wn * t) * (np.cos(wd * t) + zeta / math.sqrt(1 - zeta**2) * np.sin(wd * t))


def test_step_second_order_overshoot_and_settling():
    zeta, wn = 0.3, 2 * math.pi * 1e6
    t = np.linspace(0, 40e-6, 40001)
    r = m.step_response(t, 0.5 + 0.01 * _second_order(t, zeta, wn), t0=0.0, expected_step=0.01, tol=0.01)
    assert r.stable and r.reason == ""
    assert r.overshoot_pct == pytest.approx(100 * math.exp(-math.pi * zeta / math.sqrt(1 - zeta**2)), rel=1e-3)
    # Envelope bound exp(-zeta wn t)/sqrt(1-zeta^2) = tol gives an upper bound on the settling time.
    bound = math.log(1 / (0.01 * math.sqrt(1 - zeta**2))) / (zeta * wn)
    assert 0.7 * bound < r.settling_s <= bound
    assert r.ringing >= 3 and r.tail_pp < 1e-6


def test_step_first_order_has_no_overshoot_or_ringing():
    tau = 1e-6
    t = np.linspace(0, 30e-6, 3001)
    r = m.step_response(t, 1 - np.exp(-t / tau), t0=0.0, expected_step=1.0, tol=0.01)
    assert r.stable and r.ringing == 0 and r.overshoot_pct == pytest.approx(0.0, abs=1e-9)
    assert r.settling_s == pytest.approx(tau * math.log(100), rel=1e-2)


def test_step_sustained_oscillation_and_latch_are_unstable():
    t = np.linspace(0, 40e-6, 40001)
    ringing = np.where(t > 1e-6, 0.51 + 0.1 * np.sin(2 * math.pi * 1e6 * t), 0.5)  # 0.2 V p-p forever
    r = m.step_response(t, ringing, t0=1e-6, expected_step=0.01)
    assert not r.stable and "still oscillates" in r.reason and r.tail_pp == pytest.approx(0.2, rel=1e-3)
    latched = np.where(t > 1e-6, 1.8, 0.5)
    r = m.step_response(t, latched, t0=1e-6, expected_step=0.01)
    assert not r.stable and "latched" in r.reason
    slow = 0.01 * (1 - np.exp(-t / 10e-6))  # settles after the window's tail begins
    r = m.step_response(t, slow, t0=0.0, expected_step=0.01)
    assert not r.stable and r.settling_s is None and "still drifts" in r.reason
    late = 0.01 * (1 - np.exp(-t / 1e-7)) + 1.5e-4 * (np.abs(t - 33e-6) < 0.2e-6)
    r = m.step_response(t, late, t0=0.0, expected_step=0.01)  # a glitch out of the band inside the tail
    assert not r.stable and r.settling_s is None and "does not settle" in r.reason
    diverging = np.where(t > 20e-6, np.inf, 0.01)
    r = m.step_response(t, diverging, t0=0.0, expected_step=0.01)
    assert not r.stable and "diverges" in r.reason
    with pytest.raises(MeasurementError, match="expected step is zero"):
        m.step_response(t, slow, t0=0.0, expected_step=0.0)
