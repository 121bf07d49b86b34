"""The step-response figure writes a file and marks what ckt.sim.measure reports."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ckt.report.step import plot_step


def test_plot_step_stable_and_unstable(tmp_path: Path):
    t = np.linspace(0, 20e-6, 4001)
    zeta, wn = 0.4, 2 * math.pi * 1e6
    wd = wn * math.sqrt(1 - zeta**2)
    v = 0.9 + 0.01 * (1 - np.exp(-zeta * wn * t) * (np.cos(wd * t) + zeta / math.sqrt(1 - zeta**2) * np.sin(wd * t)))
    out = plot_step(t, v, tmp_path / "step.png", title="follower")
    assert Path(out).stat().st_size > 1000
    bad = plot_step(t, 0.9 + 0.1 * np.sin(2 * math.pi * 1e6 * t), tmp_path / "bad.png")
    assert Path(bad).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
