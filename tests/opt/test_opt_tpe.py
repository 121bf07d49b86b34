"""Optuna TPE with constraints as ``--method optuna``: same harness, seeded, variables mapped."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from ckt.opt.baselines import METHODS, make_method
from ckt.opt.evaluator import Outcome
from ckt.opt.loop import Budget, Problem, optimize
from ckt.opt.space import Variable
from tests.opt.fakes import TOY_INITIAL, FakeEvaluator, toy_opamp, toy_spec

optuna = pytest.importorskip("optuna")

from ckt.opt.tpe import FAILED_VIOLATION, OptunaMissingError, OptunaTPE, distribution  # noqa: E402


def _run(seed: int, budget: int = 40):
    spec = toy_spec()
    ev = FakeEvaluator(toy_opamp)
    m = make_method("optuna", spec, seed=seed, x0=spec.space.to_unit(TOY_INITIAL))
    return optimize(Problem(spec, TOY_INITIAL), ev, m, Budget(budget, 4)), ev


def test_optuna_is_a_method_and_finds_a_feasible_design():
    assert "optuna" in METHODS
    run, ev = _run(seed=0)
    assert run.first_feasible is not None
    key = toy_spec().space.key
    assert key(TOY_INITIAL) in [key(p) for p in ev.calls[:4]]  # the netlist's sizes are in the first batch
    assert run.n_sims == 40


def test_a_seed_reproduces_the_run_and_another_seed_differs():
    _, a = _run(seed=3, budget=24)
    _, b = _run(seed=3, budget=24)
    _, c = _run(seed=4, budget=24)
    key = lambda calls: sorted(tuple(sorted(p.items())) for p in calls)  # noqa: E731 - evaluator order is shuffled
    assert key(a.calls) == key(b.calls)
    assert key(a.calls) != key(c.calls)


def test_variables_map_to_their_own_distributions():
    d = distribution(Variable("m", 1, 100, step=1, log=True))
    assert isinstance(d, optuna.distributions.IntDistribution) and d.log and (d.low, d.high) == (1, 100)
    d = distribution(Variable("n", 2, 20, step=2))
    assert isinstance(d, optuna.distributions.IntDistribution) and d.step == 2 and not d.log
    d = distribution(Variable("w", 0.5e-6, 5e-6, step=0.5e-6))
    assert isinstance(d, optuna.distributions.FloatDistribution) and d.step == 0.5e-6
    d = distribution(Variable("cc", 1e-13, 1e-11, step=1e-13, log=True))
    assert isinstance(d, optuna.distributions.FloatDistribution) and d.log and d.step is None


def test_replayed_designs_become_trials_and_failures_violate_every_constraint():
    spec = toy_spec()
    m = OptunaTPE(spec, seed=0)
    pts = [spec.space.to_unit(TOY_INITIAL), np.full(4, 0.99)]
    m.tell(pts, [toy_opamp(TOY_INITIAL), Outcome("nonconvergence", message="fake")])
    trials = m.study.trials
    assert len(trials) == 2 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert set(trials[1].constraints.values()) == {FAILED_VIOLATION}
    assert max(trials[0].constraints.values()) < FAILED_VIOLATION
    assert trials[0].params["w1"] == 10


def test_a_proposal_repeating_a_known_design_is_answered_from_memory():
    spec = toy_spec()
    m = OptunaTPE(spec, seed=0, x0=spec.space.to_unit(TOY_INITIAL))
    m.tell([spec.space.to_unit(TOY_INITIAL)], [toy_opamp(TOY_INITIAL)])
    (x,) = m.ask(1)  # the enqueued x0 is known: answered, then a new design is asked
    assert spec.space.unit_key(x) != spec.space.unit_key(spec.space.to_unit(TOY_INITIAL))


def test_missing_optuna_is_a_typed_error_with_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(OptunaMissingError, match=r"pip install 'ckt\[optuna\]'"):
        OptunaTPE(toy_spec(), seed=0)
