"""Convergence plot of a sizing run: best objective and best violation against simulations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from ckt.report.figure import pyplot, save
from ckt.report.units import metric_unit, prefix


def plot_convergence(objective: Sequence[float | None], violation: Sequence[float | None], path: str | Path, *,
                     objective_name: str | None = None, title: str = "") -> Path:
    """Two stacked panels sharing the simulation axis; values are the best-so-far after each sim.

    Args:
        objective: best feasible objective so far (None until a feasible design exists).
        violation: total normalised violation of the best design so far (None when none is valid).
    """
    plt = pyplot()

    n = range(1, len(violation) + 1)
    panels = 2 if objective_name else 1
    fig, axes = plt.subplots(panels, 1, figsize=(6.4, 2.6 * panels + 0.6), sharex=True, squeeze=False)
    ax = axes[0][0]
    v = [float("nan") if x is None else x for x in violation]
    ax.step(n, v, where="post", color="tab:red")
    ax.set_ylabel("best violation")
    if any(x and x > 0 for x in v):
        ax.set_yscale("symlog", linthresh=1e-3)
    ax.grid(alpha=0.3)
    if objective_name:
        ax2 = axes[1][0]
        o = [float("nan") if x is None else x for x in objective]
        scale, unit = _axis_unit(o, metric_unit(objective_name))
        ax2.step(n, [x / scale for x in o], where="post", color="tab:blue")
        ax2.set_ylabel(f"best {objective_name}" + (f" ({unit})" if unit else "") + "\n(feasible)")
        ax2.grid(alpha=0.3)
    axes[-1][0].set_xlabel("simulations")
    path = Path(path)
    save(fig, path, title=title)
    return path


def _axis_unit(values: Sequence[float], unit: str) -> tuple[float, str]:
    """A power-of-1000 scale and prefixed unit for an axis (``1e-6, "µW"``), so ticks read plainly."""
    finite = [abs(x) for x in values if math.isfinite(x) and x != 0]
    if not finite or unit in ("dB", "°"):
        return 1.0, unit
    scale, letter = prefix(max(finite))
    return scale, letter + unit
