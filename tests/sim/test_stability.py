"""Stability that cannot be gamed: multi-stage amplifiers where a naive phase margin lies.

The decks under tests/data/spice are behavioural three-stage amplifiers with their own top-level
open-loop check (``ngspice -b`` measures ``pm = 180 + vp(out)`` at the 0 dB crossing, as a deck's own
``.meas`` would). Properly compensated, ckt's margin agrees with that hand computation and the follower
step is stable; under-compensated, the naive figure still says "fine" while ckt voids the margin
(right-half-plane poles, multiple crossings) or makes it negative, and the step says unstable.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ckt.sim.executor import LocalExecutor
from ckt.sim.testbench.opamp import OpAmpTestbench, measure
from tests.conftest import ROOT, requires_ngspice

DATA = ROOT / "tests" / "data" / "spice"
CHECK = ("gain_db", "ugbw", "pm_deg", "gm_db", "overshoot_pct", "ringing", "tail_pp_v", "rhp_poles")

pytestmark = [pytest.mark.ngspice, requires_ngspice]


@pytest.fixture(scope="module")
def executor():
    with LocalExecutor(2) as ex:
        yield ex


def _plain_ngspice(deck: str, tmp_path: Path, **params: str) -> dict[str, float]:
    """The deck's own .meas results from ``ngspice -b``, with ``.param`` values replaced."""
    text = (DATA / deck).read_text()
    for name, value in params.items():
        text, n = re.subn(rf"\b{name}=\S+", f"{name}={value}", text, count=1)
        assert n == 1, name
    path = tmp_path / deck
    path.write_text(text)
    out = subprocess.run(["ngspice", "-b", path.name], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, check=False).stdout
    return {m.group(1).lower(): float(m.group(2))
            for m in re.finditer(r"^(\w+)\s*=\s*([-+0-9.eE]+)", out, re.MULTILINE)}


def _ckt(deck: str, dut: str, executor, **params: str):
    tb = OpAmpTestbench(DATA / deck, dut, vdd=1.8, cload=10e-12, metric_names=CHECK)
    assert "stable" in tb.metric_names  # pm_deg brings the closed-loop check
    return measure(tb, params, executor)


def test_compensated_nested_miller_agrees_with_plain_ngspice(tmp_path: Path, executor):
    own = _plain_ngspice("nested_miller.cir", tmp_path)
    ms = _ckt("nested_miller.cir", "nmc", executor)
    assert ms.values["ugbw"] == pytest.approx(own["ugbw"], rel=1e-3)
    assert ms.values["pm_deg"] == pytest.approx(own["pm"], abs=0.05)
    assert 50 < ms.values["pm_deg"] < 65  # Butterworth NMC sizing: about 60 deg
    assert ms.values["stable"] == 1.0 and ms.values["rhp_poles"] == 0.0
    assert ms.values["tail_pp_v"] < 1e-6
    _, v = ms.step
    assert v[-1] == pytest.approx(v[0] + 0.01, rel=1e-3)


def test_undercompensated_nested_miller_naive_margin_lies(tmp_path: Path, executor):
    """cm2 = 0.05p: the inner loop (stages 2-3 closed by cm1) is unstable: open-loop RHP poles."""
    own = _plain_ngspice("nested_miller.cir", tmp_path, cm2="0.05p")
    assert own["pm"] > 80  # the deck's own vp() margin: "fine"
    ms = _ckt("nested_miller.cir", "nmc", executor, cm2="0.05p")
    assert "pm_deg" not in ms.values and "right-half-plane" in ms.missing["pm_deg"]
    assert "gm_db" not in ms.values
    assert ms.values["stable"] == 0.0
    assert ms.values["rhp_poles"] >= 1
    assert ms.values["tail_pp_v"] > 0.2  # the follower's small step grows without bound
    assert ms.values["ugbw"] == pytest.approx(own["ugbw"], rel=1e-3)  # the crossing itself is right


def test_nested_miller_inner_resonance_crosses_0db_three_times(executor):
    ms = _ckt("nested_miller.cir", "nmc", executor, cm2="0.2p")
    assert "crosses 0 dB 3 times" in ms.missing["pm_deg"]
    assert ms.values["stable"] == 0.0


def test_compensated_three_stage_agrees_with_plain_ngspice(tmp_path: Path, executor):
    own = _plain_ngspice("three_stage.cir", tmp_path)
    ms = _ckt("three_stage.cir", "three", executor)
    assert ms.values["pm_deg"] == pytest.approx(own["pm"], abs=0.05)
    assert ms.values["ugbw"] == pytest.approx(own["ugbw"], rel=1e-3)
    assert ms.values["stable"] == 1.0 and ms.values["ringing"] == 0.0 and ms.values["rhp_poles"] == 0.0
    # The window follows the amplifier: follower_cycles periods of its closed-loop bandwidth (~ UGBW).
    t, _ = ms.step
    assert 20 / ms.values["ugbw"] < t[-1] < 80 / ms.values["ugbw"]


