"""The op-amp testbench's refined AC sweep: coarse everywhere, dense only around the loop crossings.

Its metrics must match the dense sweep's (``ac_coarse_points=0``, 100 points per decade everywhere)
on the bundled op-amps and on behavioural single- and two-pole amplifiers, including the cases where a
metric is missing (no 0 dB crossing, a phase that never turns 180°).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ckt.sim import analyses as an
from ckt.sim.deckpolicy import check_deck
from ckt.sim.executor import LocalExecutor
from ckt.sim.testbench.opamp import OpAmpTestbench, measure
from tests.conftest import ROOT, requires_ngspice

METRICS = ("gain_db", "ugbw", "pm_deg", "gm_db", "gbw", "power_w", "offset_v")
# metric -> (absolute, relative) tolerance of refined against dense
TOL = {"gain_db": (1e-9, 0), "ugbw": (0, 2e-4), "pm_deg": (0.02, 0), "gm_db": (0.02, 0), "gbw": (0, 5e-4),
       "power_w": (0, 1e-9), "offset_v": (1e-9, 0)}

PORTS = {"vss": "gnda", "vdd": "vdda", "inn": "vinn", "inp": "vinp", "out": "vout"}
# gm / (r || c) first stage; with two=1 a second gm2 / (r2 || c2) stage (pole at 1/(2 pi r2 c2))
POLES = """* behavioural one- or two-pole op-amp
.param gm=1m r=1meg c=1p gm2=1m r2=10k c2=0.1p two=1
.subckt amp gnda vdda vinn vinp vout
gp gnda x vinp vinn {gm}
r1 x gnda {r}
c1 x gnda {c}
g2 gnda vout x gnda {gm2*two}
e1 vout1 gnda x gnda {1-two}
r2 vout vout1 {r2}
c2 vout gnda {c2}
rdd vdda gnda 10k
.ends amp
.end
"""


@pytest.fixture(scope="module")
def executor():
    with LocalExecutor(2) as ex:
        yield ex


def _compare(dense, refined) -> None:
    assert refined.status == dense.status
    assert refined.missing.keys() == dense.missing.keys()
    assert refined.values.keys() == dense.values.keys()
    for name, value in dense.values.items():
        abs_tol, rel_tol = TOL.get(name, (0, 0))
        assert math.isclose(refined.values[name], value, abs_tol=abs_tol, rel_tol=rel_tol), \
            (name, refined.values[name], value)


def _both(make, params, executor):
    dense = measure(make(0), params, executor)
    refined = measure(make(10), params, executor)
    return dense, refined


def test_the_refined_deck_is_one_policy_clean_control_script() -> None:
    text = an.render(an.RefinedAc(an.Ac(1, 1e11, 100), "tb_out", "tb_inp", "tb_inn"))
    assert text.startswith(".control\nop\nac dec 10 1 ")
    assert text.count("ac dec 100 ") == 3 and text.endswith(".endc")
    deck = "t\nr1 tb_out 0 1k\n" + text + "\n.end\n"
    assert check_deck(deck, source="<testbench>", run_dir="/tmp").ok
    with pytest.raises(Exception, match="window"):
        an.RefinedAc(an.Ac(1, 10), "a", "b", "c", window=1.0)


def test_dense_stays_available(tmp_path: Path) -> None:
    path = tmp_path / "amp.cir"
    path.write_text(POLES)
    dense = OpAmpTestbench(path, "amp", ports=PORTS, vdd=1.8, ac_coarse_points=0).jobs()[0].deck
    assert ".ac dec 100 1 " in dense and ".control" not in dense
    assert ".control" in OpAmpTestbench(path, "amp", ports=PORTS, vdd=1.8).jobs()[0].deck
    # ngspice -b does not hand back a script's plots: the subprocess backend keeps the plain sweep
    batch = OpAmpTestbench(path, "amp", ports=PORTS, vdd=1.8, backend="subprocess").jobs()[0].deck
    assert ".ac dec 100 1 " in batch and ".control" not in batch
    with pytest.raises(Exception, match="ac_coarse_points"):
        OpAmpTestbench(path, "amp", ports=PORTS, vdd=1.8, ac_coarse_points=-1)


@requires_ngspice
@pytest.mark.parametrize("netlist,dut,pdk,vdd", [
    ("two_stage_miller.cir", "miller_opamp", "ptm45", 1.2),
    ("folded_cascode.cir", "folded_cascode", "ptm180", 1.8),
    ("ota_5t.cir", "ota5t", "ptm180", 1.8),
])
def test_bundled_opamps_match_the_dense_sweep(netlist, dut, pdk, vdd, executor) -> None:
    def make(coarse):
        return OpAmpTestbench(ROOT / "netlists" / netlist, dut, pdk=pdk, vdd=vdd, cload=1e-12,
                              metric_names=METRICS, ac_coarse_points=coarse)

    dense, refined = _both(make, {}, executor)
    assert "ugbw" in dense.values and "pm_deg" in dense.values
    _compare(dense, refined)
    assert len(refined.bode[0]) < len(dense.bode[0]) / 3


@requires_ngspice
@pytest.mark.parametrize("params", [
    {"two": 0, "r2": 1},                          # single pole: 90 deg margin, no phase crossover
    {"two": 1},                                   # two poles, second above the crossover
    {"two": 1, "c2": 2e-12},                      # second pole below the crossover: small margin
    {"two": 1, "gm": 1e-9},                       # gain below unity: no 0 dB crossing at all
    {"two": 1, "gm": 0},                          # an output that never moves: a dead design, not an error
])
def test_pole_cases_match_the_dense_sweep(params, tmp_path: Path, executor) -> None:
    path = tmp_path / "amp.cir"
    path.write_text(POLES)

    def make(coarse):
        return OpAmpTestbench(path, "amp", ports=PORTS, vdd=1.8, metric_names=METRICS, ac_coarse_points=coarse)

    dense, refined = _both(make, params, executor)
    _compare(dense, refined)
    if params.get("two") == 0:
        gain = 1e-3 * 1e6  # gm * r
        assert math.isclose(refined.values["ugbw"], gain / (2 * math.pi * 1e6 * 1e-12), rel_tol=1e-3)
        assert math.isclose(refined.values["pm_deg"], 90, abs_tol=0.1)
    if params.get("gm") == 1e-9:
        assert "ugbw" in refined.missing
    if params.get("gm") == 0:
        assert refined.status != "error" and "exactly zero" in refined.missing["gain_db"]
