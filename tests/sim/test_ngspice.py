"""The shared and subprocess backends against real ngspice, and reading decks and logs: values, vectors, chatter, failures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ckt.errors import ConvergenceError, SimulationError, SimulationTimeout
from ckt.sim import SimResult, simulate
from ckt.sim.backends.vectors import vector_key
from ckt.sim.decktext import include_paths, meas_names
from ckt.sim.log import read_log
from ckt.sim.result import SimJob, Status
from tests.conftest import ROOT, requires_ngspice, shared

R, C = 1e3, 1e-9
RC_DECK = f"""rc low-pass
r1 in out {R}
c1 out 0 {C}
vin in 0 dc 0 ac 1
.ac dec 200 1 1g
.meas ac f3db when vdb(out)=-3.0103
.meas ac never when vdb(out)=-300
.end
"""

GM, RO, CO = 2e-3, 50e3, 1e-12
AMP_DECK = f"""behavioural single-pole amplifier
vin in 0 dc 0 ac 1
g1 0 out in 0 {GM}
ro out 0 {RO}
co out 0 {CO}
.ac dec 20 1 10g
.op
.end
"""

NONCONVERGENT_DECK = """diode with an absurd emission coefficient
vin in 0 dc 1
d1 in 0 dmod
.model dmod d is=1e-14 n=0.0001
.op
.end
"""

def _card(name: str) -> str:
    """A PTM card: the copy bundled in ``pdk_models/ptm``, else the reference data's."""
    bundled = ROOT / "pdk_models" / "ptm" / name
    return str(bundled) if bundled.exists() else str(shared("pdk", "ptm", name))


def _mos_deck(card: str, model: str, length: str, vdd: float) -> str:
    return f"""common-source stage on a PTM card
.include "{card}"
m1 out in 0 0 {model} w=1u l={length}
vin in 0 dc {vdd / 2} ac 1
vdd vdd 0 {vdd}
rl vdd out 10k
.ac dec 10 1 1g
.meas ac gain find vm(out) at=10
.end
"""


@pytest.mark.parametrize("backend", ["shared", "subprocess"])
@pytest.mark.ngspice
@requires_ngspice
def test_rc_corner_frequency(backend: str) -> None:
    result = simulate(RC_DECK, backend=backend)
    assert result.ok, result.message
    expected = 1 / (2 * math.pi * R * C)
    assert result.measurements["f3db"] == pytest.approx(expected, rel=5e-3)
    assert "never" in result.measurements and result.measurements["never"] is None
    assert "failed" in result.log


@pytest.mark.ngspice
@requires_ngspice
def test_vectors_of_single_pole_amplifier() -> None:
    result = simulate(AMP_DECK, vectors=True).raise_for_status()
    ac = result.vectors["ac1"]
    freq, out = ac["frequency"], ac["v(out)"]
    assert np.iscomplexobj(out) and not np.iscomplexobj(freq) and freq.shape == out.shape
    assert abs(out[0]) == pytest.approx(GM * RO, rel=1e-6)
    pole = 1 / (2 * math.pi * RO * CO)
    k = int(np.argmin(abs(freq - pole)))
    assert abs(out[k]) == pytest.approx(GM * RO / math.sqrt(1 + (freq[k] / pole) ** 2), rel=1e-6)
    op = result.vectors["op1"]
    assert op["v(in)"][0] == 0.0 and "i(vin)" in op
    assert simulate(AMP_DECK).vectors == {}


