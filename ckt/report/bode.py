"""Bode plots: magnitude and unwrapped phase of a frequency response, with UGBW and phase margin marked.

Uses matplotlib's Agg backend (no display needed) and the same measurement functions as the
testbench, so the marked UGBW and PM are the reported ones.
"""

from __future__ import annotations

import os

import numpy as np

from ckt import measure as ms
from ckt.errors import MeasurementError
from ckt.report.figure import pyplot, save
from ckt.report.units import si


def plot_bode(freq, h, path: str | os.PathLike, *, title: str = "") -> str:
    """Write a two-panel Bode plot of ``h(freq)`` to ``path`` (PNG, or any format matplotlib infers).

    Args:
        freq: frequencies `(n,)` in Hz, ascending and positive.
        h: complex response `(n,)`.
        path: output file.
        title: figure title.

    Returns:
        The path written, as a string.
    """
    plt = pyplot()

    f = np.real(np.asarray(freq))
    hc = np.asarray(h, dtype=complex)
    # A design that transmits nothing at some frequencies (an output cut off from the input) is
    # still a result to look at: those points are left as gaps rather than failing the report.
    dead = np.abs(hc) == 0.0
    mag = np.full(f.shape, np.nan)
    phase = np.full(f.shape, np.nan)
    if not dead.all():
        mag[~dead] = ms.db(hc[~dead])
        phase[~dead] = ms.phase_deg(hc[~dead])
    if dead.any():
        title = f"{title} (no transmission at {int(dead.sum())} of {dead.size} frequencies)".strip()
    fig, (ax_m, ax_p) = plt.subplots(2, 1, sharex=True, figsize=(7, 6))
    try:
        ax_m.semilogx(f, mag)
        ax_m.set_ylabel("magnitude (dB)")
        ax_m.axhline(0.0, color="grey", lw=0.8)
        ax_m.grid(True, which="both", alpha=0.3)
        ax_p.semilogx(f, phase)
        ax_p.set_ylabel("phase (deg, unwrapped)")
        ax_p.set_xlabel("frequency (Hz)")
        ax_p.grid(True, which="both", alpha=0.3)
        try:
            fu = ms.unity_gain_frequency(f, hc)
            pm = ms.phase_margin(f, hc, ugf=fu)
        except MeasurementError as exc:
            ax_m.set_title(f"no phase margin: {exc}", fontsize=8)
        else:
            dc = ms.dc_phase_deg(phase[0])
            for ax in (ax_m, ax_p):
                ax.axvline(fu, color="tab:red", ls="--", lw=0.8)
            ax_m.annotate(f"UGBW {si(fu, 'Hz')}", (fu, 0.0), textcoords="offset points", xytext=(5, 5), fontsize=8)
            ax_p.axhline(dc - 180.0, color="grey", lw=0.8)
            ax_p.annotate(f"PM {pm:.3g} deg", (fu, dc - 180.0 + pm), textcoords="offset points", xytext=(5, 5),
                          fontsize=8)
            ax_p.plot([fu, fu], [dc - 180.0, dc - 180.0 + pm], color="tab:red", lw=2)
    except BaseException:
        plt.close(fig)
        raise
    save(fig, path, title=title)
    return os.fspath(path)
