"""The safe expression evaluator: grammar, functions, scoping rules and every error message."""

from __future__ import annotations

import math

import pytest

from ckt.errors import ExpressionError
from ckt.netlist.expr import MAX_DEPTH, compile_expr, evaluate, free_names, substitute


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("10 - 4 - 3", 3.0),  # left-associative
        ("64 / 4 / 2", 8.0),
        ("7 % 4", 3.0),
        ("-7 % 4", -3.0),  # C fmod semantics, like SPICE
        ("2 ^ 3 ^ 2", 512.0),  # right-associative power
        ("2 ** 3 ** 2", 512.0),
        ("-2 ^ 2", -4.0),  # power binds tighter than unary minus
        ("2 ^ -1", 0.5),
        ("2 * 3 ^ 2", 18.0),
        ("--3", 3.0),
        ("+-3", -3.0),
        ("1 + 2 < 4", 1.0),  # arithmetic before comparison
        ("1 < 2 == 2 > 1", 1.0),  # comparison before equality
        ("1 == 1 && 0 == 1", 0.0),
        ("0 && 1 || 1", 1.0),  # && before ||
        ("1 || 0 && 0", 1.0),
        ("!0", 1.0),
        ("!2", 0.0),
        ("!0 + 1", 2.0),
        ("3 != 3", 0.0),
        ("2 <= 2", 1.0),
        ("2 >= 3", 0.0),
        ("1 ? 2 : 3", 2.0),
        ("0 ? 2 : 3", 3.0),
        ("0 ? 1 : 0 ? 2 : 3", 3.0),  # right-associative ternary
        ("1 ? 0 ? 4 : 5 : 6", 5.0),  # ternary in the middle
        ("1 + 1 ? 10 : 20", 10.0),  # condition takes the whole sum
        ("1k", 1000.0),
        ("2.5meg / 2.5", 1e6),
        ("10uF * 1", 1e-5),
        ("1e-3 * 1e3", 1.0),
        (".5 + 5.", 5.5),
        ("{2 * 3}", 6.0),
        ("'2 * 3'", 6.0),
        pytest.param("1" + "+1" * 5000, 5001.0, id="long-flat-sum"),  # not nesting
    ],
)
def test_operators_and_precedence(text, expected):
    assert evaluate(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sqrt(16)", 4.0),
        ("exp(0)", 1.0),
        ("log(e)", 1.0),
        ("ln(1)", 0.0),
        ("log10(1000)", 3.0),
        ("pow(2, 10)", 1024.0),
        ("pwr(-8, 1/3)", -2.0),
        ("abs(-3)", 3.0),
        ("min(3, 1, 2)", 1.0),
        ("max(3, 1, 2)", 3.0),
        ("sin(0) + cos(0)", 1.0),
        ("tan(0)", 0.0),
        ("asin(1)", math.pi / 2),
        ("acos(1)", 0.0),
        ("atan(1)", math.pi / 4),
        ("atan2(1, 1)", math.pi / 4),
        ("sinh(0) + cosh(0) + tanh(0)", 1.0),
        ("floor(-1.5)", -2.0),
        ("ceil(-1.5)", -1.0),
        ("int(-1.7)", -1.0),
        ("nint(2.5)", 3.0),
        ("nint(-2.5)", -3.0),
        ("round(0.4)", 0.0),
        ("sgn(-2) + sgn(0) + sgn(5)", 0.0),
        ("sign(-4)", -1.0),
        ("sign(4, -1)", -4.0),
        ("limit(5, 0, 2)", 2.0),
        ("limit(-5, 2, 0)", 0.0),
        ("db(100)", 40.0),
        ("if(1, 2, 3)", 2.0),
        ("if(0, 1/0, 3)", 3.0),  # lazy: the untaken branch is never evaluated
        ("ternary_fcn(0, 1, 9)", 9.0),
        ("hypot(3, 4)", 5.0),
        ("0.5 + 0*AGAUSS(0, 1.0, 1)", 0.5),  # statistical functions give their nominal value
        ("gauss(2, 0.1, 3) + unif(1, 0.2) + aunif(1, 0.1)", 4.0),
        ("SQRT(4)", 2.0),  # function names are case-insensitive
        ("pi", math.pi),
        ("2 * e", 2 * math.e),
    ],
)
def test_functions_and_constants(text, expected):
    assert evaluate(text) == pytest.approx(expected, abs=1e-12)


def test_identifiers_case_insensitive_either_side():
    assert evaluate("2*WP1 + wp1", {"wp1": 1.5}) == 4.5
    assert evaluate("2*wp1", {"WP1": 1.5}) == 3.0


def test_dotted_identifiers():
    assert evaluate("x1.w * 2", {"x1.w": 3.0}) == 6.0


def test_scope_shadows_constants():
    assert evaluate("e + pi", {"e": 1.0}) == pytest.approx(1.0 + math.pi)
    assert evaluate("PI", {"pi": 3.0}) == 3.0


def test_caller_functions():
    funcs = {"Twice": lambda x: 2 * x, "gm": lambda i, v: 2 * i / v}
    assert evaluate("twice(3) + GM(1, 0.5)", functions=funcs) == 10.0


def test_caller_functions_may_not_replace_builtins():
    with pytest.raises(ExpressionError, match="may not replace built-ins: sqrt"):
        evaluate("sqrt(4)", functions={"SQRT": lambda x: x})


