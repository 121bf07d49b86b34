from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from ckt.errors import SpecError
from ckt.opt.evaluator import Outcome
from ckt.opt.models import Surrogates
from ckt.opt.space import Variable
from ckt.opt.spec import Spec, Target
from ckt.opt.turbo import (
    INF_KEY,
    TurboMethod,
    grid_neighbours,
    improves,
    log_feasibility,
    make_state,
    sample_violations,
    tr_bounds,
    update_state,
)
from tests.opt.fakes import TOY_INITIAL, branin_constrained, branin_spec, toy_opamp, toy_spec


def test_state_is_frozen_and_update_returns_new():
    s = make_state(dim=8, batch_size=4)
    assert s.failure_tolerance == 2
    s2 = update_state(s, [(1.0, 3.0)])
    assert s2 is not s and s.success_counter == 0 and s2.success_counter == 1
    with pytest.raises(AttributeError):
        s2.length = 1.0  # type: ignore[misc]


def test_length_doubles_after_successes_and_halves_after_failures():
    s = make_state(dim=2, batch_size=4)
    s = update_state(s, [(1.0, 10.0)])
    s = update_state(s, [(1.0, 5.0)])
    s = update_state(s, [(0.0, 7.0)])  # becoming feasible is an improvement
    assert s.length == pytest.approx(1.6) and s.success_counter == 0
    s = update_state(s, [(0.0, 7.0)])  # no improvement: failure tolerance is 1 here
    assert s.length == pytest.approx(0.8)


def test_restart_flag_when_length_collapses():
    s = replace(make_state(dim=2, batch_size=4), length=0.5**7 * 1.5, best_key=(0.0, 1.0))
    s = update_state(s, [(0.0, 2.0)])
    assert s.restart_triggered


def test_improves_needs_a_relative_margin():
    assert improves((0.0, 1.0), (1.0, 0.1))
    assert not improves((0.0, 0.99995), (0.0, 1.0))
    assert improves((0.0, 0.9), (0.0, 1.0))
    assert improves((1.0, 3.0), INF_KEY)


def test_tr_bounds_follow_lengthscales_and_stay_in_cube():
    lb, ub = tr_bounds(np.array([0.5, 0.0]), np.array([1.0, 4.0]), 0.4)
    assert np.all(lb >= 0) and np.all(ub <= 1)
    assert ub[1] - lb[1] > 0  # clipped at 0 but still open
    lb, ub = tr_bounds(np.array([0.5, 0.5]), np.array([1.0, 4.0]), 0.4)
    assert (ub[1] - lb[1]) == pytest.approx(4 * (ub[0] - lb[0]))
    assert math.prod(ub - lb) == pytest.approx(0.4**2)


def _drive(method, fn, space, n_batches, q):
    seen = set()
    for _ in range(n_batches):
        pts = method.ask(q)
        assert len(pts) == q
        for p in pts:
            assert np.allclose(space.round_trip(p), p)
            key = space.key(space.from_unit(p))
            assert key not in seen, "a design was proposed twice"
            seen.add(key)
        method.tell(pts, [fn(space.from_unit(p)) for p in pts])
    return seen


def test_turbo_finds_feasible_branin_and_starts_from_x0():
    spec = branin_spec()
    sp = spec.space
    x0 = sp.to_unit({"x1": 0.0, "x2": 0.0})
    m = TurboMethod(spec, batch_size=4, seed=1, x0=x0)
    first = m.ask(4)
    assert np.allclose(first[0], x0)
    m.tell(first, [branin_constrained(sp.from_unit(p)) for p in first])
    _drive(m, branin_constrained, sp, 5, 4)
    best = m.archive.best_index()
    assert m.archive.scores[best].feasible
    assert m.archive.scores[best].objective < 5.0  # global minimum 0.398; x0 gives 55.6


def test_failed_simulations_train_the_label_model_not_the_metric_models():
    spec = toy_spec()
    sp = spec.space
    # force a failure-heavy start: half the initial design in the failing corner
    m = TurboMethod(spec, batch_size=4, seed=0, x0=sp.to_unit(TOY_INITIAL))
    corner = [sp.round_trip(np.array([0.95 + 0.01 * i, 0.97, 0.5, 0.5])) for i in range(4)]
    m.tell(corner, [toy_opamp(sp.from_unit(p)) for p in corner])
    _drive(m, toy_opamp, sp, 4, 4)
    X, values, ok = m.archive.training_data()
    assert (~ok).sum() >= 4
    assert "__sim_ok__" in m.surrogates.outputs
    for fo in m.surrogates.outputs.values():
        assert fo.model.train_targets.isfinite().all()
    assert m.surrogates.outputs["ugbw"].transform == "log"
    assert m.surrogates.outputs["gain_db"].transform == "identity"


def test_error_outcomes_never_crash_the_method():
    spec = branin_spec()
    sp = spec.space
    m = TurboMethod(spec, batch_size=2, seed=0, n_init=4)

    def flaky(p):
        return Outcome("error", message="boom") if p["x1"] > 5 else branin_constrained(p)

    _drive(m, flaky, sp, 5, 2)