def test_undercompensated_three_stage_wrapped_margin_lies(tmp_path: Path, executor):
    """cc = 3n: the phase passes -180 deg before the crossover and vp() wraps it to about +173 deg."""
    own = _plain_ngspice("three_stage.cir", tmp_path, cc="3n")
    assert own["pm"] > 180  # 180 + wrapped vp: "plenty of margin"
    ms = _ckt("three_stage.cir", "three", executor, cc="3n")
    assert ms.values["pm_deg"] < 0 and ms.values["gm_db"] < 0
    assert ms.values["stable"] == 0.0 and ms.values["rhp_poles"] == 2.0


def test_fixed_follower_window(executor):
    tb = OpAmpTestbench(DATA / "three_stage.cir", "three", vdd=1.8, cload=10e-12, follower_window=50e-6,
                        metric_names=("stable", "step_settling_s"))
    assert tb.analyses() == ("follower",)
    assert ".tran 25n 50u 0 25n" in tb.jobs()[0].deck and ".control" not in tb.jobs()[0].deck
    ms = measure(tb, {}, executor)
    t, _ = ms.step
    assert t[-1] == pytest.approx(50e-6) and ms.values["stable"] == 1.0
    assert 0 < ms.values["step_settling_s"] < 10e-6
    short = measure(OpAmpTestbench(DATA / "three_stage.cir", "three", vdd=1.8, cload=10e-12, follower_window=1e-6,
                                   metric_names=("stable", "step_settling_s")), {}, executor)
    assert short.values["stable"] == 0.0 and "step_settling_s" in short.missing
    assert np.all(np.isfinite(short.step[1]))


def test_transistor_level_low_margin_shows_in_the_step(executor):
    """PTM two-stage Miller (netlists/two_stage_miller.cir) with cc shrunk to 0.1p into 10 pF: still
    stable, but the ~18 deg margin shows as > 50 % overshoot and ringing, the issue's "feasible" design
    with 68 % overshoot; at its own cc (1p) the margin is twice as large and the overshoot far smaller."""
    path = ROOT / "netlists" / "two_stage_miller.cir"
    tb = OpAmpTestbench(path, "miller_opamp", cload=10e-12, metric_names=CHECK)
    low = measure(tb, {"cc": "0.1p"}, executor)
    assert 10 < low.values["pm_deg"] < 25
    assert low.values["stable"] == 1.0 and low.values["overshoot_pct"] > 50 and low.values["ringing"] >= 5
    assert low.values["rhp_poles"] == 0.0
    nominal = measure(tb, {}, executor)
    assert nominal.values["pm_deg"] > 30 and nominal.values["overshoot_pct"] < low.values["overshoot_pct"] / 2
    assert nominal.values["stable"] == 1.0


def test_subprocess_backend_fixed_window_and_poles(executor):
    """ngspice -b names poles v(pole(n)) in its raw file; a fixed window needs no .control script."""
    tb = OpAmpTestbench(DATA / "three_stage.cir", "three", vdd=1.8, cload=10e-12, follower_window=20e-6,
                        backend="subprocess", metric_names=("stable", "rhp_poles"))
    ms = measure(tb, {}, executor)
    assert ms.values == {"stable": 1.0, "rhp_poles": 0.0}
    unstable = measure(tb, {"cc": "3n"}, executor)
    assert unstable.values["rhp_poles"] == 2.0 and unstable.values["stable"] == 0.0


@pytest.mark.parametrize("params", [{}, {"cm2": "0.05p"}])
def test_subprocess_backend_runs_the_scaled_follower_window_as_the_shared_one(params, executor):
    """The scaled window is a .control script: ngspice -b writes its plot and quits (it used to exit
    1, "no simulations run", so every design read as not closed-loop stable)."""
    runs = {backend: measure(OpAmpTestbench(DATA / "nested_miller.cir", "nmc", vdd=1.8, cload=10e-12,
                                            backend=backend, metric_names=("stable", "tail_pp_v")), params, executor)
            for backend in ("shared", "subprocess")}
    assert runs["subprocess"].missing == {} and runs["shared"].missing == {}
    assert runs["subprocess"].values["stable"] == runs["shared"].values["stable"] == (0.0 if params else 1.0)
    tail = runs["shared"].values["tail_pp_v"]
    assert runs["subprocess"].values["tail_pp_v"] == pytest.approx(tail, rel=1e-6, abs=1e-9)
