"""Sensitivity heat maps: variables (rows) against metrics (columns), one panel per estimate."""

from __future__ import annotations

import math
from pathlib import Path

from ckt.report.figure import pyplot, save


def plot_sensitivity(tables: dict, path: str | Path, *, title: str = "") -> Path | None:
    """Draw the GP-gradient and (when present) finite-difference tables of ``ckt.opt.sensitivity``.

    Returns None when there is nothing to draw.
    """
    plt = pyplot()
    import numpy as np

    panels = [(name, table) for name, key in (("GP posterior-mean gradient", "gp_gradient"),
                                              ("finite differences", "finite_difference"))
              if (table := tables.get(key))]
    if not panels:
        return None
    variables = tables["variables"]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 + 1.2 * len(tables["metrics"]) * len(panels),
                                                      1.2 + 0.35 * len(variables)), squeeze=False)
    for ax, (name, table) in zip(axes[0], panels):
        metrics = list(table)
        grid = np.array([[table[m].get(v) if table[m].get(v) is not None else math.nan for m in metrics]
                         for v in variables], dtype=float)
        lim = np.nanmax(np.abs(grid)) if np.isfinite(grid).any() else 1.0
        im = ax.imshow(grid, cmap="coolwarm", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_xticks(range(len(metrics)), metrics, rotation=30, ha="right")
        ax.set_yticks(range(len(variables)), variables)
        ax.set_title(name, fontsize=9)
        for (i, j), val in np.ndenumerate(grid):
            if math.isfinite(val):
                ax.text(j, i, f"{val:.2g}", ha="center", va="center", fontsize=7)
        fig.colorbar(im, ax=ax, shrink=0.8)
    path = Path(path)
    save(fig, path, title=title)
    return path
