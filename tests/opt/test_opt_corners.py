"""PVT corners in sizing: worst-case scoring, every corner of a batch in one executor call, and a
real ngspice run across two temperatures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ckt.opt.evaluator import SimEvaluator
from ckt.opt.space import Variable
from ckt.opt.spec import Corners, Objective, Spec, Target
from ckt.opt.spec import TestbenchSpec as TbSpec
from ckt.sim.pvt import PVT, worst_case
from ckt.sim.result import SimResult, Status
from ckt.sim.testbench.opamp import MetricSet
from tests.conftest import requires_ngspice

OTA = Path(__file__).resolve().parents[2] / "netlists" / "ota_5t.cir"


OTA_TARGETS = (Target("gain_db", lo=30.0), Target("ugbw", lo=1e6))


def ota_spec(corners: Corners | None, targets: tuple[Target, ...] = OTA_TARGETS) -> Spec:
    return Spec(variables=(Variable("win", 1e-6, 50e-6, log=True), Variable("ibias", 2e-6, 40e-6, log=True)),
                targets=tuple(targets), objective=Objective("power_w"), pdk="ptm180",
                testbench=TbSpec("opamp", "ota5t", options=(("vdd", 1.8), ("cload", 1e-12))),
                corners=corners)


def test_worst_case_is_scored_not_any_one_corner():
    """Each corner alone misses one target; their worst case misses both, and power is the highest."""
    spec = Spec(variables=(Variable("w", 1, 2),), targets=(Target("gain_db", lo=60), Target("ugbw", lo=1e7)),
                objective=Objective("power_w"))
    cold = MetricSet({"gain_db": 70.0, "ugbw": 8e6, "power_w": 1e-4}, {}, Status.OK)
    hot = MetricSet({"gain_db": 55.0, "ugbw": 2e7, "power_w": 3e-4}, {}, Status.OK)
    ok = MetricSet({"gain_db": 65.0, "ugbw": 2e7, "power_w": 2e-4}, {}, Status.OK)
    for alone in (cold, hot):
        assert spec.score(alone.values).violation > 0
    assert spec.score(ok.values).feasible
    worst = worst_case([(PVT(temp=0), cold), (PVT(temp=85), hot), (PVT(temp=27), ok)])
    assert worst.values == {"gain_db": 55.0, "ugbw": 8e6, "power_w": 3e-4}
    s = spec.score(worst.values)
    assert not s.feasible and dict(s.violations)["gain_db"] > 0 and dict(s.violations)["ugbw"] > 0
    # a metric missing at one corner is missing in the worst case: the design is not valid
    gone = MetricSet({"gain_db": 70.0, "power_w": 1e-4}, {"ugbw": "no 0 dB crossing"}, Status.PARTIAL)
    worst = worst_case([(PVT(temp=0), ok), (PVT(temp=85), gone)])
    assert "ugbw" in worst.missing and "temp=85C" in worst.missing["ugbw"]
    assert not spec.score(worst.values).valid


class RecordingExecutor:
    """Answers every job with a failed result and records each ``submit`` call's jobs."""

    def __init__(self) -> None:
        self.calls: list[list] = []

    def submit(self, jobs):
        jobs = list(jobs)
        self.calls.append(jobs)
        for i, _ in enumerate(jobs):
            yield i, SimResult(Status.ERROR, message="fake executor")

    def map(self, jobs):
        return [r for _, r in sorted(self.submit(jobs), key=lambda x: x[0])]


def test_every_corner_of_a_batch_goes_to_the_executor_at_once():
    corners = Corners(temps=(0.0, 85.0), vdds=(-0.1, 0.1), relative_vdd=True)
    ex = RecordingExecutor()
    ev = SimEvaluator(OTA, ota_spec(corners), ex)
    assert [(p.temp, round(p.vdd, 3)) for p in ev.pvts] == [(0.0, 1.62), (0.0, 1.98), (85.0, 1.62), (85.0, 1.98)]
    designs = [ev.initial, {**ev.initial, "win": 20e-6}, {**ev.initial, "ibias": 30e-6}]
    outcomes = dict(ev.evaluate(designs))
    assert len(ex.calls) == 1
    (jobs,) = ex.calls
    per_corner = len(ev.testbench.jobs(ev.initial))
    assert len(jobs) == len(designs) * 4 * per_corner
    decks = [j.deck for j in jobs]
    assert sum(".temp 85" in d for d in decks) == sum(".temp 0" in d for d in decks) == len(designs) * 2 * per_corner
    assert sum("Vtb_dd tb_vdd 0 DC 1.62" in d for d in decks) == len(designs) * 2 * per_corner
    assert sorted(outcomes) == [0, 1, 2] and all(not o.ok for o in outcomes.values())
    nominal = SimEvaluator(OTA, ota_spec(None), RecordingExecutor())
    assert nominal.pvts == () and nominal.context != ev.context


