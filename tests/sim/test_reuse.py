"""Loaded circuits re-run for decks that differ only in ``.param`` values: the results are those of a fresh load.

Every reuse test runs each deck twice, once on whatever the session holds (``reuse=True``) and once
loaded afresh (``reuse=False``), and compares status, message, measurements and every vector exactly.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from ckt.sim.backends import NgspiceRunner
from ckt.sim.backends.reuse import loaded_deck, param_changes, policy_skeleton
from ckt.sim.backends.shared import SharedSession
from ckt.sim.deck import prepare_deck
from ckt.sim.result import SimJob, SimResult, Status
from ckt.sim.testbench.opamp import OpAmpTestbench
from tests.conftest import ROOT, requires_ngspice

AUTOCKT = ROOT / "netlists" / "autockt_two_stage.cir"
MILLER = ROOT / "netlists" / "two_stage_miller.cir"

RC = """rc low-pass with parameters
.param r=1k c=1n
.param tau={r*c}
r1 in out {r}
c1 out 0 {c}
vin in 0 dc 0 ac 1
.ac dec 20 1 1g
.meas ac f3db when vdb(out)=-3.0103
.end
"""


# ---- what a loaded deck lets change (no ngspice) ---------------------------------------------


def test_decks_differing_only_in_param_values_run_on_the_loaded_circuit() -> None:
    loaded = loaded_deck(RC)
    assert loaded is not None and sorted(loaded.params.values()) == [("r", "c")]
    assert param_changes(loaded, RC.replace("r=1k c=1n", "r=2.2k c=470p")) == (("r", "2.2k"), ("c", "470p"))
    assert param_changes(loaded, RC.replace("r=1k c=1n", "r=1k c=2n")) == (("c", "2n"),)
    assert param_changes(loaded, RC) == ()


def test_a_topology_analysis_or_title_change_needs_a_fresh_load() -> None:
    loaded = loaded_deck(RC)
    for other in (RC.replace("c1 out 0 {c}", "c1 out 0 {c}\nc2 out 0 1p"), RC.replace("dec 20", "dec 21"),
                  RC.replace("rc low-pass", "rc low pass"), RC.replace("r=1k c=1n", "c=1n r=1k"),
                  RC.replace("r=1k c=1n", "r={2k} c=1n"), RC.replace("r1 in out {r}", "r1 in out {c}")):
        assert param_changes(loaded, other) is None, other


def test_expression_and_subcircuit_params_never_change_on_a_loaded_circuit() -> None:
    loaded = loaded_deck(RC)
    assert param_changes(loaded, RC.replace("{r*c}", "{2*r*c}")) is None  # an expression: not a literal line
    sub = ".subckt cell a b\n.param k=2\nr1 a b {k}\n.ends\n"
    deck = "t\n" + sub + "x1 1 0 cell\nv1 1 0 1\n.op\n.end\n"
    cell = loaded_deck(deck)
    assert cell is not None and cell.params == {}
    assert param_changes(cell, deck.replace("k=2", "k=3")) is None
    continued = loaded_deck("t\n.param a=1\n+ b=2\nr1 1 0 {a+b}\nv1 1 0 1\n.op\n.end\n")
    assert continued is not None and continued.params == {}


def test_control_decks_unreadable_and_duplicate_params_are_never_shared() -> None:
    assert loaded_deck(RC.replace(".end", ".control\nrun\n.endc\n.end")) is None
    assert loaded_deck(RC.replace(".param tau", ".param r=2k\n.param tau")) is None
    opaque = loaded_deck(RC.replace(".param tau={r*c}", ".param tau = { r * c }"))
    assert opaque is not None and opaque.params == {}  # names unknown: nothing may change


def test_an_included_file_that_changes_needs_a_fresh_load(tmp_path: Path) -> None:
    card = tmp_path / "card.lib"
    card.write_text(".model dmod d is=1e-14\n")
    old = time.time() - 100
    os.utime(card, (old, old))
    deck = f'diode\n.include "{card}"\n.param v=1\nd1 a 0 dmod\nv1 a 0 {{v}}\n.op\n.end\n'
    loaded = loaded_deck(deck)
    assert param_changes(loaded, deck.replace("v=1", "v=2")) == (("v", "2"),)
    card.write_text(".model dmod d is=2e-14\n")
    assert param_changes(loaded, deck.replace("v=1", "v=2")) is None


# ---- against ngspice --------------------------------------------------------------------------


def _same(reused: SimResult, fresh: SimResult) -> None:
    assert reused.status == fresh.status
    assert reused.message == fresh.message
    assert reused.measurements == fresh.measurements
    assert reused.vectors.keys() == fresh.vectors.keys()
    for plot, vectors in fresh.vectors.items():
        assert reused.vectors[plot].keys() == vectors.keys(), plot
        for name, array in vectors.items():
            np.testing.assert_array_equal(reused.vectors[plot][name], array, err_msg=f"{plot}.{name}")


def _sequence(session: SharedSession, jobs: list[SimJob]) -> list[SimResult]:
    """Each job run in turn on what the session holds, each checked against its fresh load (run first).

    libngspice's results depend on the deck run just before, fresh loads included (AC vectors move at
    ~1e-10 relative after another circuit's deck), so the first job also runs once before the
    references: each run then follows the same deck in both passes.
    """
    session.run(SimJob(jobs[0].deck, files=jobs[0].files, reuse=False))
    fresh = [session.run(SimJob(j.deck, vectors=j.vectors, files=j.files, reuse=False)) for j in jobs]
    assert session.loaded is None  # a fresh-only job keeps nothing
    reused = [session.run(j) for j in jobs]
    for r, f in zip(reused, fresh):
        _same(r, f)
    return reused


def _autockt(**overrides: str) -> SimJob:
    deck, files = prepare_deck(AUTOCKT, overrides=overrides)
    return SimJob(deck, vectors=True, files=files)


@requires_ngspice
def test_autockt_designs_on_a_loaded_circuit_equal_fresh_loads() -> None:
    session = SharedSession.get()
    designs = [{}, {"cc": "1.5p", "wp1": "0.7u"}, {"mn1": "20", "ibias": "12u", "vcm": "0.55"},
               {"ln5": "0.12u", "cload": "2p"}, {"ln5": "0.12u", "cload": "2p"}, {}]
    reused = _sequence(session, [_autockt(**d) for d in designs])
    assert all(r.ok and r.measurements["gain"] is not None for r in reused)
    assert len({r.measurements["gain"] for r in reused}) == 4
    assert ["Reset re-loads circuit" in r.log for r in reused] == [False, True, True, True, False, True]
    assert session.loaded is not None


@requires_ngspice
def test_a_topology_change_loads_afresh_and_the_old_circuit_stays_usable() -> None:
    session = SharedSession.get()
    changed = _autockt(cc="2p")
    extra = SimJob(changed.deck.replace("\n.end", "\nrextra net6 0 1meg\n.end"), vectors=True, files=changed.files)
    reused = _sequence(session, [_autockt(), extra, changed, _autockt(cc="2.5p")])
    assert "Reset re-loads" not in reused[1].log and "Reset re-loads" not in reused[2].log
    assert reused[1].measurements["gain"] != reused[2].measurements["gain"]  # rextra loads the output
    assert "Reset re-loads" in reused[3].log


@requires_ngspice
def test_a_failed_run_drops_its_circuit_and_the_next_design_is_right() -> None:
    session = SharedSession.get()
    diode = "diode with a parameterised area\n.param g=1\nv1 c 0 1\nr1 c a 1k\nd1 a 0 dmod area={g}\n" \
            ".model dmod d is=1e-14\n.op\n.end\n"
    jobs = [SimJob(diode.replace("g=1", f"g={g}"), vectors=True) for g in ("1", "-1")]
    ok, bad = _sequence(session, jobs)
    assert ok.ok and bad.status == Status.NONCONVERGENCE and "Reset re-loads" in bad.log
    assert session.loaded is None
    again = _sequence(session, [jobs[0], SimJob(diode.replace("g=1", "g=2"), vectors=True)])
    assert "Reset re-loads" in again[1].log


@requires_ngspice
def test_a_reset_that_fails_gives_the_fresh_load_s_error() -> None:
    session = SharedSession.get()
    deck = "division\n.param x=2\nv1 a 0 {1/x}\nr1 a 0 1k\n.op\n.end\n"
    reused = _sequence(session, [SimJob(deck.replace("x=2", f"x={x}"), vectors=True) for x in ("2", "0", "2", "4")])
    assert [r.ok for r in reused] == [True, False, True, True]
    assert "Reset re-loads" not in reused[1].log and "Reset re-loads" in reused[3].log


@requires_ngspice
def test_a_control_deck_between_designs_leaks_nothing() -> None:
    session = SharedSession.get()
    session.run(_autockt())
    control = """control deck that changes the interpreter and its own circuit
