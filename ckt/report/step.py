"""Step-response plots: the follower's small-signal step with its settle band, overshoot and verdict.

Drawn beside the Bode plot so a designer sees the closed-loop behaviour the margin stands for; the
marks come from ``ckt.measure.step_response``, so they are the reported numbers.
"""

from __future__ import annotations

import os

import numpy as np

from ckt import measure as ms
from ckt.errors import MeasurementError
from ckt.report.figure import pyplot, save
from ckt.report.units import prefix, si


def plot_step(t, v, path: str | os.PathLike, *, tol: float = 0.01, title: str = "") -> str:
    """Write the step response ``v(t)`` to ``path`` (PNG, or any format matplotlib infers).

    The edge is at ``t[0]`` and the expected output step is the tail mean minus the first sample (the
    follower steps by what its input did); the band is ``±tol`` of it.

    Args:
        t: times `(n,)` in seconds, ascending.
        v: output voltage `(n,)`.
        path: output file.
        tol: settling band as a fraction of the step (the testbench's ``settle_tol``).
        title: figure title.

    Returns:
        The path written, as a string.
    """
    plt = pyplot()
    ta = np.real(np.asarray(t, dtype=float))
    va = np.real(np.asarray(v, dtype=float))
    fig, ax = plt.subplots(figsize=(7, 4))
    try:
        scale, letter = prefix(float(ta[-1] - ta[0]))
        ax.plot((ta - ta[0]) / scale, va, lw=1.0)
        ax.set_xlabel(f"time after the step ({letter}s)")
        ax.set_ylabel("v(out) (V)")
        ax.grid(True, alpha=0.3)
        tail = va[ta >= ta[-1] - ms.TAIL_FRACTION * (ta[-1] - ta[0])]
        expected = float(np.mean(tail)) - float(va[0]) if tail.size else 0.0
        try:
            r = ms.step_response(ta, va, t0=float(ta[0]), expected_step=expected, tol=tol)
        except MeasurementError as exc:
            ax.set_title(f"step not judged: {exc}", fontsize=8)
        else:
            band = tol * abs(expected)
            ax.axhspan(r.final - band, r.final + band, color="tab:green", alpha=0.15, lw=0)
            verdict = "stable" if r.stable else f"UNSTABLE: {r.reason}"
            settle = f", settles in {si(r.settling_s, 's')}" if r.settling_s is not None else ""
            ax.set_title(f"{verdict}; overshoot {r.overshoot_pct:.3g} %{settle}, ringing {r.ringing}", fontsize=8)
            if r.settling_s is not None:
                ax.axvline(r.settling_s / scale, color="tab:red", ls="--", lw=0.8)
            if r.stable:
                lo, hi = min(r.initial, float(np.min(va))), max(r.initial, float(np.max(va)))
                pad = 0.1 * (hi - lo or 1.0)
                ax.set_ylim(lo - pad, hi + pad)
    except BaseException:
        plt.close(fig)
        raise
    save(fig, path, title=title)
    return os.fspath(path)
