from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckt.errors import SpecError
from ckt.opt.space import Space, Variable


def space() -> Space:
    return Space([Variable("m", 1, 100, step=1), Variable("cc", 0.1e-12, 10e-12, log=True), Variable("v", -1.0, 1.0)])


def test_round_trip_of_si_values():
    s = space()
    p = {"m": 37.0, "cc": 2.2e-12, "v": 0.25}
    assert s.from_unit(s.to_unit(p)) == pytest.approx(p, rel=1e-12)


def test_log_scale_puts_geometric_mean_in_the_middle():
    s = space()
    assert s.to_unit({"m": 1, "cc": 1e-12, "v": 0})[1] == pytest.approx(0.5)


def test_stepped_values_snap_and_duplicates_share_a_key():
    s = space()
    a = s.from_unit(np.array([0.501, 0.3, 0.3]))
    b = s.from_unit(np.array([0.503, 0.3, 0.3]))
    assert a["m"] == b["m"] == float(round(a["m"]))
    assert s.key(a) == s.key(b)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=3, max_size=3))
def test_round_trip_is_idempotent_and_matches_decode(u):
    s = space()
    snapped = s.round_trip(np.array(u))
    assert np.allclose(s.round_trip(snapped), snapped)
    assert s.key(s.from_unit(snapped)) == s.key(s.from_unit(np.array(u)))


def test_round_trip_is_vectorised():
    s = space()
    U = np.random.default_rng(0).random((50, 3))
    out = s.round_trip(U)
    assert out.shape == U.shape
    assert np.allclose(out[7], s.round_trip(U[7]))


def test_step_near_upper_bound_stays_inside():
    v = Variable("c", 0.1e-12, 10e-12, step=0.3e-12)
    assert v.from_unit(1.0) <= 10e-12


@pytest.mark.parametrize("kwargs", [dict(lo=2, hi=1), dict(lo=0, hi=1, log=True), dict(lo=0, hi=1, step=5)])
def test_bad_variables_are_spec_errors(kwargs):
    with pytest.raises(SpecError):
        Variable("x", **kwargs)


def test_contains_and_duplicates():
    s = space()
    assert s.contains({"m": 5, "cc": 1e-12, "v": 0})
    assert not s.contains({"m": 500, "cc": 1e-12, "v": 0})
    with pytest.raises(SpecError, match="duplicate"):
        Space([Variable("a", 0, 1), Variable("a", 0, 1)])