def test_global_bo_has_no_trust_region():
    spec = branin_spec()
    m = TurboMethod(spec, batch_size=2, seed=0, trust_region=False, n_init=4)
    assert m.name == "bo"
    _drive(m, branin_constrained, spec.space, 4, 2)
    assert m.state.length == make_state(2, 2).length


def test_restart_keeps_data_and_opens_a_new_epoch():
    spec = branin_spec()
    sp = spec.space
    m = TurboMethod(spec, batch_size=4, seed=0, n_init=4)
    _drive(m, branin_constrained, sp, 2, 4)  # initial design, then one Thompson batch
    n_before = len(m.archive)
    m.state = replace(m.state, length=m.state.length_min * 1.5, failure_counter=m.state.failure_tolerance - 1,
                      best_key=(-1.0, -1.0))  # nothing can improve on this: the next TS batch fails
    pts = m.ask(4)
    m.tell(pts, [branin_constrained(sp.from_unit(p)) for p in pts])
    assert m.state.epoch == 1 and m.state.length == make_state(2, 4).length
    assert len(m.archive) == n_before + 4  # data kept
    fresh = m.ask(4)  # the new epoch's first batch: Thompson samples over the whole cube
    m.tell(fresh, [branin_constrained(sp.from_unit(p)) for p in fresh])
    assert m.archive.epochs[-4:] == [1, 1, 1, 1]
    best_new = m.archive.best_index(epoch=1)
    assert m.archive.epochs[best_new] == 1
    assert np.allclose(m.training_set()[3], m.archive.points[best_new])


def test_restart_batch_searches_the_whole_cube(monkeypatch):
    spec = branin_spec()
    sp = spec.space
    m = TurboMethod(spec, batch_size=4, seed=0, n_init=4)
    _drive(m, branin_constrained, sp, 2, 4)
    m.state = replace(m.state, length=m.state.length_min * 1.5, failure_counter=m.state.failure_tolerance - 1,
                      best_key=(-1.0, -1.0))
    pts = m.ask(4)
    m.tell(pts, [branin_constrained(sp.from_unit(p)) for p in pts])
    calls = []
    real = m._thompson
    monkeypatch.setattr(m, "_thompson", lambda n, already, region, whole_cube=False: calls.append(whole_cube)
                        or real(n, already, region, whole_cube))
    m.ask(4)
    m.ask(4)
    assert calls == [True, False]  # only the restart's first batch leaves the region


def test_log_slack_weighs_a_tenfold_miss_the_same_on_either_bound():
    spec = Spec((Variable("x", 0.0, 1.0),), (Target("ugbw", lo=1e7), Target("current", hi=1e-3)))
    samples = {"ugbw": np.array([[1e6, 1e7]]), "current": np.array([[1e-3, 1e-2]])}
    lin, _ = sample_violations(spec, samples)
    assert lin[0, 0] == pytest.approx(0.9) and lin[0, 1] == pytest.approx(9.0)
    logged, slack = sample_violations(spec, samples, frozenset({"ugbw", "current"}))
    assert logged[0, 0] == pytest.approx(math.log(10)) and logged[0, 1] == pytest.approx(math.log(10))
    assert slack[0, 0] == pytest.approx(-math.log(10))


def _coarse_spec() -> Spec:
    """Two log-scaled grid variables: 1..100 by 1 and 0.1..10 pF by 0.1 pF (AutoCkt's cc)."""
    return Spec((Variable("m", 1, 100, step=1, log=True), Variable("cc", 1e-13, 1e-11, step=1e-13, log=True)),
                (Target("ugbw", lo=1e7),))


def test_grid_neighbours_of_a_design_at_the_low_end_of_a_log_grid():
    sp = _coarse_spec().space
    center = sp.to_unit({"m": 1, "cc": 2e-13})
    below, above = grid_neighbours(sp, center)
    assert sp.from_unit(above) == {"m": 2, "cc": 3e-13}
    assert sp.from_unit(below) == {"m": 1, "cc": 1e-13}  # no grid point below m = 1
    assert above[1] - center[1] > 0.08  # 0.2 -> 0.3 pF is 9 % of the log axis: wider than a small region


def test_a_shrunken_region_still_reaches_the_neighbouring_grid_points():
    spec = _coarse_spec()
    sp = spec.space
    m = TurboMethod(spec, batch_size=4, seed=0)
    m.state = replace(m.state, length=m.state.length_min)
    center = sp.to_unit({"m": 2, "cc": 1e-13})
    rng = np.random.default_rng(0)
    C = sp.round_trip(m._candidates(m._box(center, {}), center, rng, rng.random((500, 2))))
    designs = {sp.key(sp.from_unit(c)) for c in C}
    assert (2.0, 2e-13) in designs and (3.0, 1e-13) in designs and (1.0, 1e-13) in designs


