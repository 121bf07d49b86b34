"""Built-in testbenches: a circuit under test plus the decks and measurements that characterise it.

A testbench describes simulations (``jobs``) and turns their results into metrics (``metrics``); it
never runs ngspice itself, so the same object serves a local pool, Ray, a cache or a fake simulator.
"""

from __future__ import annotations

from ckt.sim.testbench.opamp import (
    DEFAULT_METRICS,
    METRICS,
    Metric,
    MetricSet,
    OpAmpTestbench,
    Option,
    coerce_option,
    measure,
    option_fields,
)

__all__ = ["DEFAULT_METRICS", "METRICS", "Metric", "MetricSet", "OpAmpTestbench", "Option", "coerce_option", "measure",
           "option_fields"]
