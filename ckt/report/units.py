"""Numbers as a designer reads them: SI prefixes (``36.8 µW``, ``166 n``) and the unit a metric is in."""

from __future__ import annotations

import math

_PREFIXES = {-15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T"}

_UNITS_BY_NAME = {"ugbw": "Hz", "gbw": "Hz", "slew_rate": "V/s"}
_UNITS_BY_SUFFIX = (("_db", "dB"), ("_deg", "°"), ("_w", "W"), ("_v", "V"), ("_s", "s"), ("_hz", "Hz"),
                    ("_a", "A"), ("_v_rthz", "V/√Hz"))


def metric_unit(name: str) -> str:
    """The unit a metric name implies (``power_w`` -> ``W``, ``ugbw`` -> ``Hz``); ``""`` when unknown."""
    key = name.lower()
    if key in _UNITS_BY_NAME:
        return _UNITS_BY_NAME[key]
    for suffix, unit in sorted(_UNITS_BY_SUFFIX, key=lambda s: -len(s[0])):
        if key.endswith(suffix):
            return unit
    return ""


def prefix(x: float, digits: int = 4) -> tuple[float, str]:
    """The SI scale and prefix ``x`` reads best in (``3.6e-5 -> (1e-6, "µ")``), after rounding to ``digits``."""
    if x == 0 or not math.isfinite(x):
        return 1.0, ""
    exp3 = max(-15, min(12, 3 * math.floor(math.log10(abs(x)) / 3)))
    if abs(float(f"{x / 10 ** exp3:.{digits}g}")) >= 1000 and exp3 < 12:  # rounding carried over
        exp3 += 3
    return 10.0 ** exp3, _PREFIXES[exp3]


def si(x: float | None, unit: str = "", digits: int = 4) -> str:
    """``x`` with an SI prefix and ``digits`` significant digits; dB and degrees stay unprefixed."""
    if x is None:
        return "–"
    if not math.isfinite(x):
        return str(x)
    if unit in ("dB", "°") or x == 0:
        return f"{x:.{digits}g}{' ' + unit if unit and unit != '°' else unit}"
    scale, letter = prefix(x, digits)
    text = f"{x / scale:.{digits}g}"
    return f"{text} {letter}{unit}" if letter or unit else text


def metric(name: str, x: float | None, digits: int = 4) -> str:
    """A metric's value in its own unit."""
    return si(x, metric_unit(name), digits)
