"""Parameter scopes: dependency order, cycles, undefined names, overrides and write-back."""

from __future__ import annotations

import pytest

from ckt.errors import ExpressionError
from ckt.netlist.ir import Expr, Include, Netlist, Param, SourceLoc
from ckt.netlist.params import evaluate_value, global_scope, resolve_params, sort_params, with_params


def P(name, value, line=None):
    return Param(name, Expr(value) if isinstance(value, str) else value, SourceLoc("amp.cir", line) if line else None)


def test_any_definition_order():
    params = [P("wp2", "2*WP1"), P("l", "wp1/10"), P("WP1", "base*5"), P("base", 1e-6)]
    assert resolve_params(params) == pytest.approx({"wp2": 1e-5, "l": 5e-7, "wp1": 5e-6, "base": 1e-6})


def test_sort_puts_dependencies_first_and_keeps_text_order_otherwise():
    params = [P("c", "b+a"), P("x", 1.0), P("b", "a*2"), P("a", 1.0)]
    assert [p.name for p in sort_params(params)] == ["a", "b", "c", "x"]
    assert [p.name for p in sort_params([P("x", 1.0), P("y", 2.0)])] == ["x", "y"]


def test_later_definition_wins():
    assert resolve_params([P("w", 1.0), P("W", "3")]) == {"w": 3.0}


def test_outer_scope_and_shadowing():
    outer = {"VDD": 1.8, "w": 9.0}
    assert resolve_params([P("half", "vdd/2"), P("w", 1.0), P("w2", "w*2")], outer) == {
        "half": 0.9,
        "w": 1.0,
        "w2": 2.0,
    }


def test_cycle_names_every_member():
    params = [P("a", "b+1", 3), P("b", "c*2", 4), P("c", "a", 5), P("d", 1.0)]
    with pytest.raises(ExpressionError, match=r"parameter cycle: a -> b -> c -> a"):
        resolve_params(params)


def test_self_reference_is_a_cycle():
    with pytest.raises(ExpressionError, match=r"amp.cir:7: parameter cycle: w -> w"):
        resolve_params([P("w", "w*2", 7)])


def test_undefined_name_reports_param_and_location():
    with pytest.raises(ExpressionError) as info:
        resolve_params([P("wp1", 1.0), P("wp3", "wp2*2", 12)])
    assert str(info.value) == "amp.cir:12: parameter 'wp3': undefined parameter 'wp2' in 'wp2*2' at column 1"


def test_syntax_error_reports_location():
    with pytest.raises(ExpressionError, match=r"amp.cir:2: parameter 'x': expected '\)'"):
        resolve_params([P("x", "(1+2", 2)])


def test_evaluate_value():
    assert evaluate_value(2.0, {}) == 2.0
    assert evaluate_value(3, {}) == 3.0
    assert evaluate_value(Expr("2*w"), {"w": 1.5}) == 3.0
    with pytest.raises(ExpressionError, match="not a numeric value"):
        evaluate_value("2*w", {"w": 1.0})
    with pytest.raises(ExpressionError, match="not a numeric value"):
        evaluate_value(True, {})


def _deck() -> Netlist:
    lib = Netlist(params=(P("lmin", 1.5e-7), P("vdd", 1.8)))
    return Netlist(
        params=(P("wp1", "10*lmin"), P("wp2", "2*wp1"), P("vdd", 1.2)),
        includes=(Include("pdk.lib", "tt", lib), Include("missing.lib")),
    )


def test_global_scope_includes_resolved_libraries_and_later_wins():
    scope = global_scope(_deck())
    assert scope == pytest.approx({"lmin": 1.5e-7, "vdd": 1.2, "wp1": 1.5e-6, "wp2": 3e-6})


def test_global_scope_overrides_replace_definitions_and_propagate():
    scope = global_scope(_deck(), {"WP1": 4e-6, "newp": Expr("vdd/2")})
    assert scope["wp1"] == 4e-6
    assert scope["wp2"] == 8e-6  # derived from the override
    assert scope["newp"] == pytest.approx(0.6)


def test_with_params_replaces_keeps_spelling_and_location_and_appends():
    n = Netlist(params=(P("WP1", 1e-6, 3), P("wp2", "2*wp1", 4)))
    out = with_params(n, {"wp1": 5e-6, "extra": 7, "wp2": Expr("3*wp1")})
    assert [(p.name, p.value) for p in out.params] == [("WP1", 5e-6), ("wp2", Expr("3*wp1")), ("extra", 7.0)]
    assert out.params[0].loc == SourceLoc("amp.cir", 3)
    assert global_scope(out)["wp2"] == pytest.approx(1.5e-5)
    assert n.params[0].value == 1e-6  # the input is untouched


def test_with_params_overrides_an_include_definition():
    out = with_params(_deck(), {"lmin": 1e-7})
    assert global_scope(out)["wp1"] == pytest.approx(1e-6)


def test_with_params_rejects_non_numbers():
    with pytest.raises(ExpressionError, match="not a numeric value"):
        with_params(Netlist(), {"w": "1u"})
