"""SPICE engineering numbers: reading ``10k``/``1meg``/``4.7u`` and writing floats back exactly.

SPICE scales a number by the first letters that follow it (``t g meg k m u n p f a`` and ``mil``)
and ignores any further unit letters (``100nF``, ``5V``, ``10Ohm``). Scaled numbers are built by
shifting the decimal exponent of the written digits (``180n`` is read as ``float("180e-9")``), not by
multiplying floats, so ``format_number`` can promise an exact round trip.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

_SCALE_EXP: dict[str, int] = {
    "t": 12,
    "g": 9,
    "meg": 6,
    "k": 3,
    "m": -3,
    "u": -6,
    "µ": -6,  # U+00B5 MICRO SIGN
    "μ": -6,  # U+03BC GREEK SMALL LETTER MU
    "n": -9,
    "p": -12,
    "f": -15,
    "a": -18,
}
"""Decimal exponent of each SPICE scale factor (ngspice manual, section 2.3 "Syntax of numbers")."""

_MIL = 25.4e-6
"""One mil (a thousandth of an inch) in metres."""

_NUMBER = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(e[+-]?\d+)?([a-zµμ]*)")

_WRITE_SUFFIXES: tuple[tuple[str, int], ...] = (
    ("", 0),
    ("t", 12),
    ("g", 9),
    ("meg", 6),
    ("k", 3),
    ("m", -3),
    ("u", -6),
    ("n", -9),
    ("p", -12),
    ("f", -15),
    ("a", -18),
)


@lru_cache(maxsize=1 << 16)
def parse_number(token: str) -> float | None:
    """The value of a SPICE number token, or None when the token is not a number.

    ``10k`` -> 10000.0, ``1MEG`` -> 1e6, ``100nF`` -> 1e-7, ``1mil`` -> 2.54e-5, ``5V`` -> 5.0.
    A scale letter after an explicit exponent (``2.5e3k``) is ambiguous between simulators and is
    rejected (None); plain unit letters after an exponent (``1e-3V``) are ignored.
    Cached: real decks repeat the same few values (``w=1u``) many times.
    """
    m = _NUMBER.fullmatch(token.strip().lower())
    if m is None:
        return None
    mantissa, exponent, suffix = m.groups()
    if not suffix:
        return float(mantissa + (exponent or ""))
    if suffix.startswith("meg"):
        shift = 6
    elif suffix.startswith("mil"):
        if exponent:
            return None
        return float(mantissa) * _MIL
    else:
        shift = _SCALE_EXP.get(suffix[0])
        if shift is None:  # unit letters only: 5V, 10Ohm, 1e-3V
            return float(mantissa + (exponent or ""))
    if exponent:
        return None
    return float(f"{mantissa}e{shift}")


def format_number(x: float) -> str:
    """The shortest SPICE text that ``parse_number`` reads back as exactly ``x``.

    Tries the plain decimal and every engineering suffix on the exact decimal digits of ``repr(x)``
    and falls back to ``repr`` itself; ties keep the earlier candidate (plain before suffixed).
    """
    x = float(x)
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError(f"cannot write a non-finite number as SPICE: {x!r}")
    if x == 0.0:
        return "-0" if str(x).startswith("-") else "0"
    best = repr(x)
    digits = Decimal(best)
    for suffix, exp in _WRITE_SUFFIXES:
        text = _plain(digits.scaleb(-exp)) + suffix
        if len(text) < len(best) and parse_number(text) == x:
            best = text
    return best


def _plain(d: Decimal) -> str:
    """``d`` as a plain decimal without exponent or trailing zeros (``180``, ``0.0047``)."""
    text = format(d.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
