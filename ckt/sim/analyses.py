"""Simulator analyses as data, and the one renderer that writes them as ngspice text.

A testbench says *what* to simulate with these frozen values (``Ac(1, 1e11, 100)``) and never
formats SPICE itself; ``render`` is the only place that knows ngspice's spelling, and
``statements`` turns analyses into IR ``Statement`` objects so ``ckt.netlist.write`` emits them
after the testbench's devices. Numbers are written with ``format_number`` (exact, SI prefixes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ckt.errors import CktError
from ckt.netlist.ir import Statement
from ckt.netlist.units import format_number


def _n(x: float) -> str:
    return format_number(float(f"{float(x):.12g}"))


def _positive(what: str, *values: float) -> None:
    for v in values:
        if not v > 0:
            raise CktError(f"{what}: expected a positive value, got {v:g}")


@dataclass(frozen=True)
class Op:
    """The DC operating point (``.op``)."""


@dataclass(frozen=True)
class Ac:
    """A small-signal AC sweep, logarithmic: ``points_per_decade`` from ``start`` to ``stop`` (Hz)."""

    start: float
    stop: float
    points_per_decade: int = 100

    def __post_init__(self) -> None:
        _positive("Ac", self.start, self.stop, self.points_per_decade)
        if not self.stop > self.start:
            raise CktError(f"Ac: stop {self.stop:g} Hz must lie above start {self.start:g} Hz")


@dataclass(frozen=True)
class Dc:
    """A DC sweep of ``source`` from ``start`` to ``stop`` in steps of ``step`` (V or A)."""

    source: str
    start: float
    stop: float
    step: float

    def __post_init__(self) -> None:
        _positive("Dc step", self.step)


@dataclass(frozen=True)
class Tran:
    """A transient to ``stop`` (s), printing every ``step``; ``max_step`` bounds the solver's time step."""

    step: float
    stop: float
    max_step: float | None = None

    def __post_init__(self) -> None:
        _positive("Tran", self.step, self.stop)
        if self.max_step is not None:
            _positive("Tran max_step", self.max_step)


@dataclass(frozen=True)
class Noise:
    """Noise at ``v(output)`` referred to the input ``source``, swept like ``Ac``."""

    output: str
    source: str
    sweep: Ac


@dataclass(frozen=True)
class Pz:
    """Poles (``kind="pol"``), zeros (``"zer"``) or both (``"pz"``) of the transfer from the input
    port ``(in_p, in_n)`` to the output port ``(out_p, out_n)``; ``transfer`` is ``vol`` (V/V) or ``cur``."""

    in_p: str
    in_n: str
    out_p: str
    out_n: str
    transfer: str = "vol"
    kind: str = "pol"

    def __post_init__(self) -> None:
        if self.transfer not in ("vol", "cur") or self.kind not in ("pol", "zer", "pz"):
            raise CktError(f"Pz: transfer must be vol or cur and kind pol, zer or pz, got {self.transfer} {self.kind}")


@dataclass(frozen=True)
class Options:
    """Simulator options (``.options k=v ...``), in the order given."""

    values: tuple[tuple[str, float], ...] = field(default=())


@dataclass(frozen=True)
class ScaledTran:
    """A transient whose length follows the circuit: run ``ac`` first, find the frequency where
    ``vdb(node)`` first falls ``-level_db`` below its value at the sweep start, and simulate ``cycles``
    periods of it (never less than ``min_stop`` seconds), printing ``points`` samples. Rendered as a
    ``.control`` script so one deck does both; when the level is never reached ngspice runs no transient
    (the caller reports why)."""

    ac: Ac
    node: str
    cycles: float
    min_stop: float
    points: int = 2000
    level_db: float = -3.0

    def __post_init__(self) -> None:
        _positive("ScaledTran", self.cycles, self.min_stop, self.points)


@dataclass(frozen=True)
class RefinedAc:
    """The operating point and an AC sweep dense only where loop metrics are read.

    ``sweep`` is the range and the dense ``points_per_decade``; the whole range is swept with
    ``coarse_points`` per decade first, then each crossing of the loop gain
    ``v(out) / (v(inp) - v(inn))`` that a metric interpolates at (the first falling 0 dB crossing,
    the first -3 dB point, the unwrapped phase 180° from its start) is swept again densely over a
    factor ``window`` either side (clipped to the range). A crossing the coarse sweep does not see gets
    no dense window. Rendered as a ``.control`` script; each sweep is its own ``ac`` plot, the coarse
    one first.
    """

    sweep: Ac
    out: str
    inp: str
    inn: str
    coarse_points: int = 10
    window: float = 10 ** 0.2

    def __post_init__(self) -> None:
        _positive("RefinedAc", self.coarse_points)
        if not self.window > 1:
            raise CktError(f"RefinedAc: window must exceed 1, got {self.window:g}")


