"""Monte Carlo mismatch samples: the switch and seed reach the deck, PDKs without mismatch are
refused, and a real sky130 sample reproduces from its seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ckt.errors import CktError, PdkError
from ckt.netlist.parse_spice import parse_spice
from ckt.sim.montecarlo import mismatch_switch, sample, sample_seeds, with_mismatch
from ckt.sim.testbench.opamp import OpAmpTestbench
from tests.conftest import requires_ngspice

OTA = Path(__file__).resolve().parents[2] / "netlists" / "ota_5t.cir"


def test_switch_and_seed_are_written_after_the_pdk_include():
    tb = OpAmpTestbench(OTA, "ota5t", pdk="sky130", metric_names=("gain_db",))
    deck = sample(tb, 42).jobs({})[0].deck
    lines = deck.splitlines()
    lib = next(i for i, s in enumerate(lines) if "sky130_min_tt.lib.spice" in s)
    switch = lines.index(".param mc_mm_switch=1")
    assert switch > lib  # the library sets it to 0: the later definition must be ours
    assert ".options seed=42" in lines
    assert "mc_mm_switch" not in tb.jobs({})[0].deck.split("sky130_min_tt.lib.spice")[1].split(".subckt")[0]


def test_with_mismatch_replaces_an_earlier_switch_and_seed():
    net = parse_spice("* t\n.param mc_mm_switch=0\n.options seed=3\n.options reltol=1e-4 SEED = 4\n"
                      "r1 a 0 1k\n.end\n")
    out = with_mismatch(with_mismatch(net, "mc_mm_switch", 5), "mc_mm_switch", 9)
    assert [(p.name, p.value) for p in out.params] == [("mc_mm_switch", 1.0)]
    assert [s.text for s in out.statements if s.keyword.startswith("opt")] == [".options reltol=1e-4",
                                                                              ".options seed=9"]


def test_pdks_without_mismatch_are_refused_clearly():
    assert mismatch_switch("sky130") == "mc_mm_switch"
    with pytest.raises(PdkError, match=r"PDK ptm180: its models carry no device mismatch.*with mismatch: sky130"):
        mismatch_switch("ptm180")
    with pytest.raises(PdkError, match="needs a PDK"):
        mismatch_switch(None)
    tb = OpAmpTestbench(OTA, "ota5t", pdk="ptm180", metric_names=("gain_db",))
    with pytest.raises(PdkError, match="no device mismatch"):
        sample(tb, 1)


def test_sample_seeds():
    assert sample_seeds(7, 3) == (7, 8, 9)
    with pytest.raises(CktError, match="positive"):
        sample_seeds(0, 3)
    with pytest.raises(CktError, match="at least 1"):
        sample_seeds(1, 0)


@pytest.mark.ngspice
@requires_ngspice
def test_real_sky130_sample_reproduces_from_its_seed():
    from ckt.sim.executor import make_executor

    tb = OpAmpTestbench(OTA, "ota5t", pdk="sky130", metric_names=("gain_db", "power_w"))
    benches = [sample(tb, 5), sample(tb, 6), sample(tb, 5), tb]
    with make_executor("local", workers=2) as ex:
        results = ex.map([j for b in benches for j in b.jobs({})])
    a, b, again, nominal = (bench.metrics([r]).values for bench, r in zip(benches, results))
    assert a == again  # same seed, same draw (on whichever worker ran it)
    assert a["gain_db"] != pytest.approx(b["gain_db"], abs=1e-6)
    assert a["gain_db"] != pytest.approx(nominal["gain_db"], abs=1e-6)
    assert abs(a["gain_db"] - nominal["gain_db"]) < 3  # mismatch, not a broken circuit
