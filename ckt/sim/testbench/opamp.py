"""The op-amp testbench: one subcircuit of a netlist, characterised by the decks its metrics need.

The device under test (DUT) is a ``.subckt`` whose ports are mapped to five roles — ``vss``, ``vdd``,
``inn``, ``inp``, ``out`` — plus optional bias roles: a role whose name starts with ``i`` is a DC
current source (positive: flows from the ``vdd`` rail into the port, as an NMOS mirror reference
wants; negative: flows out of the port into ``vss``), one starting with ``v`` is a DC voltage source
to ground. A bias value comes from the ``bias`` mapping (``ibias`` is a shorthand for
``bias["ibias"]``), else from a global ``.param`` of the role's name (so ``--set ibias=20u`` moves it).

Decks (each built only when a requested metric needs it; testbench nets are named ``tb_*``):

``ac``  open loop with a DC servo: ``out`` drives ``inn`` through a 1 TH inductor and ``inn`` is held
    at AC ground by a 1 TF capacitor to the common-mode source. At DC the inductor is a short, so the
    amplifier sits in unity-gain feedback at its real operating point (any gain, any offset); above a
    few µHz the loop is open (loop gain ``A/(ω²LC)`` is below 1e-5 at 1 Hz for ``A`` = 1e8), so
    ``v(out) / (v(inp) - v(inn))`` is the open-loop gain. ``.op`` runs in the same deck.
``cm``, ``psrr_p``, ``psrr_n``  the same circuit with the AC source moved to the common-mode source,
    the ``vdd`` supply or the ``vss`` supply.
``noise``  the ``ac`` circuit with ``.noise v(out)`` referred to the input source.
``swing``  inverting unity gain (two equal resistors ``swing_r``, ``inp`` at ``vcm``), input swept
    rail to rail with ``.dc`` and tight solver tolerances.
``tran``  unity-gain follower driven by a pulse ``vcm ± step/2`` (rise and fall time ``tran_window/1000``);
    each edge gets ``tran_window`` seconds, time steps at most ``tran_window/tran_points``.

Metrics (``METRICS``; frequency-domain values at the lowest AC frequency ``ac_start`` stand for DC):

* ``gain_db``: ``20 log10 |A|``, open-loop gain at ``ac_start``.
* ``ugbw`` (Hz): first 0 dB crossing of ``|A|``, interpolated in log f.
* ``pm_deg``: ``180 + φ(ugbw) - φ_DC`` on the unwrapped phase (``ckt.sim.measure.phase_margin``).
* ``gm_db``: gain margin, ``-|A|`` in dB where the phase has turned by 180°.
* ``gbw`` (Hz): ``|A(ac_start)|`` times the -3 dB bandwidth.
* ``power_w``: static supply power at the operating point, ``-(vdd·I(vdd) + vss·I(vss))``; bias current
  sources draw from the ``vdd`` rail and are included, bias voltage sources are not.
* ``offset_v``: ``v(out) - v(inp)`` of the unity-gain follower at the operating point (random offset
  plus the systematic ``vcm/(1+A)`` error; positive when the output sits high).
* ``cmrr_db``, ``psrr_p_db``, ``psrr_n_db``: ``20 log10 |A / A_x|`` with ``A_x`` the gain from the
  common-mode source, ``vdd`` or ``vss`` to ``out`` at ``ac_start`` (larger is better).
* ``swing_v``, ``swing_low_v``, ``swing_high_v``: the output range over which the open-loop incremental
  gain ``dv(out)/d(v(inp)-v(inn))`` stays within 3 dB of its peak (``measure.output_swing``).
* ``slew_rate`` (V/s): 10 %–90 % slope of the large step, the smaller of the rising and falling edge.
* ``settling_s``: time from the input edge until the output stays within ``settle_tol`` (default 1 %;
  0.1 % on request) of its final value, the larger of the two edges.
* ``noise_in_v_rthz`` (V/√Hz): input-referred noise density at ``noise_freq``.
* ``noise_in_int_vrms`` (V rms): input-referred noise integrated over ``noise_band``.

A metric that cannot be measured — a failed simulation, no 0 dB crossing, an output that never
settles — is absent from ``MetricSet.values`` and present in ``MetricSet.missing`` with the reason.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ckt.errors import CktError, NetlistError
from ckt.netlist.ir import Netlist
from ckt.netlist.units import format_number
from ckt.pdk.registry import Pdk
from ckt.sim import measure as ms
from ckt.sim.deck import PreparedNetlist, load_netlist, prepare
from ckt.sim.measure import MeasurementError
from ckt.sim.result import SimJob, SimResult, Status

ROLES = ("vss", "vdd", "inn", "inp", "out")
"""The port roles every op-amp DUT must map."""

ANALYSES = ("ac", "cm", "psrr_p", "psrr_n", "noise", "swing", "tran")


@dataclass(frozen=True)
class MetricInfo:
    """What a metric is: unit, the decks it needs, which way is better (``high``, ``low``, ``abs_low``)."""

    name: str
    unit: str
    decks: tuple[str, ...]
    better: str
    doc: str


METRICS: Mapping[str, MetricInfo] = MappingProxyType({
    m.name: m
    for m in (
        MetricInfo("gain_db", "dB", ("ac",), "high", "open-loop gain at the lowest AC frequency"),
        MetricInfo("ugbw", "Hz", ("ac",), "high", "unity-gain frequency (first 0 dB crossing)"),
        MetricInfo("pm_deg", "deg", ("ac",), "high", "phase margin on the unwrapped phase"),
        MetricInfo("gm_db", "dB", ("ac",), "high", "gain margin"),
        MetricInfo("gbw", "Hz", ("ac",), "high", "gain x -3 dB bandwidth"),
        MetricInfo("power_w", "W", ("ac",), "low", "static supply power"),
        MetricInfo("offset_v", "V", ("ac",), "abs_low", "unity-gain follower output minus input"),
        MetricInfo("cmrr_db", "dB", ("ac", "cm"), "high", "common-mode rejection"),
        MetricInfo("psrr_p_db", "dB", ("ac", "psrr_p"), "high", "vdd supply rejection"),
        MetricInfo("psrr_n_db", "dB", ("ac", "psrr_n"), "high", "vss supply rejection"),
        MetricInfo("swing_v", "V", ("swing",), "high", "output range within 3 dB of peak gain"),
        MetricInfo("swing_low_v", "V", ("swing",), "low", "lower end of the output swing"),
        MetricInfo("swing_high_v", "V", ("swing",), "high", "upper end of the output swing"),
        MetricInfo("slew_rate", "V/s", ("tran",), "high", "10-90 % large-step slope, worse edge"),
        MetricInfo("settling_s", "s", ("tran",), "low", "settling to settle_tol, worse edge"),
        MetricInfo("noise_in_v_rthz", "V/rtHz", ("noise",), "low", "input-referred noise density at noise_freq"),
        MetricInfo("noise_in_int_vrms", "Vrms", ("noise",), "low", "input-referred noise over noise_band"),
    )
})

DEFAULT_METRICS = ("gain_db", "ugbw", "pm_deg", "gbw", "power_w")
"""The cheap set: everything comes from one AC deck and its operating point."""

L_SERVO = 1e12
"""DC-servo inductance (H): a short at DC, open from well below 1 Hz (see the module docstring)."""
C_SERVO = 1e12
"""DC-servo capacitance (F): an AC short from ``inn`` to the common-mode source."""
SWING_OPTIONS = ".options reltol=1e-6 vntol=1e-12 abstol=1e-15"
"""Tight tolerances for the swing sweep: the differential input moves by microvolts and its
derivative gives the gain, so the default 1 µV ``vntol`` would be noise."""


def _num(x: float) -> str:
    return format_number(float(f"{float(x):.12g}"))


@dataclass(frozen=True)
class MetricSet:
    """The metrics of one testbench evaluation.

    Attributes:
        values: metric name -> finite value (SI units of ``METRICS[name].unit``).
        missing: metric name -> why it could not be measured.
        status: ``ok`` (every requested metric measured), ``partial`` (simulations ran, some metric
            missing), or the status of the first failed simulation (``error``, ``timeout``,
            ``nonconvergence``).
        messages: deck name -> failure message of each failed simulation.
        bode: ``(frequency, A)`` of the open-loop AC response when the ``ac`` deck ran (for plots).
    """

    values: dict[str, float]
    missing: dict[str, str]
    status: str
    messages: dict[str, str] = field(default_factory=dict)
    bode: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def failed(self) -> bool:
        """Whether a simulation failed (as opposed to a metric being unmeasurable)."""
        return self.status not in ("ok", "partial")

    def to_dict(self) -> dict:
        """JSON-ready: ``values``, ``missing``, ``status`` and ``messages``."""
        return {"values": dict(self.values), "missing": dict(self.missing), "status": self.status,
                "messages": dict(self.messages)}


@dataclass(frozen=True)
class OpAmpTestbench:
    """An op-amp DUT and the metrics to measure on it (see the module docstring for the definitions).

    Attributes:
        netlist: the netlist (or its file) that defines the DUT subcircuit, its models and sizes.
        dut: the subcircuit name.
        ports: role -> DUT port name (``{"vss": "gnda", "vdd": "vdda", ...}``); a DUT port left out
            maps to the role of its own name.
        vdd, vss: supply rails (V). ``vdd`` defaults to the PDK's nominal supply, else to a global
            ``.param vdd``.
        vcm: input common mode (V); default mid-supply.
        cload: load capacitance from ``out`` to ground (F).
        rload: load resistance from ``out`` to ``vcm`` (Ω); None for none.
        ibias: shorthand for ``bias["ibias"]``.
        bias: bias role -> value (A for ``i*`` roles, V for ``v*`` roles).
        temp: temperature (°C); None keeps the netlist's or ngspice's default.
        pdk, corner, models: as ``ckt.sim.deck.prepare_deck``.
        metric_names: the metrics to measure (default ``DEFAULT_METRICS``); a field name apart from the
            ``metrics`` method.
        ac_start, ac_stop, ac_points: AC sweep (Hz, Hz, points per decade).
        noise_freq: spot frequency of ``noise_in_v_rthz`` (Hz).
        noise_band: integration band of ``noise_in_int_vrms`` (Hz).
        swing_r: feedback and input resistance of the swing deck (Ω).
        step: step amplitude of the transient (V); default a quarter of the supply.
        tran_window: time given to each edge of the step (s).
        tran_points: time steps per edge window at most (the largest step is ``tran_window/tran_points``).
        settle_tol: settling band as a fraction of the step (0.01 for 1 %, 0.001 for 0.1 %).
        timeout_s, backend: passed to every ``SimJob``.
    """

    netlist: Netlist | str | os.PathLike
    dut: str
    ports: Mapping[str, str] = field(default_factory=dict)
    vdd: float | None = None
    vss: float = 0.0
    vcm: float | None = None
    cload: float = 1e-12
    rload: float | None = None
    ibias: float | None = None
    bias: Mapping[str, float] = field(default_factory=dict)
    temp: float | None = None
    pdk: str | Pdk | None = None
    corner: str | None = None
    models: tuple[str, ...] = ()
    metric_names: tuple[str, ...] = DEFAULT_METRICS
    ac_start: float = 1.0
    ac_stop: float = 100e9
    ac_points: int = 100
    noise_freq: float = 1e3
    noise_band: tuple[float, float] = (1.0, 1e6)
    swing_r: float = 1e6
    step: float | None = None
    tran_window: float = 2e-6
    tran_points: int = 250
    settle_tol: float = 0.01
    timeout_s: float = 60.0
    backend: str = "shared"

    def __post_init__(self) -> None:
        source = self.netlist
        net = load_netlist(source)
        object.__setattr__(self, "netlist", net)
        object.__setattr__(self, "metric_names", tuple(self.metric_names))
        object.__setattr__(self, "models", tuple(str(m) for m in self.models))
        unknown = [m for m in self.metric_names if m not in METRICS]
        if unknown:
            raise CktError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
        if not self.metric_names:
            raise CktError("no metrics requested")
        sub = net.subckt(self.dut)
        if sub is None:
            names = sorted(s.name for s in net.all_subckts())
            raise NetlistError(f"no subcircuit {self.dut!r} in {_where(source)}; subcircuits: {', '.join(names) or '(none)'}")
        bias = dict(self.bias)
        if self.ibias is not None:
            bias["ibias"] = self.ibias
        object.__setattr__(self, "bias", MappingProxyType(bias))
        object.__setattr__(self, "ports", MappingProxyType(self._map_ports(sub.ports)))
        object.__setattr__(self, "_dut_ports", sub.ports)
        if not self.ac_start > 0 or not self.ac_stop > self.ac_start or self.ac_points < 1:
            raise CktError(f"bad AC sweep {self.ac_start:g}..{self.ac_stop:g} Hz, {self.ac_points} points/decade")
        if not 0 < self.settle_tol < 1:
            raise CktError(f"settle_tol must lie in (0, 1), got {self.settle_tol}")

    def _map_ports(self, dut_ports: tuple[str, ...]) -> dict[str, str]:
        by_lower = {p.lower(): p for p in dut_ports}
        mapping: dict[str, str] = {}
        for role, port in self.ports.items():
            if port.lower() not in by_lower:
                raise NetlistError(
                    f"port {port!r} (role {role}) is not a port of {self.dut}; its ports: {' '.join(dut_ports)}"
                )
            mapping[role.lower()] = by_lower[port.lower()]
        taken = {p.lower() for p in mapping.values()}
        for p in dut_ports:
            if p.lower() not in taken and p.lower() not in mapping:
                mapping[p.lower()] = p
        mapped = {p.lower() for p in mapping.values()}
        unmapped = [p for p in dut_ports if p.lower() not in mapped]
        if unmapped:
            raise NetlistError(f"{self.dut} ports {' '.join(unmapped)} have no role; map them with ports=")
        missing = [r for r in ROLES if r not in mapping]
        if missing:
            raise NetlistError(
                f"{self.dut}: no port for role(s) {', '.join(missing)}; map them, e.g. "
                f"ports='vss=gnda vdd=vdda inn=vinn inp=vinp out=vout' (ports: {' '.join(dut_ports)})"
            )
        ports_seen: dict[str, str] = {}
        for role, port in mapping.items():
            if port.lower() in ports_seen:
                raise NetlistError(f"{self.dut} port {port} has two roles: {ports_seen[port.lower()]} and {role}")
            ports_seen[port.lower()] = role
        for role in mapping:
            if role not in ROLES and role[:1] not in ("i", "v"):
                raise NetlistError(f"bias role {role!r} must start with 'i' (current) or 'v' (voltage)")
        return mapping

    # ------------------------------------------------------------------------------------------
    # Describing the simulations
    # ------------------------------------------------------------------------------------------

    def analyses(self) -> tuple[str, ...]:
        """The decks the requested metrics need, in ``jobs`` order."""
        needed = {d for m in self.metric_names for d in METRICS[m].decks}
        return tuple(a for a in ANALYSES if a in needed)

    def jobs(self, params: Mapping[str, float | str] = {}) -> list[SimJob]:  # noqa: B006
        """One ``SimJob`` per deck in ``analyses()``, with the ``.param`` overrides ``params``.

        Raises:
            NetlistError: a parameter in ``params`` is not defined by the netlist.
            CktError: a supply or bias value cannot be determined.
        """
        prepared = prepare(self.netlist, overrides=params, pdk=self.pdk, models=self.models,
                           corner=self.corner, temp=self.temp)
        return [
            SimJob(deck=self.deck(a, prepared), vectors=True, timeout_s=self.timeout_s, backend=self.backend,
                   files=prepared.files)
            for a in self.analyses()
        ]

    def supplies(self, prepared: PreparedNetlist) -> tuple[float, float, float]:
        """``(vdd, vss, vcm)`` in volts for this testbench on ``prepared``."""
        vdd = self.vdd
        if vdd is None and self.pdk is not None:
            from ckt.pdk.registry import get_pdk

            vdd = (get_pdk(self.pdk) if isinstance(self.pdk, str) else self.pdk).vdd
        if vdd is None:
            vdd = self._param(prepared, "vdd")
        if vdd is None:
            raise CktError("the supply is unknown: give vdd (--vdd), a PDK, or a global .param vdd")
        vcm = (vdd + self.vss) / 2 if self.vcm is None else self.vcm
        return float(vdd), float(self.vss), float(vcm)

    def _param(self, prepared: PreparedNetlist, name: str) -> float | None:
        from ckt.netlist.params import global_scope

        return global_scope(prepared.netlist).get(name.lower())

    def deck(self, analysis: str, prepared: PreparedNetlist) -> str:
        """The deck text of ``analysis`` (one of ``ANALYSES``) on a prepared netlist."""
        if analysis not in ANALYSES:
            raise ValueError(f"unknown analysis {analysis!r}; expected one of {ANALYSES}")
        vdd, vss, vcm = self.supplies(prepared)
        ac = {a: " AC 1" if analysis == a else "" for a in ("ac", "noise", "cm", "psrr_p", "psrr_n")}
        lines = [
            f"* ---- ckt op-amp testbench: {analysis} deck for {self.dut} ----",
            f"Vtb_dd tb_vdd 0 DC {_num(vdd)}{ac['psrr_p']}",
            f"Vtb_ss tb_vss 0 DC {_num(vss)}{ac['psrr_n']}",
            f"Vtb_cm tb_cm 0 DC {_num(vcm)}{ac['cm']}",
        ]
        lines += self._bias_lines(prepared)
        nets = {role: f"tb_{role}" for role in self.ports}
        dut_nets = " ".join(nets[self._role_of(p)] for p in self._dut_ports)
        lines.append(f"Xtb_dut {dut_nets} {self.dut}")
        lines.append(f"Ctb_load tb_out 0 {_num(self.cload)}")
        if self.rload is not None:
            lines.append(f"Rtb_load tb_out tb_cm {_num(self.rload)}")
        sweep = f"dec {self.ac_points} {_num(self.ac_start)} {_num(self.ac_stop)}"
        if analysis in ("ac", "cm", "psrr_p", "psrr_n", "noise"):
            drive = ac["ac"] or ac["noise"]
            lines += [
                f"Vtb_in tb_inp tb_cm DC 0{drive}",
                f"Ltb_servo tb_out tb_inn {_num(L_SERVO)}",
                f"Ctb_servo tb_inn tb_cm {_num(C_SERVO)}",
            ]
            if analysis == "ac":
                lines += [".op", f".ac {sweep}"]
            elif analysis == "noise":
                lo = min(self.noise_band[0], self.noise_freq)
                hi = max(self.noise_band[1], self.noise_freq)
                lines.append(f".noise v(tb_out) Vtb_in dec {self.ac_points} {_num(lo)} {_num(hi)}")
            else:
                lines.append(f".ac {sweep}")
        elif analysis == "swing":
            r = _num(self.swing_r)
            lines += [
                "Vtb_in tb_inp tb_cm DC 0",
                f"Vtb_src tb_src 0 DC {_num(vcm)}",
                f"Rtb_in tb_src tb_inn {r}",
                f"Rtb_fb tb_inn tb_out {r}",
                SWING_OPTIONS,
                f".dc Vtb_src {_num(vss)} {_num(vdd)} {_num((vdd - vss) / 200)}",
            ]
        else:  # tran
            lo, hi = self._step_levels(vdd, vss, vcm)
            w = self.tran_window
            edge = w / 1000
            delay = w / 10
            lines += [
                f"Vtb_in tb_inp 0 DC {_num(lo)} PULSE({_num(lo)} {_num(hi)} {_num(delay)} {_num(edge)} "
                f"{_num(edge)} {_num(w - edge)} {_num(2 * w)})",
                "Vtb_fb tb_out tb_inn DC 0",
                f".tran {_num(w / self.tran_points)} {_num(delay + 2 * w)}",
            ]
        return prepared.deck(lines, title=f"ckt opamp testbench {analysis}: {self.dut}")

    def _role_of(self, port: str) -> str:
        for role, p in self.ports.items():
            if p == port:
                return role
        raise AssertionError(port)  # _map_ports guarantees every port has a role

    def _bias_lines(self, prepared: PreparedNetlist) -> list[str]:
        lines = []
        scope = None
        for role in self.ports:
            if role in ROLES:
                continue
            if role in self.bias:
                value = float(self.bias[role])
            else:
                if scope is None:
                    from ckt.netlist.params import global_scope

                    scope = global_scope(prepared.netlist)
                if role not in scope:
                    kind = "current (A)" if role.startswith("i") else "voltage (V)"
                    raise CktError(
                        f"bias port {self.ports[role]} (role {role}) needs a {kind}: pass bias {role}=VALUE "
                        f"(--bias {role}=VALUE) or define .param {role}"
                    )
                value = scope[role]
            if role.startswith("i"):
                a, b = ("tb_vdd", f"tb_{role}") if value >= 0 else (f"tb_{role}", "tb_vss")
                lines.append(f"Itb_{role} {a} {b} DC {_num(abs(value))}")
            else:
                lines.append(f"Vtb_{role} tb_{role} 0 DC {_num(value)}")
        return lines

    def _step_levels(self, vdd: float, vss: float, vcm: float) -> tuple[float, float]:
        step = (vdd - vss) / 4 if self.step is None else self.step
        return vcm - step / 2, vcm + step / 2

    # ------------------------------------------------------------------------------------------
    # Turning results into metrics
    # ------------------------------------------------------------------------------------------

    def metrics(self, results: Sequence[SimResult]) -> MetricSet:
        """The requested metrics from the results of ``jobs()``, in the same order."""
        return _Evaluation(self, results).run()


def one_line(message: str, limit: int = 300) -> str:
    """ngspice's (often multi-line) failure message on one line, shortened to ``limit`` characters."""
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(source: object) -> str:
    return str(source) if not isinstance(source, Netlist) else "the netlist"