def test_log_feasibility_follows_the_constraint_models():
    spec = Spec((Variable("x", 0.0, 1.0), Variable("z", 0.0, 1.0)), (Target("y", lo=0.5), Target("w", hi=0.8)))
    X = np.array([[a, b] for a in np.linspace(0, 1, 6) for b in (0.2, 0.7)])
    outs = Surrogates().fit(X, {"y": X[:, 0], "w": 0.3 + 0.0 * X[:, 0]}, np.ones(len(X), dtype=bool))
    lp = log_feasibility(spec, outs, np.array([[0.95, 0.5], [0.5, 0.5], [0.05, 0.5]]))
    assert lp[0] > math.log(0.9) and lp[2] < math.log(0.1) and lp[0] > lp[1] > lp[2]


def test_feasibility_first_takes_the_likeliest_design_until_one_is_feasible(monkeypatch):
    import ckt.opt.turbo as turbo

    spec = toy_spec(objective=False, gain_min=200.0)  # out of reach: nothing becomes feasible
    sp = spec.space
    picked = []

    def prefer_w1_near(spec_, outputs, C):  # a stand-in with a known maximiser: w1 at unit 0.37
        picked.append(C[np.argmax(-((C[:, 0] - 0.37) ** 2))])
        return -((C[:, 0] - 0.37) ** 2)

    monkeypatch.setattr(turbo, "log_feasibility", prefer_w1_near)
    monkeypatch.setattr(turbo, "_log_feasibility_t", lambda spec_, outputs, x: -((x[:, 0] - 0.37) ** 2))
    for first in (False, True):
        m = TurboMethod(spec, batch_size=4, seed=1, n_init=8, feasibility_first=first)
        _drive(m, toy_opamp, sp, 2, 4)
        picked.clear()
        pts = m.ask(4)
        assert bool(picked) == first
        if first:  # the likeliest candidate, climbed to the maximiser's grid point (or the region's edge)
            lb, ub = m._box(m.training_set()[3], m.surrogates.outputs)
            target = sp.round_trip(np.clip(np.full(sp.dim, 0.37), lb, ub))[0]
            assert abs(pts[0][0] - 0.37) <= abs(picked[0][0] - 0.37)
            assert pts[0][0] == pytest.approx(target)


def test_climb_follows_a_diagonal_ridge_to_a_new_grid_design():
    import torch

    spec = Spec((Variable("a", 1.0, 100.0, 1.0, True), Variable("b", 1.0, 100.0, 1.0, True)), (Target("y", lo=1.0),))
    sp = spec.space
    m = TurboMethod(spec)

    def ridge(x):  # best along a = b, then the larger the better
        return (x[:, 0] - x[:, 1]) ** 2 + 0.1 * (1.0 - x[:, 0]) ** 2

    start = sp.to_unit({"a": 10.0, "b": 10.0})
    box = (start - 0.2, start + 0.2)
    taken = {sp.unit_key(start)}
    x = m._climb([start], ridge, box, taken)
    params = sp.from_unit(x)
    assert params["a"] > 10 and abs(math.log(params["a"] / params["b"])) < 0.1  # moved along the ridge
    assert np.all(x >= box[0] - 1e-9) and np.all(x <= box[1] + 1e-9) and sp.unit_key(x) in taken
    assert float(ridge(torch.as_tensor(x[None]))) < float(ridge(torch.as_tensor(start[None])))
    # every design a descent can reach is taken: the start comes back unchanged
    assert np.array_equal(m._climb([start], lambda x: (x ** 2).sum(1), (start, start), {sp.unit_key(start)}), start)



def test_several_regions_take_turns_and_restart_on_their_own(monkeypatch):
    spec = branin_spec()
    sp = spec.space
    m = TurboMethod(spec, batch_size=4, seed=0, n_init=4, regions=2)
    calls = []
    real = m._thompson
    monkeypatch.setattr(m, "_thompson", lambda n, already, region, whole_cube=False: calls.append((region, whole_cube))
                        or real(n, already, region, whole_cube))
    _drive(m, branin_constrained, sp, 4, 4)  # initial design, then three Thompson batches
    assert calls == [(0, False), (1, True), (0, False)]  # the second region opens over the whole cube
    assert m.archive.epochs == [0] * 8 + [1] * 4 + [0] * 4
    assert np.allclose(m.training_set(1)[3], m.archive.points[m.archive.best_index(epoch=1)])
    first = m._states[0]
    m.state = replace(m.state, length=m.state.length_min * 1.5, failure_counter=m.state.failure_tolerance - 1,
                      best_key=(-1.0, -1.0))  # region 1's turn: its batch fails and it restarts
    pts = m.ask(4)
    m.tell(pts, [branin_constrained(sp.from_unit(p)) for p in pts])
    assert m._states[1].epoch == 2 and m._states[0] is first and m._states[0].epoch == 0
    m.ask(4)
    m.ask(4)
    assert calls[-3:] == [(1, False), (0, False), (1, True)]


def test_regions_must_be_positive():
    with pytest.raises(SpecError, match="regions"):
        TurboMethod(branin_spec(), regions=0)
