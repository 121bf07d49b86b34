from __future__ import annotations

import json
import math

import pytest

from ckt.errors import CktError, SpecError
from ckt.opt.space import Variable
from ckt.opt.spec import Spec, Target
from tests.opt.fakes import TOY_INITIAL, FakeEvaluator, run_sizing, toy_opamp, toy_spec


def test_outputs_of_a_feasible_run(tmp_path):
    ev = FakeEvaluator(toy_opamp)
    run_sizing(toy_spec(), ev, out_dir=tmp_path, budget=16, batch_size=4, seed=0, initial=TOY_INITIAL,
                   netlist_hash="toy", progress=False)
    data = json.loads((tmp_path / "result.json").read_text())
    for key in ("feasible", "n_sims", "sims_to_feasible", "best", "wall_s", "method", "seed", "targets"):
        assert key in data
    assert data["n_sims"] == len(ev.calls) == 16
    assert any(c == pytest.approx(TOY_INITIAL) for c in ev.calls[:4])  # the netlist's own sizes come first
    assert set(data["best"]) >= {"params", "measurements", "metrics"}
    assert data["best"]["measurements"] == {"ph_ugbw": pytest.approx(data["best"]["measurements"]["ph_ugbw"])}
    assert "pm_deg" in data["best"]["metrics"]
    if data["feasible"]:
        assert data["binding_constraints"] is None and 1 <= data["sims_to_feasible"] <= 16
        assert all(t["margin"] >= 0 for t in data["targets"].values())
    assert len(data["convergence"]["violation"]) == 16
    report = (tmp_path / "report.md").read_text()
    assert "![Convergence](convergence.png)" in report and (tmp_path / "convergence.png").stat().st_size > 1000
    assert (tmp_path / "sensitivity.png").exists()


def test_infeasible_spec_ends_with_closest_design_and_binding_constraints(tmp_path):
    spec = toy_spec(gain_min=300.0)  # unreachable
    r = run_sizing(spec, FakeEvaluator(toy_opamp), out_dir=tmp_path, budget=8, batch_size=4, method="random",
                   initial=TOY_INITIAL, progress=False)
    assert not r.feasible and r.sims_to_feasible is None
    assert r.binding_constraints and any("gain_db >= 300" in c for c in r.binding_constraints)
    assert r.best is not None and r.targets["gain_db"]["met"] is False


def test_without_objective_stops_at_first_feasible(tmp_path):
    spec = toy_spec(objective=False, gain_min=40, pm_min=45)
    ev = FakeEvaluator(toy_opamp)
    r = run_sizing(spec, ev, out_dir=tmp_path, budget=40, batch_size=4, method="random", seed=2,
                   initial=TOY_INITIAL, progress=False)
    assert r.feasible and r.stopped == "feasible"
    assert r.n_sims < 40 and r.n_sims - r.sims_to_feasible < 4  # stops within the batch that found it


def test_second_spec_warm_starts_from_first_without_resimulating(tmp_path):
    ev1 = FakeEvaluator(toy_opamp)
    run_sizing(toy_spec(), ev1, out_dir=tmp_path, budget=8, batch_size=4, method="random", seed=1,
               initial=TOY_INITIAL, netlist_hash="toy", progress=False)
    # new targets: every old design is re-scored against them, none is simulated again
    spec2 = toy_spec(gain_min=70.0, pm_min=50.0)
    ev2 = FakeEvaluator(toy_opamp)
    r2 = run_sizing(spec2, ev2, out_dir=tmp_path, budget=4, batch_size=4, method="random", seed=1,
                    initial=TOY_INITIAL, netlist_hash="toy", progress=False)
    assert r2.n_warm == 8
    first = {json.dumps(c, sort_keys=True) for c in ev1.calls}
    assert not first & {json.dumps(c, sort_keys=True) for c in ev2.calls}
    best = r2.best
    if not best["from_this_run"]:  # an old design is best: its margins are against the new targets
        assert r2.targets["gain_db"]["min"] == 70.0
        assert r2.targets["gain_db"]["margin"] == pytest.approx((best["metrics"]["gain_db"] - 70.0) / 70.0)
    # a different netlist does not warm start
    r3 = run_sizing(spec2, FakeEvaluator(toy_opamp), out_dir=tmp_path, budget=4, batch_size=4, method="random",
                    initial=TOY_INITIAL, netlist_hash="other", progress=False)
    assert r3.n_warm == 0


