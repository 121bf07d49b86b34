"""Plots and run reports (Bode, convergence, sensitivity). Each module imports matplotlib lazily and
draws with the Agg backend, so importing ``ckt.report`` costs nothing and needs no display."""

from __future__ import annotations