@pytest.mark.ngspice
@requires_ngspice
def test_subprocess_backend_matches_shared() -> None:
    deck = RC_DECK.replace(".end\n", ".meas ac mag1k find vm(out) at=1k\n.end\n")
    shared_result = simulate(deck, vectors=True)
    sub_result = simulate(deck, vectors=True, backend="subprocess")
    assert shared_result.ok and sub_result.ok, sub_result.message
    assert sub_result.measurements.keys() == shared_result.measurements.keys()
    assert shared_result.measurements["never"] is None and sub_result.measurements["never"] is None
    for name in ("f3db", "mag1k"):
        assert sub_result.measurements[name] == pytest.approx(shared_result.measurements[name], rel=1e-5)
    a, b = shared_result.vectors["ac1"], sub_result.vectors["ac1"]
    assert set(a) == set(b)
    np.testing.assert_allclose(b["v(out)"], a["v(out)"], rtol=1e-9)


@pytest.mark.parametrize(
    ("card", "model", "length", "vdd", "chatter"),
    [
        ("ptm45nm_bulk_autockt.txt", "nmos", "90n", 1.2, "BSIM 4.5"),
        ("ptm180nm_bsim3.pm", "NMOS", "180n", 1.8, "unrecognized parameter"),
    ],
)
@pytest.mark.ngspice
@requires_ngspice
def test_model_card_chatter_is_not_an_error(card, model, length, vdd, chatter) -> None:
    deck = _mos_deck(_card(card), model, length, vdd)
    result = simulate(deck)
    assert result.ok, result.message
    assert chatter in result.log
    assert result.measurements["gain"] > 1


@pytest.mark.parametrize("backend", ["shared", "subprocess"])
@pytest.mark.ngspice
@requires_ngspice
def test_malformed_deck_is_an_error_with_ngspice_message(backend: str) -> None:
    deck = "bad deck\nx1 in out nosuchamp\nvin in 0 dc 0 ac 1\nr1 out 0 1k\n.ac dec 10 1 1g\n.end\n"
    result = simulate(deck, backend=backend)
    assert result.status == "error"
    assert "unknown subckt" in result.message.lower()
    with pytest.raises(SimulationError) as info:
        result.raise_for_status(netlist=deck)
    assert info.value.netlist == deck and "unknown subckt" in info.value.log


@pytest.mark.ngspice
@requires_ngspice
def test_missing_model_and_missing_include_are_errors() -> None:
    no_model = "m\nm1 out in 0 0 nosuchmodel w=1u l=1u\nvin in 0 dc 1\nr1 out 0 1k\n.op\n.end\n"
    result = simulate(no_model)
    assert result.status == "error" and "circuit not parsed" in result.message
    no_file = 'title\n.include "/nonexistent/ckt/models.lib"\nr1 in 0 1k\nvin in 0 dc 1\n.op\n.end\n'
    result = simulate(no_file)
    assert result.status == "error" and "/nonexistent/ckt/models.lib" in result.message


# A negative resistor against a cubic conductance: the transient step collapses at once.
TIMESTEP_DECK = """timestep too small
v1 in 0 pulse(0 1 0 1p 1p 1n 2n)
r1 in out -1
c1 out 0 1p
b1 out 0 i=v(out)**3*1e6
.tran 1p 10n
.end
"""


@pytest.mark.parametrize("deck", [NONCONVERGENT_DECK, TIMESTEP_DECK], ids=["op", "tran"])
@pytest.mark.parametrize("backend", ["shared", "subprocess"])
@pytest.mark.ngspice
@requires_ngspice
def test_nonconvergence(deck: str, backend: str) -> None:
    result = simulate(deck, backend=backend)
    assert result.status == "nonconvergence", result.log
    with pytest.raises(ConvergenceError):
        result.raise_for_status()


@pytest.mark.ngspice
@requires_ngspice
def test_control_block_settings_do_not_leak_into_the_next_deck() -> None:
    probe = "probe\nr1 a 0 1k\nv1 a 0 1\n.op\n.control\nrun\necho units=$units numdgt=$&numdgt\n.endc\n.end\n"
    before = simulate(probe).log
    simulate("setter\nr1 a 0 1k\nv1 a 0 1\n.op\n.control\nset units=degrees\noption numdgt=9\nunset nomoremode\nrun\n.endc\n.end\n")
    assert simulate(probe).log == before
    assert "degrees" not in before


