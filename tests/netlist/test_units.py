"""SPICE engineering numbers: the scale-factor table and the exact write/read round trip."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ckt.netlist.units import format_number, parse_number


@pytest.mark.parametrize(
    "token, expected",
    [
        ("10k", 1e4),
        ("1meg", 1e6),
        ("1MEG", 1e6),
        ("2Meg", 2e6),
        ("4.7u", 4.7e-6),
        ("100nF", 1e-7),
        ("1e-12", 1e-12),
        ("1E3", 1e3),
        ("1f", 1e-15),
        ("1a", 1.0),  # ngspice 39 has no atto: the a is a unit letter
        ("1e3k", 1e6),  # a scale letter after an exponent still applies
        ("2.5e3k", 2.5e6),
        ("1e2meg", 1e8),
        ("1x", 1.0),
        ("1M", 1e-3),
        ("1mega", 1e6),
        ("1kohm", 1e3),
        ("1e999", math.inf),
        ("1g", 1e9),
        ("1t", 1e12),
        ("1m", 1e-3),
        ("1mA", 1e-3),
        ("1mil", 25.4e-6),
        ("3µ", 3e-6),
        ("3μ", 3e-6),
        ("5V", 5.0),
        ("10Ohm", 10.0),
        ("1e-3V", 1e-3),
        ("-3.3", -3.3),
        ("+2", 2.0),
        (".5p", 0.5e-12),
        ("5.", 5.0),
        ("180n", 1.8e-7),
        (" 7k ", 7e3),
    ],
)
def test_parse_number_table(token, expected):
    assert parse_number(token) == expected


@pytest.mark.parametrize("token", ["", "abc", "w", "1.2.3", "1k2", "2*w", "{1k}", "inf", "nan", "k1", "1-2", "e3"])
def test_parse_number_rejects_non_numbers(token):
    assert parse_number(token) is None


def test_scaled_numbers_are_correctly_rounded_not_multiplied():
    # 180 * 1e-9 == 1.8000000000000002e-07, but "180n" means the decimal 180e-9
    assert parse_number("180n") == float("180e-9") == 1.8e-7


@pytest.mark.parametrize(
    "x, text", [(1e-6, "1u"), (1.8e-7, "180n"), (1000.0, "1k"), (1.0, "1"), (0.0, "0"), (4.7e-9, "4.7n"), (1e6, "1meg"), (0.1 + 0.2, "0.30000000000000004")]
)
def test_format_number_prefers_short_exact_text(x, text):
    assert format_number(x) == text


def test_mil_is_milli_inside_expressions():
    # measured: ngspice reads r 1 0 1mil as 25.4u but {1mil} and .param p=1mil as 1m
    assert parse_number("1mil") == pytest.approx(25.4e-6)
    assert parse_number("1mil", expression=True) == 1e-3
    assert parse_number("2e2mil") == pytest.approx(2e2 * 25.4e-6)


@pytest.mark.parametrize("x, text", [(math.inf, "1e999"), (-math.inf, "-1e999"), (math.nan, "nan")])
def test_format_number_writes_non_finite_without_raising(x, text):
    assert format_number(x) == text


@pytest.mark.parametrize("x", [5.911e-16, 1e-18, 3e-17, 5.9e-19, -2.2e-16, 1e-300])
def test_format_number_never_writes_atto(x):
    text = format_number(x)
    assert not text.endswith("a") and parse_number(text) == x


def test_huge_exponent_and_digit_strings_are_read_without_error():
    assert parse_number("1e" + "9" * 5000) == math.inf
    assert parse_number("1" * 400) == math.inf
    assert parse_number("0." + "0" * 400 + "1") == 0.0


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_number_round_trips_every_finite_float(x):
    text = format_number(x)
    assert parse_number(text) == x
    assert parse_number(text, expression=True) == x
    assert not text.endswith(("a", "mil"))
    assert len(text) <= len(repr(x))
