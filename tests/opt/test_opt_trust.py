"""Sizing answers a designer can trust: each test reproduces a wrong answer the loop used to give
(stale reuse, names nothing measures, hidden failures, margins, stability, environment faults)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ckt.errors import EnvironmentFailure, RunLockedError, SpecError, UnknownNameError
from ckt.opt.evaluator import Outcome
from ckt.opt.history import LOCK_NAME, RunFolder
from ckt.opt.space import Variable
from ckt.opt.spec import Objective, Spec, Target, parse_spec, tb_fields
from tests.conftest import requires_ngspice
from tests.opt.fakes import (
    TOY_INITIAL,
    TOY_NAMES,
    FakeEvaluator,
    run_sizing,
    toy_opamp,
    toy_spec,
)

# ------------------------------------------------------------------ names nothing measures


def test_a_name_nothing_measures_stops_before_the_first_simulation(tmp_path):
    spec = Spec(toy_spec().variables, (Target("gain", lo=60),), Objective("power_w"))  # "gain", not "gain_db"
    ev = FakeEvaluator(toy_opamp, provides=TOY_NAMES)
    with pytest.raises(UnknownNameError) as info:
        run_sizing(spec, ev, out_dir=tmp_path, budget=8, method="random", initial=TOY_INITIAL)
    assert ev.calls == []
    assert info.value.missing == ("gain",) and "gain_db" in info.value.known
    assert "nothing measures gain;" in str(info.value) and "gain_db" in str(info.value)
    assert not (tmp_path / "result.json").exists()


def test_derived_names_are_checked_and_may_read_variables(tmp_path):
    typo = Spec(toy_spec().variables, (Target("gain_db", lo=40),), Objective("area"),
                derived=(("area", "w1 * w2 * lenght"),))
    with pytest.raises(UnknownNameError, match=r"lenght \(in derived\.area\)"):
        run_sizing(typo, FakeEvaluator(toy_opamp, provides=TOY_NAMES), out_dir=tmp_path / "a", budget=4,
                   method="random")
    area = Spec(toy_spec().variables, (Target("gain_db", lo=40),), Objective("area"),
                derived=(("area", "w1 * w2 + 0 * pi"),))
    r = run_sizing(area, FakeEvaluator(toy_opamp, provides=TOY_NAMES), out_dir=tmp_path / "b", budget=8,
                   method="random", seed=1, initial=TOY_INITIAL, progress=False)
    p = r.best["params"]
    assert r.best["metrics"]["area"] == pytest.approx(p["w1"] * p["w2"])


# ------------------------------------------------------------------ stability implied by pm_deg


def test_pm_target_implies_closed_loop_stability():
    spec = toy_spec()
    (stable,) = [t for t in spec.targets if t.name == "stable"]
    assert stable.lo == 1.0 and stable.implied_by == "pm_deg"
    values = dict(toy_opamp(TOY_INITIAL).values)
    pm_only = {k: v for k, v in values.items() if k != "stable"}
    assert not spec.score(pm_only).valid  # a phase margin alone no longer makes a design feasible
    values["stable"] = 0.0
    assert spec.score(values).violation > 0
    opt_out = Spec(spec.variables, spec.targets[:3], spec.objective, spec.derived, unchecked_stability=True)
    assert [t.name for t in opt_out.targets] == ["gain_db", "ugbw", "pm_deg"]


DECK_SPEC = """\
variables:
  r1: {min: 1k, max: 10k}
targets:
  pm_deg: {min: 60}
