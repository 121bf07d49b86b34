"""SI formatting in reports: prefixes, rounding across a prefix, units implied by metric names."""

from __future__ import annotations

import math

import pytest

from ckt.report.units import metric, metric_unit, si


@pytest.mark.parametrize("x, unit, text", [
    (3.676e-05, "W", "36.76 µW"), (3.635e7, "Hz", "36.35 MHz"), (1.662e-07, "", "166.2 n"),
    (1.384e4, "", "13.84 k"), (5.098e-13, "F", "509.8 fF"), (0.9999996, "V", "1 V"),
    (999.99996, "Hz", "1 kHz"), (-2.5e-3, "A", "-2.5 mA"), (0.0, "W", "0 W"), (52.6, "dB", "52.6 dB"),
    (69.9, "°", "69.9°"), (None, "W", "–"), (math.inf, "W", "inf"), (42.0, "", "42"),
])
def test_si(x, unit, text):
    assert si(x, unit) == text


@pytest.mark.parametrize("name, unit", [("power_w", "W"), ("ugbw", "Hz"), ("gain_db", "dB"), ("pm_deg", "°"),
                                        ("noise_in_v_rthz", "V/√Hz"), ("offset_v", "V"), ("gain", "")])
def test_metric_units(name, unit):
    assert metric_unit(name) == unit


def test_metric_formats_in_its_unit():
    assert metric("power_w", 3.676e-05) == "36.76 µW"


def test_convergence_axis_reads_in_prefixed_units():
    from ckt.report.convergence import _axis_unit

    assert _axis_unit([3.6e-5, 7e-5], "W") == (1e-6, "µW")
    assert _axis_unit([52.0], "dB") == (1.0, "dB")
    assert _axis_unit([float("nan")], "W") == (1.0, "W")
