"""ckt: analog circuit design automation — netlists, graphs, ngspice simulation and sizing."""

from __future__ import annotations

__version__ = "0.1.0"
