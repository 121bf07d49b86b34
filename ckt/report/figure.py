"""The two steps every ckt plot shares: a headless pyplot, and title-layout-save-close."""

from __future__ import annotations

import os


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed), imported only when a plot is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | os.PathLike, *, title: str = "", dpi: int = 110) -> None:
    """Title ``fig``, lay it out, write it to ``path`` and free it (also when writing fails)."""
    plt = pyplot()
    try:
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(os.fspath(path), dpi=dpi)
    finally:
        plt.close(fig)
