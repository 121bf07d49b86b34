"""SPICE engineering numbers: reading ``10k``/``1meg``/``4.7u`` as ngspice does and writing floats back exactly.

ngspice 39 scales a number by the first letters that follow it (``t g meg k m u n p f`` and, outside
expressions, ``mil``) and ignores any further letters (``100nF``, ``5V``, ``10Ohm``). It has no atto:
``1a`` is read as ``1`` (the ``a`` is a unit letter), so the writer never emits that suffix. A scale
letter after an exponent still applies (``1e3k`` is ``1e6``). Inside ``{...}`` expressions and on
``.param`` lines ngspice's expression parser does not know ``mil`` either: ``{1mil}`` is ``1m``.
The measured table is in ``docs/numbers.md``.

Scaled numbers are built by shifting the decimal exponent of the written digits (``180n`` is read as
``float("180e-9")``), not by multiplying floats, so ``format_number`` can promise an exact round trip.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from functools import lru_cache

_SCALE_EXP: dict[str, int] = {
    "t": 12,
    "g": 9,
    "k": 3,
    "m": -3,
    "u": -6,
    "µ": -6,  # U+00B5 MICRO SIGN
    "μ": -6,  # U+03BC GREEK SMALL LETTER MU
    "n": -9,
    "p": -12,
    "f": -15,
}
"""Decimal exponent of each one-letter scale factor ngspice 39 applies (``meg`` and ``mil`` aside)."""

_MIL = 25.4e-6
"""One mil (a thousandth of an inch) in metres."""

_NUMBER = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(?:e([+-]?\d+))?([a-zµμ]*)")

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
)
"""Suffixes the writer may use: every SPICE dialect reads these alike (no ``a``, no ``mil``)."""

NON_FINITE_TEXT: dict[str, str] = {"inf": "1e999", "-inf": "-1e999", "nan": "nan"}
"""What the writers put for a non-finite value: ngspice reads ``1e999`` as infinity, and every
reader of ckt reports these tokens, so the value is neither lost nor silently made finite."""


@lru_cache(maxsize=1 << 16)
def parse_number(token: str, expression: bool = False) -> float | None:
    """The value ngspice 39 gives a number token, or None when the token is not a number.

    ``10k`` -> 10000.0, ``1MEG`` -> 1e6, ``100nF`` -> 1e-7, ``1mil`` -> 2.54e-5, ``5V`` -> 5.0,
    ``1e3k`` -> 1e6, ``1a`` -> 1.0 (ngspice has no atto). The result may be infinite (``1e999``):
    callers that keep it report it (see ``is_finite_number``).

    Args:
        token: the text of one number.
        expression: read as ngspice's expression parser does (inside ``{...}`` and on ``.param``
            lines), where ``mil`` is ``m`` followed by unit letters.

    Cached: real decks repeat the same few values (``w=1u``) many times.
    """
    m = _NUMBER.fullmatch(token.strip().lower())
    if m is None:
        return None
    mantissa, exponent, suffix = m.groups()
    if exponent and len(exponent.lstrip("+-")) > 6:  # beyond any float: int() of it could be slow
        return float(f"{mantissa}e{exponent}")
    exp = int(exponent) if exponent else 0
    if suffix.startswith("meg"):
        exp += 6
    elif suffix.startswith("mil") and not expression:
        return float(f"{mantissa}e{exp}") * _MIL
    elif suffix:
        exp += _SCALE_EXP.get(suffix[0], 0)  # other letters are units: 5V, 10Ohm, 1a
    return float(f"{mantissa}e{exp}")


def format_number(x: float) -> str:
    """The shortest SPICE text that ngspice and ``parse_number`` both read back as exactly ``x``.

    Tries the plain decimal and every suffix of ``_WRITE_SUFFIXES`` on the exact decimal digits of
    ``repr(x)`` and falls back to ``repr`` itself (``5.911e-16``); ties keep the earlier candidate
    (plain before suffixed). A non-finite ``x`` gives ``NON_FINITE_TEXT`` (never an exception: a
    writer must not fail on a value it was handed).
    """
    x = float(x)
    if not math.isfinite(x):
        return NON_FINITE_TEXT[repr(x)]
    if x == 0.0:
        return "-0" if str(x).startswith("-") else "0"
    best = repr(x)
    digits = Decimal(best)
    for suffix, exp in _WRITE_SUFFIXES:
        text = _plain(digits.scaleb(-exp)) + suffix
        if len(text) < len(best) and parse_number(text) == x and parse_number(text, True) == x:
            best = text
    return best


def _plain(d: Decimal) -> str:
    """``d`` as a plain decimal without exponent or trailing zeros (``180``, ``0.0047``)."""
    text = format(d.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