def _plot(result: SimResult, prefix: str, needs: str) -> dict[str, np.ndarray]:
    """The vectors of the plot called ``<prefix><n>`` that holds the vector ``needs``."""
    for name, vectors in result.vectors.items():
        if name.startswith(prefix) and name[len(prefix):].isdigit() and needs in vectors:
            return vectors
    raise MeasurementError(f"the simulation returned no {prefix} analysis")


def _vec(plot: dict[str, np.ndarray], name: str) -> np.ndarray:
    try:
        return plot[name]
    except KeyError:
        raise MeasurementError(f"vector {name} missing from the simulation output") from None


class _Evaluation:
    """One pass from results to metrics: each metric's computation may fail with a reason."""

    def __init__(self, tb: OpAmpTestbench, results: Sequence[SimResult]) -> None:
        analyses = tb.analyses()
        if len(results) != len(analyses):
            raise CktError(f"expected {len(analyses)} results ({', '.join(analyses)}), got {len(results)}")
        self.tb = tb
        self.by_deck = dict(zip(analyses, results))
        self.values: dict[str, float] = {}
        self.missing: dict[str, str] = {}
        self.cache: dict[str, object] = {}

    def run(self) -> MetricSet:
        failed = {d: r for d, r in self.by_deck.items() if not r.ok}
        for name in self.tb.metric_names:
            bad = [d for d in METRICS[name].decks if d in failed]
            if bad:
                r = failed[bad[0]]
                self.missing[name] = f"{bad[0]} simulation {r.status}: {one_line(r.message or r.status)}"
                continue
            try:
                value = float(getattr(self, f"m_{name}")())
            except MeasurementError as exc:
                self.missing[name] = str(exc)
                continue
            if not math.isfinite(value):
                self.missing[name] = "not finite"
                continue
            self.values[name] = value
        if failed:
            status = next(iter(failed.values())).status
        else:
            status = "partial" if self.missing else Status.OK
        bode = None
        if "ac" in self.by_deck and self.by_deck["ac"].ok:
            try:
                bode = self.transfer("ac", "diff")
            except MeasurementError:
                bode = None
        return MetricSet(
            values=self.values,
            missing=self.missing,
            status=status,
            messages={d: r.message or r.status for d, r in failed.items()},
            bode=bode,
        )

    # ---- AC --------------------------------------------------------------------------------

    def transfer(self, deck: str, source: str) -> tuple[np.ndarray, np.ndarray]:
        """``(f, v(out) / v(source))`` of an AC deck."""
        key = f"{deck}_h"
        if key not in self.cache:
            plot = _plot(self.by_deck[deck], "ac", "frequency")
            f = np.real(_vec(plot, "frequency"))
            out = _vec(plot, "v(tb_out)")
            if source == "diff":
                drive = _vec(plot, "v(tb_inp)") - _vec(plot, "v(tb_inn)")
            else:
                drive = _vec(plot, source)
            if np.any(drive == 0):
                raise MeasurementError(f"{deck} deck: the AC drive is zero")
            self.cache[key] = (f, out / drive)
        return self.cache[key]  # type: ignore[return-value]

    def open_loop(self) -> tuple[np.ndarray, np.ndarray]:
        f, h = self.transfer("ac", "diff")
        phase0 = float(ms.phase_deg(h[:1])[0])
        if math.cos(math.radians(phase0)) < 0:
            raise MeasurementError(
                f"the gain from inp to out is inverting (phase {phase0:.0f}° at {f[0]:g} Hz): "
                "the inp/inn port mapping looks swapped"
            )
        return f, h

    def m_gain_db(self) -> float:
        return ms.dc_gain_db(*self.open_loop())

    def m_ugbw(self) -> float:
        return ms.unity_gain_frequency(*self.open_loop())

    def m_pm_deg(self) -> float:
        return ms.phase_margin(*self.open_loop())

    def m_gm_db(self) -> float:
        return ms.gain_margin_db(*self.open_loop())

    def m_gbw(self) -> float:
        return ms.gain_bandwidth(*self.open_loop())

    def rejection(self, deck: str, source: str, what: str) -> float:
        f, h = self.open_loop()
        _, hx = self.transfer(deck, source)
        ax = abs(hx[0])
        if ax == 0:
            raise MeasurementError(f"the {what} gain is exactly zero: rejection unbounded")
        return 20 * math.log10(abs(h[0]) / ax)

    def m_cmrr_db(self) -> float:
        return self.rejection("cm", "v(tb_cm)", "common-mode")

    def m_psrr_p_db(self) -> float:
        return self.rejection("psrr_p", "v(tb_vdd)", "vdd-to-output")

    def m_psrr_n_db(self) -> float:
        return self.rejection("psrr_n", "v(tb_vss)", "vss-to-output")

    # ---- operating point ----------------------------------------------------------------------

    def op(self) -> dict[str, np.ndarray]:
        return _plot(self.by_deck["ac"], "op", "v(tb_out)")

    def m_power_w(self) -> float:
        op = self.op()
        vdd = float(_vec(op, "v(tb_vdd)")[0])
        vss = float(_vec(op, "v(tb_vss)")[0])
        return -(vdd * float(_vec(op, "i(vtb_dd)")[0]) + vss * float(_vec(op, "i(vtb_ss)")[0]))

    def m_offset_v(self) -> float:
        op = self.op()
        return float(_vec(op, "v(tb_out)")[0] - _vec(op, "v(tb_inp)")[0])

    # ---- DC sweep -----------------------------------------------------------------------------

    def swing(self) -> tuple[float, float]:
        if "swing" not in self.cache:
            plot = _plot(self.by_deck["swing"], "dc", "v(tb_src)")
            vin = np.real(_vec(plot, "v(tb_src)"))  # the swept source's node: named alike by every backend
            out = np.real(_vec(plot, "v(tb_out)"))
            vd = np.real(_vec(plot, "v(tb_inp)") - _vec(plot, "v(tb_inn)"))
            self.cache["swing"] = ms.output_swing(vin, out, vd)
        return self.cache["swing"]  # type: ignore[return-value]

    def m_swing_v(self) -> float:
        lo, hi = self.swing()
        return hi - lo

    def m_swing_low_v(self) -> float:
        return self.swing()[0]

    def m_swing_high_v(self) -> float:
        return self.swing()[1]

    # ---- transient ----------------------------------------------------------------------------

    def edges(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """``(t, v(out), t_edge)`` per edge window (rising, then falling)."""
        plot = _plot(self.by_deck["tran"], "tran", "time")
        t = np.real(_vec(plot, "time"))
        v = np.real(_vec(plot, "v(tb_out)"))
        w = self.tb.tran_window
        delay = w / 10
        out = []
        for start in (delay, delay + w):
            keep = (t >= start - w / 20) & (t <= start + w)
            out.append((t[keep], v[keep], start))
        return out

    def settled_final(self, t: np.ndarray, v: np.ndarray, t_edge: float, step: float) -> float:
        w = self.tb.tran_window
        tail = v[t >= t_edge + 0.8 * w]
        final = float(v[-1])
        if tail.size and float(np.max(np.abs(tail - final))) > 0.5 * self.tb.settle_tol * abs(step):
            raise MeasurementError(
                f"the output is still moving at the end of the {w:g} s edge window: raise tran_window"
            )
        return final

    def step_size(self) -> float:
        plot = _plot(self.by_deck["tran"], "tran", "time")
        vin = np.real(_vec(plot, "v(tb_inp)"))
        return float(np.max(vin) - np.min(vin))

    def m_slew_rate(self) -> float:
        step = self.step_size()
        rates = []
        for t, v, t_edge in self.edges():
            final = self.settled_final(t, v, t_edge, step)
            initial = float(np.interp(t_edge, t, v))
            rates.append(ms.slew_rate(t[t >= t_edge], v[t >= t_edge], initial=initial, final=final))
        return min(rates)

    def m_settling_s(self) -> float:
        step = self.step_size()
        times = []
        for t, v, t_edge in self.edges():
            final = self.settled_final(t, v, t_edge, step)
            initial = float(np.interp(t_edge, t, v))
            times.append(ms.settling_time(t, v, t0=t_edge, tol=self.tb.settle_tol, initial=initial, final=final))
        return max(times)

    # ---- noise --------------------------------------------------------------------------------

    def noise(self) -> tuple[np.ndarray, np.ndarray]:
        plot = _plot(self.by_deck["noise"], "noise", "inoise_spectrum")
        return np.real(_vec(plot, "frequency")), np.real(_vec(plot, "inoise_spectrum"))

    def m_noise_in_v_rthz(self) -> float:
        return ms.spot_noise(*self.noise(), self.tb.noise_freq)

    def m_noise_in_int_vrms(self) -> float:
        lo, hi = self.tb.noise_band
        return ms.integrated_noise(*self.noise(), lo, hi)


def measure(tb: OpAmpTestbench, params: Mapping[str, float | str] = {}, executor=None) -> MetricSet:  # noqa: B006
    """Build ``tb``'s jobs for ``params``, run them (``executor`` or the default local pool), measure."""
    jobs = tb.jobs(params)
    if executor is None:
        from ckt.sim.executor import default_executor

        executor = default_executor()
    return tb.metrics(executor.map(jobs))