@pytest.mark.ngspice
@requires_ngspice
def test_real_run_across_two_temperatures_scores_the_worse_one():
    from ckt.sim.executor import make_executor

    spec = ota_spec(Corners(temps=(0.0, 100.0)))
    with make_executor("local", workers=2) as ex:
        ev = SimEvaluator(OTA, spec, ex)
        ((_, outcome),) = ev.evaluate([ev.initial])
        per = ev.corner_values(ev.initial)
        nominal = SimEvaluator(OTA, replace(spec, corners=None), ex)
        ((_, at27),) = nominal.evaluate([nominal.initial])
    assert outcome.ok, outcome.message
    assert [c["temp"] for c in per] == [0.0, 100.0]
    cold, hot = (c["values"] for c in per)
    assert cold["ugbw"] != pytest.approx(hot["ugbw"], rel=1e-3)  # temperature reached the simulator
    assert outcome.values["gain_db"] == pytest.approx(min(cold["gain_db"], hot["gain_db"]))
    assert outcome.values["ugbw"] == pytest.approx(min(cold["ugbw"], hot["ugbw"]))
    assert outcome.values["power_w"] == pytest.approx(max(cold["power_w"], hot["power_w"]))
    assert at27.values["ugbw"] != pytest.approx(outcome.values["ugbw"], rel=1e-3)


def test_run_records_and_reports_every_corner_of_the_best_design(tmp_path):
    from ckt.opt.evaluator import Outcome
    from tests.opt.fakes import FakeEvaluator, run_sizing

    corners = Corners(temps=(0.0, 85.0))

    def at(p, temp):
        return {"gain_db": 40.0 + 1e6 * p["win"] - 0.05 * temp, "ugbw": 2e6, "power_w": p["ibias"] * 1.8}

    class CornerFake(FakeEvaluator):
        def corner_values(self, params):
            return [{"corner": f"temp={t:g}C", "process": None, "temp": t, "vdd": None, "values": at(params, t),
                     "missing": {}} for t in corners.temps]

    def worst(p):
        a, b = at(p, 0.0), at(p, 85.0)
        return Outcome("ok", {"gain_db": min(a["gain_db"], b["gain_db"]), "ugbw": 2e6, "power_w": a["power_w"]})

    spec = ota_spec(corners, targets=(Target("gain_db", lo=45.0), Target("ugbw", lo=1e6)))
    result = run_sizing(spec, CornerFake(worst), out_dir=tmp_path, initial={"win": 10e-6, "ibias": 10e-6},
                        budget=8, method="random")
    assert result.feasible
    assert [c["temp"] for c in result.corners] == [0.0, 85.0]
    hot = result.corners[1]["values"]["gain_db"]
    assert result.best["metrics"]["gain_db"] == pytest.approx(hot)  # the worst case is the hot corner
    report = (tmp_path / "report.md").read_text()
    assert "## Corners" in report and "| temp=85C |" in report and "| temp=0C |" in report


@pytest.mark.ngspice
@requires_ngspice
def test_stability_check_runs_at_a_temperature_corner():
    """The follower deck (a .control block) at 85 C: ``stable`` must be measured, not lost to a crash."""
    from ckt.sim.executor import make_executor

    spec = ota_spec(Corners(temps=(85.0,)), targets=(Target("gain_db", lo=30.0), Target("pm_deg", lo=45.0)))
    with make_executor("local", workers=1) as ex:
        ev = SimEvaluator(OTA, spec, ex)
        ((_, outcome),) = ev.evaluate([ev.initial])
    assert "stable" in outcome.values, outcome.message


def test_mismatch_samples_run_every_corner_with_one_draw_in_one_batch():
    """A Monte Carlo sample with corners: the same seed at every corner (one die), all in one call."""
    spec = replace(ota_spec(Corners(temps=(0.0, 85.0))), pdk="sky130")
    ex = RecordingExecutor()
    ev = SimEvaluator(OTA, spec, ex)
    outcomes = dict(ev.mismatch_samples(ev.initial, (3, 4, 5)))
    assert sorted(outcomes) == [0, 1, 2] and len(ex.calls) == 1
    decks = [j.deck for j in ex.calls[0]]
    per_corner = len(ev.testbench.jobs(ev.initial))
    assert len(decks) == 3 * 2 * per_corner
    for seed in (3, 4, 5):
        mine = [d for d in decks if f".options seed={seed}\n" in d]
        assert len(mine) == 2 * per_corner
        assert sum(".temp 85" in d for d in mine) == sum(".temp 0" in d for d in mine) == per_corner
    assert all(".param mc_mm_switch=1" in d for d in decks)