"""


def test_deck_without_stability_measure_is_refused_unless_opted_out(tmp_path):
    ev = FakeEvaluator(lambda p: Outcome("ok", {"pm_deg": 70.0}), provides=["pm_deg"])
    with pytest.raises(UnknownNameError, match="stable .implied by a pm_deg target.*unchecked_stability: true"):
        run_sizing(parse_spec(DECK_SPEC), ev, out_dir=tmp_path / "a", budget=2, method="random")
    spec = parse_spec(DECK_SPEC + "unchecked_stability: true\n")
    r = run_sizing(spec, ev, out_dir=tmp_path / "b", budget=2, method="random", progress=False)
    assert r.feasible and "stable" not in r.targets


def test_report_shows_the_implied_stability_target(tmp_path):
    r = run_sizing(toy_spec(), FakeEvaluator(toy_opamp, provides=TOY_NAMES), out_dir=tmp_path, budget=8,
                   method="random", initial=TOY_INITIAL, progress=False)
    assert r.targets["stable"]["implied_by"] == "pm_deg"
    assert "stable (implied by pm_deg: closed-loop stable)" in (tmp_path / "report.md").read_text()


# ------------------------------------------------------------------ margin


@pytest.mark.parametrize("text", ["5%", "0.05"])
def test_margin_reads_as_percent_or_fraction(text):
    assert parse_spec(DECK_SPEC + f"margin: {text}\nunchecked_stability: true\n").margin == pytest.approx(0.05)


def test_margin_errors():
    with pytest.raises(SpecError, match="margin: expected a fraction"):
        parse_spec(DECK_SPEC + "margin: 150%\n")
    with pytest.raises(SpecError, match="band .* is empty"):
        parse_spec("variables: {r: {min: 1, max: 2}}\ntargets: {x: {min: 10, max: 10.5}}\nmargin: 5%\n")


def test_a_design_at_plus_one_percent_is_not_feasible_with_a_five_percent_margin(tmp_path):
    def fn(p):
        return Outcome("ok", {"g": 101.0 if p["x"] < 0.5 else 110.0})

    spec = Spec((Variable("x", 0, 1),), (Target("g", lo=100.0),), margin=0.05)
    assert not spec.score({"g": 101.0}).feasible and spec.score({"g": 105.0}).feasible
    r = run_sizing(spec, FakeEvaluator(fn, provides=["g"]), out_dir=tmp_path, budget=6, method="random", seed=0,
                   progress=False)
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["margin"] == 0.05 and data["targets"]["g"]["required_margin"] == 0.05
    assert r.feasible == (data["targets"]["g"]["value"] >= 105.0)
    assert "Required margin on every target: +5.0 %" in (tmp_path / "report.md").read_text()


# ------------------------------------------------------------------ failures shown, environment faults


def test_first_failure_message_is_in_result_report_and_console(tmp_path, capsys):
    def fn(p):
        if p["x"] > 0.5:
            return Outcome("ok", {"g": 1.0}, message="h: .meas h failed (Error: out of interval)")
        return Outcome("ok", {"g": 1.0, "h": 2.0})

    spec = Spec((Variable("x", 0, 1),), (Target("g", lo=0.5), Target("h", lo=1.0)))
    run_sizing(spec, FakeEvaluator(fn, provides=["g", "h"]), out_dir=tmp_path, budget=8, method="random",
               seed=0, initial={"x": 0.9})
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["first_failure"] == {"simulation": 1, "message": "h: .meas h failed (Error: out of interval)"}
    assert "First failure (simulation 1): `h: .meas h failed" in (tmp_path / "report.md").read_text()
    assert "first failure (simulation 1): h: .meas h failed" in capsys.readouterr().err


def test_a_first_batch_failing_for_one_reason_stops_and_writes_no_verdict(tmp_path):
    ev = FakeEvaluator(lambda p: Outcome("error", message="models.lib: model file not found"), provides=TOY_NAMES)
    with pytest.raises(EnvironmentFailure, match="all 4 simulations .* model file not found"):
        run_sizing(toy_spec(), ev, out_dir=tmp_path, budget=40, method="random", initial=TOY_INITIAL)
    assert len(ev.calls) == 4
    assert not (tmp_path / "result.json").exists() and not (tmp_path / "report.md").exists()
    assert not (tmp_path / LOCK_NAME).exists()


def test_design_dependent_failures_do_not_stop_the_run(tmp_path):
    ev = FakeEvaluator(lambda p: Outcome("nonconvergence", message="timestep too small"), provides=TOY_NAMES)
    r = run_sizing(toy_spec(), ev, out_dir=tmp_path, budget=8, method="random", progress=False)
    assert r.n_sims == 8 and not r.feasible


# ------------------------------------------------------------------ stale reuse and the lock


def test_reuse_needs_the_same_context(tmp_path):
    """A 1 pF run's measurements are not reused by a 10 pF run (another context)."""
    run_sizing(toy_spec(), FakeEvaluator(toy_opamp, context="cload=1p"), out_dir=tmp_path, budget=8,
               method="random", initial=TOY_INITIAL, progress=False)
    other = run_sizing(toy_spec(), FakeEvaluator(toy_opamp, context="cload=10p"), out_dir=tmp_path, budget=4,
                       method="random", initial=TOY_INITIAL, progress=False)
    assert other.n_warm == 0
    same = run_sizing(toy_spec(), FakeEvaluator(toy_opamp, context="cload=1p"), out_dir=tmp_path, budget=4,
                      method="random", seed=5, initial=TOY_INITIAL, progress=False)
    assert same.n_warm == 8


def test_resume_after_the_context_changed_is_refused(tmp_path):
    from ckt.errors import HistoryMismatchError

    run_sizing(toy_spec(), FakeEvaluator(toy_opamp, context="a"), out_dir=tmp_path, budget=4, method="random",
               progress=False)
    with pytest.raises(HistoryMismatchError, match="changed since this run was started"):
        run_sizing(toy_spec(), FakeEvaluator(toy_opamp, context="b"), out_dir=tmp_path, budget=8, method="random",
                   resume=True, progress=False)