@pytest.mark.parametrize("method", ["random", "cmaes"])
def test_baselines_share_the_harness(tmp_path, method):
    ev = FakeEvaluator(toy_opamp)
    r = run_sizing(toy_spec(), ev, out_dir=tmp_path, budget=12, batch_size=4, method=method, seed=0,
                   initial=TOY_INITIAL, progress=False)
    assert r.method == method and r.n_sims == 12
    keys = {tuple(sorted(c.items())) for c in ev.calls}
    assert len(keys) == len(ev.calls)  # no design simulated twice
    assert all(c["w1"] == int(c["w1"]) and c["w2"] == int(c["w2"]) for c in ev.calls)  # stepped vars rounded


def test_finite_difference_sensitivity_signs(tmp_path):
    ev = FakeEvaluator(toy_opamp)
    r = run_sizing(toy_spec(), ev, out_dir=tmp_path, budget=8, batch_size=4, method="random", seed=0,
                   initial=TOY_INITIAL, sensitivity_fd=True, progress=False)
    fd = r.sensitivity["finite_difference"]
    assert r.n_extra_sims == 8 and len(ev.calls) == 16
    assert fd["power_w"]["ib"] > 0 and fd["ugbw"]["cc"] < 0 and fd["ugbw"]["w1"] > 0
    assert math.isclose(fd["power_w"]["cc"], 0.0, abs_tol=1e-12)
    assert "### Finite differences" in (tmp_path / "report.md").read_text()


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(SpecError, match="unknown method"):
        run_sizing(toy_spec(), FakeEvaluator(toy_opamp), out_dir=tmp_path, method="annealing")
    with pytest.raises(SpecError, match=r"variable\(s\) cc are not .param values"):
        run_sizing(toy_spec(), FakeEvaluator(toy_opamp), out_dir=tmp_path, initial={"w1": 1, "w2": 1, "ib": 1e-6})
    spec = Spec(variables=(Variable("x", 0, 1),), targets=(Target("y", lo=0),))
    with pytest.raises(CktError, match="nothing to resume"):
        run_sizing(spec, FakeEvaluator(toy_opamp), out_dir=tmp_path / "fresh", resume=True)


def test_cmaes_generations_span_batches_and_round_stepped_variables():
    from ckt.opt.baselines import CMAES, make_method

    spec = toy_spec()
    m = CMAES(spec, batch_size=3, seed=0)
    for round_ in range(6):
        pts = m.ask(3)
        assert len(pts) == 3
        for p in pts:
            w1 = spec.space.from_unit(p)["w1"]
            assert w1 == int(w1)
        m.tell(pts, [toy_opamp(spec.space.from_unit(p)) for p in pts])
        # popsize 8 for d=4, rounded up to 9 (a multiple of the batch): a generation is 3 batches
        assert m._es.popsize == 9 and m._es.countiter == (round_ + 1) // 3
    with pytest.raises(ValueError, match="unknown method"):
        make_method("annealing", spec)


class _Lossy(FakeEvaluator):
    """Drops the outcome of the second design of every batch."""

    def evaluate(self, batch):
        for i, o in super().evaluate(batch):
            if i != 1:
                yield i, o


def test_lost_outcomes_become_failures_not_crashes(tmp_path, capsys):
    r = run_sizing(toy_spec(), _Lossy(toy_opamp), out_dir=tmp_path, budget=8, batch_size=4, method="random",
                   initial=TOY_INITIAL)
    assert r.n_sims == 8 and r.n_failed >= 2
    err = capsys.readouterr().err
    assert "[it 2] sims 8/8  best power_w" in err and "feasible" in err
