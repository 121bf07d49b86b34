"""The built-in op-amp testbench against closed forms (behavioural DUTs) and the bundled decks' own .meas."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ckt.errors import CktError, NetlistError
from ckt.sim.executor import LocalExecutor
from ckt.sim.pvt import PVT, grid, sweep, worst_case
from ckt.sim.result import SimResult
from ckt.sim.testbench.opamp import DEFAULT_METRICS, METRICS, MetricSet, OpAmpTestbench, measure
from tests.conftest import ROOT, requires_ngspice

# A single-pole transconductance amplifier: out current gm_p*v(inp) - gm_n*v(inn) into R || C,
# a vdd-controlled current gs*v(vdd) for the supply rejection, a resistor rdd across the supply for
# the power. Port names differ from the roles on purpose.
SINGLE_POLE = """* behavioural single-pole op-amp
.param gm=1m gmn=1m r=1meg c=1p gs=0 rdd=10k
.subckt amp gnda vdda vinn vinp vout
gp gnda vout vinp 0 {gm}
gn vout gnda vinn 0 {gmn}
gs gnda vout vdda 0 {gs}
r1 vout gnda {r}
c1 vout gnda {c}
rdd vdda gnda {rdd}
.ends amp
.end
"""
PORTS = {"vss": "gnda", "vdd": "vdda", "inn": "vinn", "inp": "vinp", "out": "vout"}

# A memoryless amplifier with tanh saturation around mid-supply, for the swing closed form.
SATURATING = """* tanh-limited op-amp
.param a=1e4 vsat=0.6 vmid=0.9
.subckt sat inp inn out vdd vss
bout out 0 v={vmid} + {vsat}*tanh({a}*(v(inp)-v(inn))/{vsat})
.ends sat
.end
"""

BOLTZMANN = 1.38064852e-23  # ngspice's CONSTboltz
T_NOMINAL = 300.15  # 27 C


@pytest.fixture(scope="module")
def executor():
    with LocalExecutor(2) as ex:
        yield ex


@pytest.fixture()
def amp(tmp_path: Path) -> Path:
    path = tmp_path / "amp.cir"
    path.write_text(SINGLE_POLE)
    return path


def test_jobs_build_only_needed_decks(amp: Path):
    tb = OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8)
    assert tb.metric_names[-1] == "stable"  # pm_deg brings the closed-loop check
    assert tb.analyses() == ("ac", "follower")
    jobs = tb.jobs()
    assert len(jobs) == 2 and jobs[0].vectors
    assert ".control\nac dec 100 1 0.1t\n" in jobs[1].deck and "Vtb_fb tb_out tb_inn DC 0" in jobs[1].deck
    deck = jobs[0].deck
    assert "Xtb_dut tb_vss tb_vdd tb_inn tb_inp tb_out amp" in deck
    assert ".control\nop\nac dec 10 1 0.1t\n" in deck  # refined: coarse, then dense near the crossings
    tb_all = OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8, metric_names=tuple(METRICS))
    assert tb_all.analyses() == ("ac", "cm", "psrr_p", "psrr_n", "noise", "swing", "tran", "follower", "pz")
    tb_cm = OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8, metric_names=("cmrr_db",))
    assert tb_cm.analyses() == ("ac", "cm")


def test_supply_and_bias_from_params(tmp_path: Path):
    path = tmp_path / "biased.cir"
    path.write_text(SINGLE_POLE.replace(".param gm=1m", ".param vdd=1.2 ibn=7u gm=1m")
                    .replace("vinp vout", "vinp vout ibn").replace("rdd vdda", "rb ibn gnda 1k\nrdd vdda"))
    tb = OpAmpTestbench(path, "amp", ports={**PORTS, "ibn": "ibn"}, metric_names=("slew_rate",))
    deck = tb.jobs()[0].deck
    # a bias read from a .param stays a reference to it (designs then differ only in .param lines)
    assert "Vtb_dd tb_vdd 0 DC 1.2" in deck and "Itb_ibn tb_vdd tb_ibn DC {abs(ibn)}" in deck
    assert "PULSE(0.45 0.75 " in deck  # vcm 0.6, default step a quarter of the supply
    moved = tb.jobs({"vdd": 2.0, "ibn": "-3u"})[0].deck
    assert "Vtb_dd tb_vdd 0 DC 2" in moved and "Itb_ibn tb_ibn tb_vss DC {abs(ibn)}" in moved
    assert ".param ibn=-3u" in moved
    given = OpAmpTestbench(path, "amp", ports={**PORTS, "ibn": "ibn"}, vdd=1.8, bias={"ibn": 1e-6}).jobs()[0].deck
    assert "Vtb_dd tb_vdd 0 DC 1.8" in given and "Itb_ibn tb_vdd tb_ibn DC 1u" in given


def test_bad_configuration_errors(amp: Path):
    with pytest.raises(NetlistError, match="no subcircuit 'nope'.*amp"):
        OpAmpTestbench(amp, "nope", ports=PORTS)
    with pytest.raises(NetlistError, match=r"no port for role\(s\) out"):
        OpAmpTestbench(amp, "amp", ports={"vss": "gnda", "vdd": "vdda", "inn": "vinn", "inp": "vinp"})
    with pytest.raises(NetlistError, match="vinp has two roles"):
        OpAmpTestbench(amp, "amp", ports={**PORTS, "inn": "vinp"})
    with pytest.raises(NetlistError, match="not a port of amp"):
        OpAmpTestbench(amp, "amp", ports={**PORTS, "out": "vo"})
    with pytest.raises(CktError, match="unknown metric"):
        OpAmpTestbench(amp, "amp", ports=PORTS, metric_names=("gain",))
    with pytest.raises(CktError, match="supply is unknown"):
        OpAmpTestbench(amp, "amp", ports=PORTS).jobs()
    with pytest.raises(NetlistError, match="no .param named 'wx'.*gm"):
        OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8).jobs({"wx": 1.0})


def test_failed_simulation_is_missing_with_reason(amp: Path):
    tb = OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8)
    result = SimResult(status="nonconvergence", message="timestep too small")
    ms = tb.metrics([result, result])
    pz_failed = OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8, metric_names=("rhp_poles",)).metrics(
        [SimResult(status="error", message="pz: singular matrix")])
    assert pz_failed.status == "partial" and not pz_failed.failed and pz_failed.messages == {}
    assert pz_failed.missing == {"rhp_poles": "pz simulation error: pz: singular matrix"}
    assert ms.values == {}
    assert set(ms.missing) == {*DEFAULT_METRICS, "stable"}
    assert "timestep too small" in ms.missing["ugbw"]
    assert ms.status == "nonconvergence" and ms.failed


def _single_pole(**kw) -> dict[str, float]:
    gm, r, c, cload = kw["gm"], kw["r"], kw["c"], kw["cload"]
    a0 = gm * r
    fp = 1 / (2 * math.pi * r * (c + cload))
    fu = fp * math.sqrt(a0**2 - 1)
    return {"gain_db": 20 * math.log10(a0), "ugbw": fu, "pm_deg": 180 - math.degrees(math.atan(fu / fp)),
            "gbw": a0 * fp}


@pytest.mark.ngspice
@requires_ngspice
def test_single_pole_closed_form(amp: Path, executor):
    tb = OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8, cload=1e-12,
                        metric_names=("gain_db", "ugbw", "pm_deg", "gbw", "power_w", "offset_v", "cmrr_db",
                                      "psrr_p_db", "noise_in_v_rthz", "noise_in_int_vrms"))
    params = {"gm": 1e-3, "gmn": 0.999e-3, "gs": 1e-6}
    ms = measure(tb, params, executor)
    assert ms.status == "ok", ms.missing
    exact = _single_pole(gm=1e-3, r=1e6, c=1e-12, cload=1e-12)
    v = ms.values
    assert v["gain_db"] == pytest.approx(exact["gain_db"], abs=1e-4)
    assert v["ugbw"] == pytest.approx(exact["ugbw"], rel=1e-3)
    assert v["pm_deg"] == pytest.approx(exact["pm_deg"], rel=1e-3)
    assert v["pm_deg"] == pytest.approx(90.0, rel=1e-3)
    assert v["gbw"] == pytest.approx(exact["gbw"], rel=1e-3)
    assert v["power_w"] == pytest.approx(1.8**2 / 10e3, rel=1e-9)
    # Follower: vout (1/R + gmn) = gm vcm + gs vdd.
    vout = (1e-3 * 0.9 + 1e-6 * 1.8) / (1e-6 + 0.999e-3)
    assert v["offset_v"] == pytest.approx(vout - 0.9, rel=1e-6)
    assert v["cmrr_db"] == pytest.approx(20 * math.log10(1e-3 / (1e-3 - 0.999e-3)), abs=1e-3)
    assert v["psrr_p_db"] == pytest.approx(20 * math.log10(1e-3 / 1e-6), abs=1e-3)
    # Input-referred noise of R's thermal noise: sqrt(4kTR) / (gm R), flat below the pole.
    density = math.sqrt(4 * BOLTZMANN * T_NOMINAL / (1e-3**2 * 1e6))
    assert v["noise_in_v_rthz"] == pytest.approx(density, rel=1e-3)
    assert v["noise_in_int_vrms"] == pytest.approx(density * math.sqrt(1e6 - 1), rel=1e-3)
    assert all(math.isfinite(x) for x in v.values())
    freq, h = ms.bode
    # refined sweep: 111 coarse points plus dense windows around the crossings, ascending
    assert 111 < len(freq) < 400 and np.all(np.diff(freq) > 0) and abs(h[0]) == pytest.approx(1000, rel=1e-6)


@pytest.mark.ngspice
@requires_ngspice
def test_override_moves_ugbw_and_no_crossing_is_missing(amp: Path, executor):
    tb = OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8, cload=1e-12)
    ms = measure(tb, {"c": "3p"}, executor)
    exact = _single_pole(gm=1e-3, r=1e6, c=3e-12, cload=1e-12)
    assert ms.values["ugbw"] == pytest.approx(exact["ugbw"], rel=1e-3)
    below_unity = measure(tb, {"r": 500}, executor)  # gm*R = 0.5: no 0 dB crossing
    assert set(below_unity.missing) == {"ugbw", "pm_deg"}
    assert "below unity" in below_unity.missing["ugbw"]
    assert below_unity.values["stable"] == 0.0  # a follower with gain 1/3 does not follow its step
    assert below_unity.status == "partial" and not below_unity.failed
    assert below_unity.values["gain_db"] == pytest.approx(20 * math.log10(0.5), abs=1e-4)


@pytest.mark.ngspice
@requires_ngspice
def test_swapped_inputs_are_reported(amp: Path, executor):
    swapped = {**PORTS, "inn": "vinp", "inp": "vinn"}
    ms = measure(OpAmpTestbench(amp, "amp", ports=swapped, vdd=1.8), {}, executor)
    assert "swapped" in ms.missing["ugbw"]
    assert "power_w" in ms.values


@pytest.mark.ngspice
@requires_ngspice
def test_step_response_closed_form(amp: Path, executor):
    """Unity-gain follower of the single-pole amp: first order with tau = C_total / (gm + 1/R)."""
    tb = OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8, cload=1e-12, step=0.4, tran_window=40e-9,
                        tran_points=1000, metric_names=("slew_rate", "settling_s"))
    ms = measure(tb, {}, executor)
    assert ms.status == "ok", ms.missing
    tau = 2e-12 / (1e-3 + 1e-6)
    out_step = 0.4 * 1000 / 1001
    assert ms.values["slew_rate"] == pytest.approx(0.8 * out_step / (tau * math.log(9)), rel=1e-2)
    assert ms.values["settling_s"] == pytest.approx(tau * math.log(100), rel=1e-2)
    tight = measure(OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8, step=0.4, tran_window=40e-9,
                                   tran_points=1000, settle_tol=1e-3, metric_names=("settling_s",)), {}, executor)
    assert tight.values["settling_s"] == pytest.approx(tau * math.log(1000), rel=1e-2)
    short = measure(OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8, step=0.4, tran_window=4e-9,
                                   metric_names=("settling_s",)), {}, executor)
    assert "still moving" in short.missing["settling_s"]


@pytest.mark.ngspice
@requires_ngspice
def test_swing_closed_form(tmp_path: Path, executor):
    path = tmp_path / "sat.cir"
    path.write_text(SATURATING)
    tb = OpAmpTestbench(path, "sat", vdd=1.8, metric_names=("swing_v", "swing_low_v", "swing_high_v"))
    ms = measure(tb, {}, executor)
    half = 0.6 * math.sqrt(1 - 1 / math.sqrt(2))
    assert ms.values["swing_low_v"] == pytest.approx(0.9 - half, abs=2e-3)
    assert ms.values["swing_high_v"] == pytest.approx(0.9 + half, abs=2e-3)
    assert ms.values["swing_v"] == pytest.approx(2 * half, abs=4e-3)


def _deck_meas(path: Path) -> dict[str, float]:
    out = subprocess.run(["ngspice", "-b", path.name], cwd=path.parent, capture_output=True, text=True,
                         timeout=120).stdout
    values = {}
    for line in out.splitlines():
        m = re.match(r"^(\w+)\s*=\s*([-+0-9.eE]+)", line.strip())
        if m:
            values[m.group(1).lower()] = float(m.group(2))
    return values


@pytest.mark.ngspice
@requires_ngspice
@pytest.mark.parametrize("name,dut", [("two_stage_miller", "miller_opamp"), ("ota_5t", "ota5t"),
                                      ("folded_cascode", "folded_cascode")])
def test_bundled_opamps_agree_with_their_own_meas(name: str, dut: str, executor):
    path = ROOT / "netlists" / f"{name}.cir"
    if not path.is_file():
        pytest.skip(f"{path} not bundled")
    own = _deck_meas(path)
    ms = measure(OpAmpTestbench(path, dut), {}, executor)
    assert ms.status == "ok", ms.missing
    assert ms.values["gain_db"] == pytest.approx(own["gain_db"], abs=0.01)
    assert ms.values["ugbw"] == pytest.approx(own["ugbw"], rel=1e-2)
    assert ms.values["pm_deg"] == pytest.approx(own["pm"], abs=0.5)
    assert ms.values["power_w"] == pytest.approx(own["power"], rel=1e-3)


def test_worst_case_directions_and_missing():
    a = MetricSet({"gain_db": 60.0, "power_w": 1e-3, "offset_v": -2e-3, "ugbw": 1e6}, {}, "ok")
    b = MetricSet({"gain_db": 55.0, "power_w": 2e-3, "offset_v": 1e-3}, {"ugbw": "below unity"}, "partial")
    worst = worst_case([(PVT("ss", 125.0), a), (PVT("ff", -40.0, 1.98), b)])
    assert worst.values == {"gain_db": 55.0, "power_w": 2e-3, "offset_v": -2e-3}
    assert worst.missing == {"ugbw": "at corner=ff temp=-40C vdd=1.98V: below unity"}
    assert worst.status == "partial"
    assert [str(p) for p in grid(["tt"], [27, 85])] == ["corner=tt temp=27C", "corner=tt temp=85C"]
    assert str(PVT()) == "nominal"


@pytest.mark.ngspice
@requires_ngspice
def test_pvt_sweep_supply_and_temperature(amp: Path, executor):
    tb = OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8, metric_names=("gain_db", "power_w", "noise_in_v_rthz"))
    points = sweep(tb, {}, grid(temps=[27.0, 127.0], vdds=[1.6, 2.0]), executor)
    assert len(points) == 4
    for pvt, ms in points:
        assert ms.status == "ok"
        assert ms.values["power_w"] == pytest.approx(pvt.vdd**2 / 10e3, rel=1e-9)
        density = math.sqrt(4 * BOLTZMANN * (pvt.temp + 273.15) / (1e-3**2 * 1e6))
        assert ms.values["noise_in_v_rthz"] == pytest.approx(density, rel=1e-3)
    worst = worst_case(points)
    assert worst.values["power_w"] == pytest.approx(2.0**2 / 10e3, rel=1e-9)
    assert worst.values["noise_in_v_rthz"] == pytest.approx(math.sqrt(4 * BOLTZMANN * 400.15 / 1e0), rel=1e-3)


def test_every_option_is_a_documented_field():
    from dataclasses import fields

    from ckt.sim.testbench.opamp import coerce_option, option_fields

    opts = option_fields()
    for name in ("tran_window", "step", "settle_tol", "ac_start", "ac_stop", "corner", "bias", "ibias", "cload",
                 "rload", "vcm", "temp", "noise_band", "follower_window", "follower_cycles", "swing_r"):
        assert name in opts and opts[name].doc, name
    caller = {"netlist", "dut", "ports", "pdk", "models", "metric_names", "timeout_s"}
    assert {f.name for f in fields(OpAmpTestbench) if f.init} == set(opts) | caller  # not the derived ones
    assert coerce_option("tran_window", "20u") == pytest.approx(20e-6)
    assert coerce_option("ac_points", 50.0) == 50 and isinstance(coerce_option("ac_points", "50"), int)
    assert coerce_option("step", None) is None
    assert coerce_option("noise_band", ["1", "10meg"]) == (1.0, 10e6)
    assert coerce_option("bias", {"IBIAS": "20u"}) == {"ibias": pytest.approx(20e-6)}
    assert coerce_option("corner", "ss") == "ss"
    with pytest.raises(CktError, match="unknown testbench option 'tran_windw'.*tran_window"):
        coerce_option("tran_windw", 1.0)
    with pytest.raises(CktError, match="settle_tol: expected a number"):
        coerce_option("settle_tol", "one percent")
    with pytest.raises(CktError, match="ac_points: expected a whole number"):
        coerce_option("ac_points", 2.5)
    with pytest.raises(CktError, match="expected a number"):
        coerce_option("cload", True)


def test_messages_name_knobs_that_exist():
    """Every "raise X" / "set X" advice in the testbench's messages names a real option."""
    import ast

    from ckt.sim.testbench import opamp
    from ckt.sim.testbench.opamp import option_fields

    source = Path(opamp.__file__).read_text()
    texts = [n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    knobs = {m.group(1) for t in texts for m in re.finditer(r"\b(?:raise|set) ([a-z_]+)\b", t)}
    assert knobs >= {"tran_window", "follower_window", "ac_stop"}
    assert knobs <= set(option_fields())


def test_follower_and_pz_decks_are_unity_gain_followers(amp: Path):
    tb = OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8, metric_names=("stable", "rhp_poles"))
    follower, pz = (j.deck for j in tb.jobs())
    assert "Vtb_in tb_inp 0 DC 895m AC 1 PULSE(895m 905m 0 1p 1p 1e6 2e6)" in follower
    assert "Vtb_fb tb_out tb_inn DC 0" in follower and "let tb_tstop = 40/tb_fscale" in follower
    assert ".pz tb_inp 0 tb_out 0 vol pol" in pz and "Ltb_servo" not in pz


@pytest.mark.ngspice
@requires_ngspice
def test_single_pole_follower_is_stable_first_order(amp: Path, executor):
    """Follower of the single-pole amp: tau = C_total / (gm + 1/R), one LHP pole, no overshoot."""
    tb = OpAmpTestbench(amp, "amp", ports=PORTS, vdd=1.8, cload=1e-12, settle_tol=1e-3,
                        metric_names=("stable", "overshoot_pct", "ringing", "step_settling_s", "rhp_poles"))
    ms = measure(tb, {}, executor)
    assert ms.status == "ok", ms.missing
    tau = 2e-12 / (1e-3 + 1e-6)
    assert ms.values["stable"] == 1.0 and ms.values["ringing"] == 0.0 and ms.values["rhp_poles"] == 0.0
    assert ms.values["overshoot_pct"] < 0.01
    assert ms.values["step_settling_s"] == pytest.approx(tau * math.log(1000), rel=2e-2)