def test_a_second_live_run_into_the_same_folder_is_refused(tmp_path):
    with RunFolder(tmp_path):
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            run_sizing(toy_spec(), FakeEvaluator(toy_opamp), out_dir=tmp_path, budget=4, method="random")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_NAME).write_text(dead.stdout)  # left by a process that is gone (kill -9)
    r = run_sizing(toy_spec(), FakeEvaluator(toy_opamp), out_dir=tmp_path, budget=4, method="random",
                   progress=False)
    assert r.n_sims == 4 and not (tmp_path / LOCK_NAME).exists()


# ------------------------------------------------------------------ trust_deck and testbench options


def test_trust_deck_is_kept_on_the_spec_and_recorded(tmp_path):
    spec = parse_spec(DECK_SPEC + "unchecked_stability: true\ntrust_deck: true\n")
    assert spec.trust_deck and not parse_spec(DECK_SPEC + "unchecked_stability: true\n").trust_deck
    with pytest.raises(SpecError, match="trust_deck: expected true or false"):
        parse_spec(DECK_SPEC + "trust_deck: maybe\n")
    run_sizing(spec, FakeEvaluator(lambda p: Outcome("ok", {"pm_deg": 70.0})), out_dir=tmp_path, budget=2,
               method="random", progress=False)
    assert json.loads((tmp_path / "result.json").read_text())["trust_deck"] is True
    assert "Deck trusted (`trust_deck`): yes" in (tmp_path / "report.md").read_text()


def test_trust_deck_reaches_every_simulation_job(tmp_path):
    from ckt.opt.evaluator import SimEvaluator

    deck = _deck(tmp_path)
    for trusted in (False, True):
        spec = parse_spec("variables: {r1: {min: 1k, max: 2k}}\ntargets: {vb: {min: 0}}\n"
                          f"trust_deck: {str(trusted).lower()}\n")
        ev = SimEvaluator(deck, spec, executor=None)
        assert [j.trusted for j in ev._jobs(ev.initial)] == [trusted] and ev.trust_deck is trusted


TB = """\
testbench:
  kind: opamp
  dut: amp
{options}
variables:
  w: {{min: 1u, max: 2u}}
targets:
  gain_db: {{min: 40}}
"""


def test_testbench_options_follow_the_tb_fields():
    fields = tb_fields()
    assert {"tran_window", "settle_tol", "ac_start", "corner", "bias", "step", "noise_band"} <= set(fields)
    assert not {"netlist", "dut", "pdk", "models", "metric_names"} & set(fields)
    spec = parse_spec(TB.format(options="  tran_window: 5u\n  ac_points: 20\n  corner: ss\n"
                                        "  bias: {ibias: 10u}\n  noise_band: [1, 1meg]\n  rload: null"))
    kw = spec.testbench.kwargs()
    assert kw["tran_window"] == pytest.approx(5e-6) and kw["ac_points"] == 20 and kw["corner"] == "ss"
    assert kw["bias"] == {"ibias": pytest.approx(1e-5)} and kw["noise_band"] == (1.0, 1e6) and kw["rload"] is None
    with pytest.raises(SpecError, match=r"unknown testbench option\(s\) tran_windw \(valid: .*tran_window"):
        parse_spec(TB.format(options="  tran_windw: 5u"))
    with pytest.raises(SpecError, match="ac_points: expected a whole number"):
        parse_spec(TB.format(options="  ac_points: 2.5"))


def test_every_testbench_option_reaches_the_testbench(tmp_path):
    from ckt.opt.evaluator import SimEvaluator

    net = tmp_path / "amp.cir"
    net.write_text("* amp\n.param w=1u\n.subckt amp inp inn out vdd vss\nR1 inp out 1k\n.ends\n.end\n")
    spec = parse_spec(TB.format(options="  vdd: 1.2\n  tran_window: 5u\n  settle_tol: 0.001\n  ac_start: 10"))
    ev = SimEvaluator(net, spec, executor=None)
    tb = ev.testbench
    assert (tb.tran_window, tb.settle_tol, tb.ac_start, tb.vdd) == (pytest.approx(5e-6), 0.001, 10.0, 1.2)


def test_context_follows_everything_a_result_depends_on(tmp_path):
    """Reuse used to be keyed on the netlist file and variable names only."""
    from ckt.opt.evaluator import SimEvaluator

    inner = tmp_path / "inner.lib"
    inner.write_text("* inner\n.model rmod r(tc1=0)\n")
    (tmp_path / "models.lib").write_text("* outer\n.include inner.lib\n")
    net = tmp_path / "amp.cir"
    net.write_text("* amp\n.include models.lib\n.param w=1u\n.subckt amp inp inn out vdd vss\nR1 inp out 1k\n"
                   ".ends\n.end\n")

    def context(options: str = "  vdd: 1.2\n  cload: 1p") -> str:
        return SimEvaluator(net, parse_spec(TB.format(options=options)), executor=None).context

    base = context()
    assert context() == base
    assert context("  vdd: 1.2\n  cload: 10p") != base  # the testbench
    inner.write_text("* inner\n.model rmod r(tc1=1e-3)\n")  # a nested include's contents
    assert context() != base


