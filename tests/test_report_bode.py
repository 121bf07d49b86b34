"""The Bode figure writes a file for any response a sizing run can end on, including one that
transmits nothing at some or all frequencies (an output cut off from the input): the report of a
finished run must not fail on its best design."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ckt.report.bode import plot_bode

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_two_pole_response_is_drawn(tmp_path: Path) -> None:
    f = np.logspace(0, 9, 400)
    s = 2j * np.pi * f
    h = 1e4 / ((1 + s / (2 * np.pi * 1e3)) * (1 + s / (2 * np.pi * 1e7)))
    assert Path(plot_bode(f, h, tmp_path / "ok.png")).read_bytes()[:8] == PNG


@pytest.mark.parametrize("dead", [slice(0, 10), slice(None)])
def test_zero_transmission_is_drawn_as_gaps_not_an_error(tmp_path: Path, dead: slice) -> None:
    f = np.logspace(0, 9, 100)
    h = (1e3 / (1 + 2j * np.pi * f / 1e4)).astype(complex)
    h[dead] = 0.0
    assert Path(plot_bode(f, h, tmp_path / "dead.png", title="best")).read_bytes()[:8] == PNG