Analysis = Op | Ac | Dc | Tran | Noise | Pz | Options | ScaledTran | RefinedAc


def _g(x: float) -> str:
    """A number for the control language's expressions: plain exponent form, no SI suffix."""
    return f"{float(x):.12g}"


def _refined_ac(a: RefinedAc) -> str:
    s = a.sweep
    lo, hi, w = _g(s.start), _g(s.stop), _g(a.window)
    lines = [
        ".control",
        "op",
        f"ac dec {a.coarse_points} {_n(s.start)} {_n(s.stop)}",
        "set tb_coarse = $curplot",
        f"let tb_h = v({a.out})/(v({a.inp})-v({a.inn}))",
        "let tb_m = db(mag(tb_h) + 1e-300)",  # an output that never moves reads as no crossing, as densely
        "let tb_p = cph(tb_h) - cph(tb_h)[0]",
        "let tb_level = tb_m[0] - 3.0103",
    ]
    crossings = (("tb_fu", "tb_m=0"), ("tb_fb", "tb_m=$&tb_level"), ("tb_fp", "tb_p=-3.141592653589793"))
    for name, when in crossings:  # a failed meas leaves the 0 set before it: no window
        lines += [f"let {name} = 0", f"meas ac {name} when {when} fall=1"]
    for name, _ in crossings:
        lines += [
            f"if {name} > 0",
            f"let tb_lo = {name}/{w}",
            f"let tb_hi = {name}*{w}",
            f"if tb_lo < {lo}",
            f"let tb_lo = {lo}",
            "end",
            f"if tb_hi > {hi}",
            f"let tb_hi = {hi}",
            "end",
            f"ac dec {s.points_per_decade} $&tb_lo $&tb_hi",
            "setplot $tb_coarse",
            "end",
        ]
    return "\n".join([*lines, ".endc"])


def _ac_args(a: Ac) -> str:
    return f"dec {a.points_per_decade} {_n(a.start)} {_n(a.stop)}"


def render(analysis: Analysis) -> str:
    """The ngspice text of one analysis (a dot card, or a ``.control`` block for ``ScaledTran`` and
    ``RefinedAc``)."""
    if isinstance(analysis, Op):
        return ".op"
    if isinstance(analysis, Ac):
        return f".ac {_ac_args(analysis)}"
    if isinstance(analysis, Dc):
        return f".dc {analysis.source} {_n(analysis.start)} {_n(analysis.stop)} {_n(analysis.step)}"
    if isinstance(analysis, Tran):
        tail = f" 0 {_n(analysis.max_step)}" if analysis.max_step is not None else ""
        return f".tran {_n(analysis.step)} {_n(analysis.stop)}{tail}"
    if isinstance(analysis, Noise):
        return f".noise v({analysis.output}) {analysis.source} {_ac_args(analysis.sweep)}"
    if isinstance(analysis, Pz):
        pz = analysis
        return f".pz {pz.in_p} {pz.in_n} {pz.out_p} {pz.out_n} {pz.transfer} {pz.kind}"
    if isinstance(analysis, Options):
        return ".options " + " ".join(f"{k}={_n(v)}" for k, v in analysis.values)
    if isinstance(analysis, RefinedAc):
        return _refined_ac(analysis)
    if isinstance(analysis, ScaledTran):
        a = analysis
        return "\n".join([
            ".control",
            f"ac {_ac_args(a.ac)}",
            f"let tb_level = vdb({a.node})[0] + {_n(a.level_db)}",
            f"meas ac tb_fscale when vdb({a.node})=$&tb_level fall=1",
            f"let tb_tstop = {_n(a.cycles)}/tb_fscale",
            f"if tb_tstop < {_n(a.min_stop)}",
            f"let tb_tstop = {_n(a.min_stop)}",
            "end",
            f"let tb_tstep = tb_tstop/{a.points}",
            "tran $&tb_tstep $&tb_tstop 0 $&tb_tstep",
            ".endc",
        ])
    raise CktError(f"not an analysis: {analysis!r}")


def _keyword(analysis: Analysis) -> str:
    return "control" if isinstance(analysis, (ScaledTran, RefinedAc)) else render(analysis).split()[0][1:]


def statements(analyses: tuple[Analysis, ...] | list[Analysis]) -> tuple[Statement, ...]:
    """The analyses as IR statements, for ``ckt.netlist.write`` to emit after the devices."""
    return tuple(Statement(_keyword(a), render(a)) for a in analyses)