# ------------------------------------------------------------------ best.cir


def _deck(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.lib").write_text("* m\n.model dm d\n")
    (src / "deck.cir").write_text("* deck\n.include m.lib\n.param r1=1k c1=1p\nR1 a b {r1}\nD1 b 0 dm\nC1 b 0 {c1}\n"
                                  "V1 a 0 1\n.dc V1 0 1 0.5\n.meas dc vb find v(b) at=1\n.end\n")
    return src / "deck.cir"


def _best(tmp_path):
    from ckt.netlist.read import read_netlist
    from ckt.opt.run import write_best_netlist

    deck = _deck(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    spec = parse_spec("variables: {r1: {min: 1k, max: 2k}, c1: {min: 1p, max: 2p}}\ntargets: {vb: {min: 0}}\n")
    path = write_best_netlist(out / "best.cir", read_netlist(deck), spec,
                              {"r1": 1234.5678901234567, "c1": 1.2345678901234567e-12})
    text = path.read_text()
    assert f'.include "{deck.parent / "m.lib"}"' in text
    assert "r1=1234.57" in text and "c1=1.23457p" in text and "5678901" not in text
    return path


def test_best_netlist_is_rebased_and_readable(tmp_path):
    assert _best(tmp_path).name == "best.cir"


@pytest.mark.ngspice
@requires_ngspice
def test_best_netlist_runs_with_ngspice_from_another_folder(tmp_path):
    path = _best(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(["ngspice", "-b", str(path)], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "vb" in done.stdout.lower() and "error" not in (done.stdout + done.stderr).lower()


@pytest.mark.ngspice
@requires_ngspice
def test_a_failing_meas_is_that_metric_missing_with_its_reason(tmp_path):
    from ckt.netlist.read import read_netlist
    from ckt.opt.evaluator import SimEvaluator
    from ckt.sim.executor import make_executor

    deck = tmp_path / "rc.cir"
    deck.write_text("* rc\n.param r1=1k\nV1 in 0 DC 1 AC 1\nR1 in out {r1}\nC1 out 0 1n\n.ac dec 10 1 1g\n"
                    ".meas ac gain_lo find vdb(out) at=10\n.meas ac never when vdb(out)=20\n.end\n")
    spec = parse_spec("variables: {r1: {min: 1k, max: 2k}}\ntargets: {gain_lo: {min: -1}, never: {min: 0}}\n")
    with make_executor("local", workers=1) as ex:
        ev = SimEvaluator(read_netlist(deck), spec, ex, source=str(deck))
        assert ev.provides.names == {"gain_lo", "never"}
        ((_, o),) = list(ev.evaluate([{"r1": 1e3}]))
    assert o.ok and o.values["gain_lo"] == pytest.approx(0.0, abs=1e-3) and "never" not in o.values
    assert o.message.startswith("never: ")


@pytest.mark.ngspice
@requires_ngspice
def test_cli_stops_on_an_environment_failure_with_its_message(tmp_path, capsys):
    from ckt.cli import run

    deck = tmp_path / "d.cir"
    deck.write_text("* d\n.param w=1u\nM1 d g 0 0 nosuchmodel w={w} l=1u\nV1 d 0 1\nV2 g 0 1\n.op\n"
                    ".meas op id find i(V1)\n.end\n")
    spec = tmp_path / "s.yaml"
    spec.write_text("variables: {w: {min: 1u, max: 10u}}\ntargets: {id: {max: 0}}\n")
    out = tmp_path / "out"
    code = run(["size", str(deck), "--spec", str(spec), "--budget", "8", "--batch", "4", "--workers", "1",
                "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "the setup (not the designs) is at fault" in err and "circuit not parsed" in err
    assert not (out / "result.json").exists() and not (out / "report.md").exists()


@pytest.mark.ngspice
@requires_ngspice
def test_cli_reads_a_relative_netlist_path_with_relative_includes(tmp_path, monkeypatch):
    from ckt.cli import run

    deck = _deck(tmp_path)
    spec = tmp_path / "s.yaml"
    spec.write_text("variables: {r1: {min: 1k, max: 2k}}\ntargets: {vb: {min: 0}}\n")
    monkeypatch.chdir(tmp_path)
    code = run(["size", str(deck.relative_to(tmp_path)), "--spec", "s.yaml", "--budget", "2", "--batch", "2",
                "--workers", "1", "--out", "out", "--quiet"])
    assert code == 0
    assert json.loads((tmp_path / "out" / "result.json").read_text())["feasible"] is True