@pytest.mark.parametrize("backend", ["shared", "subprocess"])
@pytest.mark.ngspice
@requires_ngspice
def test_deck_without_end_line_runs(backend: str) -> None:
    result = simulate(RC_DECK.replace(".end\n", ""), backend=backend)
    assert result.ok, result.message
    assert result.measurements["f3db"] == pytest.approx(1 / (2 * math.pi * R * C), rel=5e-3)


@pytest.mark.ngspice
@requires_ngspice
def test_subprocess_timeout() -> None:
    hang = "hang\nr1 a 0 1\nv1 a 0 1\n.control\nwhile 1\nend\n.endc\n.end\n"
    result = simulate(hang, backend="subprocess", timeout_s=0.5)
    assert result.status == "timeout"
    with pytest.raises(SimulationTimeout):
        result.raise_for_status()


def test_deck_reading_helpers() -> None:
    deck = (
        "title .meas ac fake when x=1\n"
        "* .meas ac commented when v(x)=1\n"
        ".include '/models/a.lib'\n"
        '.lib "/models/b.lib" tt\n'
        ".MEASURE AC Gain FIND vdb(out)\n+ AT=1k\n"
        ".meas tran delay=trig v(a) val=0.5 rise=1 targ v(b) val=0.5 rise=1\n"
        ".control\nmeas ac ugbw when vdb(out)=0\n.endc\n.end\n"
    )
    assert meas_names(deck) == ["gain", "delay", "ugbw"]
    assert include_paths(deck) == ["/models/a.lib", "/models/b.lib"]
    # a "* ..." title is the title: the line after it is the deck's first statement (prepared decks
    # start with "* untitled" and an include, which cache keys and reuse stamps once missed)
    assert include_paths("* untitled\n.include '/models/a.lib'\n+ \n.end\n") == ["/models/a.lib"]
    assert include_paths(".include '/models/a.lib'\n", title=False) == ["/models/a.lib"]
    assert vector_key("vin#branch", 4) == "i(vin)"
    assert vector_key("OUT", 3) == "v(out)"
    assert vector_key("v-sweep", 3) == "v-sweep"
    assert vector_key("frequency", 2) == "frequency"


def test_read_log_classifies_output() -> None:
    deck = "t\n.meas ac a find v(x) at=1\n.meas ac b find v(y) at=1\n.end\n"
    chatter = ["Checking parameters for BSIM 4.5 model nmos", "Warning: ckappas = 0.01 is too small.",
               "a                   =  1.500000e+00 at=  1.000000e+00",
               "Error: no such vector as v(y).", ".meas ac b find v(y) at=1 failed!"]
    reading = read_log(chatter, deck)
    assert reading.status == "ok" and reading.measurements == {"a": 1.5, "b": None}
    broken = read_log(["ERROR: AC startfreq <= 0", "run simulation(s) aborted"], deck)
    assert broken.status == "error" and "AC startfreq" in broken.message
    stuck = read_log(["doAnalyses: TRAN:  Timestep too small; time = 1e-9", "run simulation(s) aborted"], deck)
    assert stuck.status == "nonconvergence"
    assert read_log([], deck, failed="ngspice -b exited with status 1").status == "error"


def test_result_and_job_validation() -> None:
    with pytest.raises(ValueError, match="status"):
        SimResult(status="fine")
    with pytest.raises(ValueError, match="backend"):
        SimJob("t\n.end\n", backend="spectre")
    with pytest.raises(ValueError, match="timeout"):
        SimJob("t\n.end\n", timeout_s=0)
    assert SimJob("t\n.end\n", files=["/a"]).files == ("/a",)
    assert SimResult(status="ok").raise_for_status().ok
    assert SimResult(status="timeout").status is Status.TIMEOUT and f"{Status.TIMEOUT}" == "timeout"