def test_compiled_reused_with_names():
    c = compile_expr("2*W + max(L, pi)")
    assert c.names == frozenset({"w", "l", "pi"})
    assert compile_expr("2*W + max(L, pi)") is c  # cached
    assert c.evaluate({"w": 1.0, "l": 0.0}) == pytest.approx(2 + math.pi)
    assert c.evaluate({"w": 2.0, "l": 5.0}) == 9.0


def test_free_names_excludes_functions_and_numbers():
    assert free_names("sqrt(a) + 1meg*B + if(c, d, 1)") == frozenset({"a", "b", "c", "d"})


def test_substitute_renames_identifiers_only():
    assert substitute("w*2 + max(w, l)", {"w": "(x1.w)", "max": "oops"}) == "(x1.w)*2 + max((x1.w), l)"
    assert substitute("'W+1'", {"w": "3"}) == "3+1"


@pytest.mark.parametrize(
    ("text", "scope", "message"),
    [
        ("wp2*2", {}, "undefined parameter 'wp2' in 'wp2*2' at column 1"),
        ("a + zz + b", {"a": 1}, "undefined parameter 'zz' in 'a + zz + b' at column 5"),
        ("1/0", {}, "division by zero in '1/0' at column 2"),
        ("1 + 2 / x", {"x": 0.0}, "division by zero in '1 + 2 / x' at column 7"),
        ("5 % 0", {}, "division by zero in '5 % 0' at column 3"),
        ("sqrt(-1)", {}, "math domain error in sqrt() in 'sqrt(-1)' at column 1"),
        ("(-8)^(1/3)", {}, "math domain error in '(-8)^(1/3)' at column 5"),
        ("log(0)", {}, "math domain error in log()"),
        ("2^5000", {}, "numeric overflow in '2^5000' at column 2"),
        ("exp(1000)", {}, "numeric overflow in exp()"),
        ("2*(3", {}, "expected ')', found end of expression in '2*(3' at column 5"),
        ("2 3", {}, "unexpected '3' in '2 3' at column 3"),
        ("2 +", {}, "unexpected end of expression in '2 +' at column 4"),
        ("* 2", {}, "unexpected '*' in '* 2' at column 1"),
        ("1 ? 2", {}, "expected ':', found end of expression"),
        ("{1 + 2)", {}, "expected '}', found ')' in '{1 + 2)' at column 7"),
        ("a # b", {"a": 1, "b": 2}, "unexpected character '#' in 'a # b' at column 3"),
        ("", {}, "empty expression"),
        ("   ", {}, "empty expression"),
        ("1x2", {}, "unexpected '2'"),
        ("1e999 + 1", {}, "number '1e999' is out of range (not a finite float) in '1e999 + 1' at column 1"),
        ("1e308*1e308", {}, "the value is not finite (inf)"),
        ("a*a", {"a": 1e308}, "the value is not finite (inf)"),
        ("foo(1)", {}, "unknown function 'foo' in 'foo(1)' at column 1"),
        ("sqrt(1, 2)", {}, "sqrt() takes 1 argument(s), got 2 in 'sqrt(1, 2)' at column 1"),
        ("limit(1)", {}, "limit() takes 3 argument(s), got 1"),
        ("min()", {}, "min() takes 1 to 64 argument"),
        ("if(1, 2)", {}, "if() takes 3 arguments, got 2"),
    ],
)
def test_error_messages(text, scope, message):
    with pytest.raises(ExpressionError) as info:
        evaluate(text, scope)
    assert message in str(info.value)


def test_columns_of_quoted_text_refer_to_the_shown_text():
    with pytest.raises(ExpressionError, match=r"undefined parameter 'w' in '2\*w' at column 3"):
        evaluate("'2*w'")


def test_caller_function_failure_is_expression_error():
    with pytest.raises(ExpressionError, match="f\\(\\) failed"):
        evaluate("f(1, 2)", functions={"f": lambda x: x})


def test_non_text_is_rejected():
    with pytest.raises(ExpressionError, match="must be text"):
        compile_expr(3.0)


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
        "-" * 5000 + "1",
        "2^" * 5000 + "2",
        "sqrt(" * 1000 + "1" + ")" * 1000,
        "1 ? " * 3000 + "1" + " : 0" * 3000,
    ],
    ids=["parens", "unary", "power", "calls", "ternary"],
)
def test_deep_nesting_is_a_clear_error(text):
    with pytest.raises(ExpressionError, match=f"nested too deeply \\(more than {MAX_DEPTH} levels\\)"):
        evaluate(text)


def test_nesting_up_to_the_limit_works():
    depth = MAX_DEPTH - 1
    assert evaluate("(" * depth + "x" + ")" * depth, {"x": 2.0}) == 2.0


def test_long_error_text_is_shortened():
    with pytest.raises(ExpressionError) as info:
        evaluate("1+" * 1000 + "nope")
    assert len(str(info.value)) < 200
    assert "column 2001" in str(info.value)


def test_compiled_is_fast_enough_for_sizing_loops():
    """Guard against accidental re-parsing: 20k evaluations of a cached expression."""
    c = compile_expr("2*w/l + max(w, 1u)")
    for i in range(20000):
        c.evaluate({"w": 1e-6 * (i + 1), "l": 1e-7})
    assert compile_expr.cache_info().hits > 0