.param r=1k
r1 a 0 {r}
v1 a 0 1
.control
set noaskquit
alterparam r=5k
reset
op
print v1#branch
.endc
.end
"""
    out = session.run(SimJob(control, vectors=True))
    assert out.ok and "-2.00000e-04" in out.log and session.loaded is None
    assert session.run(SimJob(control, vectors=True)).log == out.log
    reused = _sequence(session, [_autockt(), SimJob(control, vectors=True), _autockt(cc="1.2p"), _autockt(cc="1.3p")])
    assert "Reset re-loads" not in reused[2].log and "Reset re-loads" in reused[3].log
    assert "noaskquit" not in session._variables()


@requires_ngspice
def test_vectors_of_one_job_never_reach_the_next() -> None:
    session = SharedSession.get()
    tran = SimJob("rc step\n.param r=1k\nr1 a b {r}\nc1 b 0 1n\nv1 a 0 pulse(0 1 0 1n 1n 1u 2u)\n"
                  ".tran 10n 2u\n.end\n", vectors=True)
    session.run(tran)
    ac = session.run(_autockt(cc="1.1p"))
    assert list(ac.vectors) == ["ac1"]
    again = session.run(SimJob(tran.deck.replace("r=1k", "r=2k"), vectors=True))
    assert list(again.vectors) == ["tran1"]


@requires_ngspice
def test_the_deck_policy_still_refuses_on_a_loaded_shape(tmp_path: Path) -> None:
    runner = NgspiceRunner()
    base = _autockt()
    assert runner.run(base).ok
    target = tmp_path / "pwned"
    hostile = base.deck.replace(".end", f".control\nrun\nshell touch {target}\n.endc\n.end")
    result = runner.run(SimJob(hostile, files=base.files, source="evil.cir"))
    assert result.status == Status.ERROR and "shell" in result.message.lower()
    assert not target.exists()


@requires_ngspice
def test_opamp_testbench_decks_on_loaded_circuits_equal_fresh_loads() -> None:
    # the dense sweep: the refined one is a .control script, which is always loaded afresh
    tb = OpAmpTestbench(MILLER, "miller_opamp", pdk="ptm45", ac_coarse_points=0,
                        metric_names=("gain_db", "ugbw", "gbw", "power_w", "cmrr_db", "swing_v"))
    session = SharedSession.get()
    designs = [{}, {"w6": 12e-6, "cc": 0.6e-12}, {"ibias": 6e-6, "l2": 250e-9}, {}]
    for design in designs:
        jobs = tb.jobs(design)
        fresh = [session.run(SimJob(j.deck, vectors=True, files=j.files, reuse=False)) for j in jobs]
        reused = [session.run(job) for job in jobs]
        for r, f in zip(reused, fresh):
            _same(r, f)
        assert tb.metrics(reused).values == tb.metrics(fresh).values
        assert tb.metrics(fresh).values["gain_db"] > 40
    # the ac deck of one design after another's: on the loaded circuit
    by_design = [tb.jobs(d)[0] for d in designs]
    assert "Reset re-loads" in _sequence(session, by_design)[-1].log


@requires_ngspice
def test_memory_release_keeps_the_loaded_circuits_in_step(monkeypatch: pytest.MonkeyPatch) -> None:
    session = SharedSession.get()
    monkeypatch.setattr(SharedSession, "_RELEASE_EVERY", 2)
    _sequence(session, [_autockt(cc=cc) for cc in ("1p", "2p", "3p", "4p", "5p")])
    assert session._circuit_count() == 1 and session.loaded is not None


@requires_ngspice
def test_a_control_deck_with_circuit_options_runs_and_leaves_them_behind() -> None:
    # ngspice lists a circuit's options (.temp, .options) among its variables as "+ name"; unsetting
    # one after the deck freed it twice and killed the process.
    session = SharedSession.get()
    deck = "hot\n.temp 127\n.options reltol=1e-4\nr1 a 0 1k\nv1 a 0 1\n.control\nop\nprint v(a)\n.endc\n.end\n"
    out = session.run(SimJob(deck))
    assert out.ok and "TEMP = 127" in out.log and session.alive
    later = session.run(_autockt())
    assert later.ok and "TEMP = 27" in later.log


# ---- the deck policy's verdicts, remembered for decks that differ only in .param values -------


def test_policy_skeleton_drops_only_literal_param_values() -> None:
    assert policy_skeleton(RC) == policy_skeleton(RC.replace("r=1k c=1n", "r=2k c=3n"))
    assert policy_skeleton(RC) != policy_skeleton(RC.replace("r=1k c=1n", "r={2k} c=3n"))
    control = RC.replace(".end", ".control\nrun\n.param r=5k\n.endc\n.end")
    assert policy_skeleton(control) == policy_skeleton(control.replace("r=1k c=1n", "r=2k c=3n"))
    assert ".param r=5k" in policy_skeleton(control)  # script lines stay as they are
    unterminated = RC.replace(".param r=1k c=1n", ".controls\n.param r=1k c=1n")  # runs to the end
    assert "r=1k c=1n" in policy_skeleton(unterminated)


@requires_ngspice
def test_a_clean_verdict_is_reused_until_an_included_file_changes(tmp_path: Path, monkeypatch) -> None:
    import ckt.sim.backends as backends

    calls = []
    real = backends.check_deck

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(backends, "check_deck", counting)
    card = tmp_path / "card.lib"
    card.write_text(".model dmod d is=1e-14\n")
    old = time.time() - 100
    os.utime(card, (old, old))
    deck = f'diode\n.include "{card}"\n.param v=1\nd1 a 0 dmod\nr1 b a 1k\nv1 b 0 {{v}}\n.op\n.end\n'
    runner = NgspiceRunner()
    assert runner.run(SimJob(deck)).ok and runner.run(SimJob(deck.replace("v=1", "v=2"))).ok
    assert len(calls) == 1  # the second design's deck differs only in a .param value
    card.write_text(".model dmod d is=1e-14\n.option sourcepath=/tmp\n")
    refused = runner.run(SimJob(deck.replace("v=1", "v=3")))
    assert refused.status == Status.ERROR and "sourcepath" in refused.message
    assert runner.run(SimJob(deck.replace("v=1", "v=3"))).status == Status.ERROR  # refusals are never remembered
    assert len(calls) == 3
