"""The op-amp testbench: one subcircuit of a netlist, characterised by the decks its metrics need.

The device under test (DUT) is a ``.subckt`` whose ports are mapped to five roles — ``vss``, ``vdd``,
``inn``, ``inp``, ``out`` — plus optional bias roles: a role whose name starts with ``i`` is a DC
current source (positive: flows from the ``vdd`` rail into the port, as an NMOS mirror reference
wants; negative: flows out of the port into ``vss``), one starting with ``v`` is a DC voltage source
to ground. A bias value comes from the ``bias`` mapping (``ibias`` is a shorthand for
``bias["ibias"]``), else from a global ``.param`` of the role's name (so ``--set ibias=20u`` moves it).

Each deck is data: IR ``Device`` objects for the testbench's sources, loads and servo, the DUT
instance, and typed analyses (``ckt.sim.analyses``); ``ckt.netlist.write`` renders the devices and
``ckt.sim.analyses.render`` the analyses, so no SPICE text is formatted here. Decks (each built only
when a requested metric needs it; testbench nets are named ``tb_*``):

``ac``  open loop with a DC servo: ``out`` drives ``inn`` through a 1 TH inductor and ``inn`` is held
    at AC ground by a 1 TF capacitor to the common-mode source. At DC the inductor is a short, so the
    amplifier sits in unity-gain feedback at its real operating point (any gain, any offset); above a
    few µHz the loop is open, so ``v(out) / (v(inp) - v(inn))`` is the open-loop gain. ``.op`` runs
    in the same deck. The sweep is ``ac_coarse_points`` per decade, then ``ac_points`` per decade
    only around the crossings the loop metrics read (``ckt.sim.analyses.RefinedAc``); its plots are
    merged into one ascending sweep. ``ac_coarse_points=0`` (or the subprocess backend) sweeps
    ``ac_points`` per decade everywhere.
``cm``, ``psrr_p``, ``psrr_n``  the same circuit with the AC source moved to the common-mode source,
    the ``vdd`` supply or the ``vss`` supply.
``noise``  the ``ac`` circuit with ``.noise v(out)`` referred to the input source.
``swing``  inverting unity gain (two equal resistors ``swing_r``, ``inp`` at ``vcm``), input swept
    rail to rail with ``.dc`` and tight solver tolerances.
``tran``  unity-gain follower driven by a large pulse ``vcm ± step/2``; each edge gets ``tran_window``.
``follower``  the closed-loop stability check: a unity-gain follower (``out`` tied to ``inn``) given a
    small step of ``follower_step`` volts. The window follows the amplifier: the deck first runs an
    AC sweep of the follower, finds its closed-loop -3 dB bandwidth (about the UGBW) and simulates
    ``follower_cycles`` periods of it (at least ``follower_min_window``); ``follower_window`` fixes it.
``pz``  ngspice's pole analysis of the same follower (closed-loop poles), where ngspice manages it.

Every metric is declared once, in ``METRICS``: name, unit, which way is better, the decks it needs
and its computation (see ``docs/metrics.md`` for the definitions). Whenever ``pm_deg`` is requested,
``stable`` is measured too, so an optimiser can demand closed-loop stability along with the margin.
A metric that cannot be measured — a failed simulation, no 0 dB crossing, a margin that would not
mean what it says, an output that never settles — is absent from ``MetricSet.values`` and present in
``MetricSet.missing`` with the reason.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from ckt import measure as ms
from ckt.errors import CktError, MeasurementError, NetlistError
from ckt.netlist.ir import Device, DeviceKind, Expr, Netlist
from ckt.netlist.units import format_number, parse_number
from ckt.netlist.write import write_spice
from ckt.pdk.registry import Pdk
from ckt.sim import analyses as an
from ckt.sim.deck import LIBRARY_KEYWORDS, PreparedNetlist, load_netlist, prepare
from ckt.sim.executor_base import Executor
from ckt.sim.result import SimJob, SimResult, Status

ROLES = ("vss", "vdd", "inn", "inp", "out")
"""The port roles every op-amp DUT must map."""

ANALYSES = ("ac", "cm", "psrr_p", "psrr_n", "noise", "swing", "tran", "follower", "pz")
"""Every deck, in ``jobs`` order."""
CHECK_DECKS = frozenset({"follower", "pz"})
"""Decks whose failure leaves only their own metrics missing (status ``partial``), not the evaluation
failed: ngspice's pole analysis often fails, and an unstable follower's growing output can end its
transient with "timestep too small" — either way the other metrics are still good."""

DEFAULT_METRICS = ("gain_db", "ugbw", "pm_deg", "gbw", "power_w")
"""The cheap set: the ``ac`` deck and its operating point (plus ``stable``, which ``pm_deg`` brings)."""

L_SERVO = 1e12
"""DC-servo inductance (H): a short at DC, open from well below 1 Hz (see the module docstring)."""
C_SERVO = 1e12
"""DC-servo capacitance (F): an AC short from ``inn`` to the common-mode source."""
SWING_OPTIONS = an.Options((("reltol", 1e-6), ("vntol", 1e-12), ("abstol", 1e-15)))
"""Tight tolerances for the swing sweep: the differential input moves by microvolts and its
derivative gives the gain, so the default 1 µV ``vntol`` would be noise."""
FOLLOWER_EDGE = 1e-12
"""Rise time of the follower's small step (s): a step to any amplifier ckt is likely to meet."""


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
        step: ``(time, v(out))`` of the follower's small-signal step when that deck ran (for plots).
    """

    values: dict[str, float]
    missing: dict[str, str]
    status: Status
    messages: dict[str, str] = field(default_factory=dict)
    bode: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)
    step: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    @property
    def failed(self) -> bool:
        """Whether a simulation failed (as opposed to a metric being unmeasurable)."""
        return self.status not in (Status.OK, Status.PARTIAL)

    def to_dict(self) -> dict:
        """JSON-ready: ``values``, ``missing``, ``status`` and ``messages``."""
        return {"values": dict(self.values), "missing": dict(self.missing),
                "status": str(self.status), "messages": dict(self.messages)}


def _opt(default: Any, doc: str, *, factory: bool = False) -> Any:
    """A user-settable testbench option: a dataclass field carrying its documentation."""
    if factory:
        return field(default_factory=default, metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Option:
    """One user-settable testbench option, as ``option_fields`` lists it.

    Attributes:
        name: the ``OpAmpTestbench`` field (and the spec's ``testbench:`` key).
        kind: ``num`` (a number, engineering suffixes allowed), ``num?`` (a number or null), ``int``,
            ``str?`` (a name or null), ``str``, ``pair`` (two numbers), ``map`` (name -> number).
        default: the default value.
        doc: what it does.
    """

    name: str
    kind: str
    default: object
    doc: str


_KINDS = {"float": "num", "float | None": "num?", "int": "int", "str | None": "str?", "str": "str",
          "tuple[float, float]": "pair", "Mapping[str, float]": "map"}



@dataclass(frozen=True)
class OpAmpTestbench:
    """An op-amp DUT and the metrics to measure on it (see the module docstring for the decks).

    ``netlist`` (a ``Netlist`` or its file), ``dut`` (the subcircuit), ``ports`` (role -> DUT port;
    a port left out maps to the role of its own name), ``metric_names`` (default
    ``DEFAULT_METRICS``), ``pdk``, ``models``, ``timeout_s`` come from the caller; every other field is
    a user-settable option, documented in its field and listed by ``option_fields()``.
    """

    netlist: Netlist | str | os.PathLike[str]
    dut: str
    ports: Mapping[str, str] = field(default_factory=dict)
    vdd: float | None = _opt(None, "supply (V); default the PDK's nominal supply, else a global .param vdd")
    vss: float = _opt(0.0, "negative rail (V)")
    vcm: float | None = _opt(None, "input common mode (V); default mid-supply")
    cload: float = _opt(1e-12, "load capacitance from out to ground (F)")
    rload: float | None = _opt(None, "load resistance from out to vcm (ohm); none by default")
    ibias: float | None = _opt(None, "shorthand for bias: {ibias: VALUE} (A)")
    bias: Mapping[str, float] = _opt(dict, "bias role -> value (A for i* roles, V for v* roles)", factory=True)
    temp: float | None = _opt(None, "temperature (C); default the netlist's or ngspice's")
    pdk: str | Pdk | None = None
    corner: str | None = _opt(None, "PDK corner (tt, ss, ...)")
    models: tuple[str, ...] = ()
    metric_names: tuple[str, ...] = DEFAULT_METRICS
    ac_start: float = _opt(1.0, "AC sweep start (Hz); frequency-domain 'DC' values are read here")
    ac_stop: float = _opt(100e9, "AC sweep stop (Hz)")
    ac_points: int = _opt(100, "AC points per decade (near the loop crossings only, unless ac_coarse_points is 0)")
    ac_coarse_points: int = _opt(10, "open-loop AC points per decade away from its 0 dB, -3 dB and -180 deg "
                                     "crossings (shared backend); 0 sweeps ac_points per decade everywhere")
    noise_freq: float = _opt(1e3, "spot frequency of noise_in_v_rthz (Hz)")
    noise_band: tuple[float, float] = _opt((1.0, 1e6), "integration band of noise_in_int_vrms (Hz, Hz)")
    swing_r: float = _opt(1e6, "feedback and input resistance of the swing deck (ohm)")
    step: float | None = _opt(None, "large-step amplitude of the tran deck (V); default a quarter of the supply")
    tran_window: float = _opt(2e-6, "time given to each edge of the large step (s)")
    tran_points: int = _opt(250, "time steps per large-step edge window at most")
    settle_tol: float = _opt(0.01, "settling band as a fraction of the step (0.01 = 1 %), both step decks")
    follower_step: float = _opt(0.01, "small-step amplitude of the follower stability check (V)")
    follower_cycles: float = _opt(40.0, "follower window in periods of its closed-loop -3 dB bandwidth")
    follower_min_window: float = _opt(1e-9, "shortest follower window (s)")
    follower_window: float | None = _opt(None, "fixed follower window (s), instead of the scaled one")
    follower_points: int = _opt(2000, "samples over the follower window")
    timeout_s: float = 60.0
    backend: str = _opt("shared", "ngspice backend: shared (libngspice) or subprocess (ngspice -b)")
    _dut_ports: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        source = self.netlist
        net = load_netlist(source)
        object.__setattr__(self, "netlist", net)
        names = tuple(self.metric_names)
        if "pm_deg" in names and "stable" not in names:
            names += ("stable",)
        object.__setattr__(self, "metric_names", names)
        object.__setattr__(self, "models", tuple(str(m) for m in self.models))
        unknown = [m for m in self.metric_names if m not in METRICS]
        if unknown:
            raise CktError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
        if not self.metric_names:
            raise CktError("no metrics requested")
        sub = net.subckt(self.dut)
        if sub is None:
            names_ = sorted(s.name for s in net.all_subckts())
            raise NetlistError(
                f"no subcircuit {self.dut!r} in {_where(source)}; subcircuits: {', '.join(names_) or '(none)'}"
            )
        bias = dict(self.bias)
        if self.ibias is not None:
            bias["ibias"] = self.ibias
        object.__setattr__(self, "bias", MappingProxyType(bias))
        object.__setattr__(self, "ports", MappingProxyType(self._map_ports(sub.ports)))
        object.__setattr__(self, "_dut_ports", sub.ports)
        if not self.ac_start > 0 or not self.ac_stop > self.ac_start or self.ac_points < 1:
            raise CktError(f"bad AC sweep {self.ac_start:g}..{self.ac_stop:g} Hz, {self.ac_points} points/decade "
                           "(ac_start, ac_stop, ac_points)")
        if self.ac_coarse_points < 0:
            raise CktError(f"ac_coarse_points must be 0 (dense sweep) or positive, got {self.ac_coarse_points}")
        if not 0 < self.settle_tol < 1:
            raise CktError(f"settle_tol must lie in (0, 1), got {self.settle_tol}")
        if not self.follower_step > 0 or not self.follower_cycles > 0 or not self.follower_min_window > 0:
            raise CktError("follower_step, follower_cycles and follower_min_window must be positive")
        if self.follower_window is not None and not self.follower_window > 0:
            raise CktError(f"follower_window must be positive, got {self.follower_window}")
        if self.follower_points < 10 or self.tran_points < 1:
            raise CktError("follower_points must be at least 10 and tran_points at least 1")

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

    def jobs(self, params: Mapping[str, float | str] = {}) -> list[SimJob]:
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
        devices, analyses = self.circuit(analysis, prepared)
        kept = tuple(s for s in prepared.netlist.statements if s.keyword in LIBRARY_KEYWORDS)
        net = replace(prepared.netlist, title=f"ckt opamp testbench {analysis}: {self.dut}", devices=devices,
                      statements=kept + an.statements(analyses))
        return write_spice(net)

    def circuit(self, analysis: str, prepared: PreparedNetlist) -> tuple[tuple[Device, ...], tuple[an.Analysis, ...]]:
        """The testbench of one deck as data: its top-level IR devices (DUT instance included) and analyses."""
        if analysis not in ANALYSES:
            raise ValueError(f"unknown analysis {analysis!r}; expected one of {ANALYSES}")
        vdd, vss, vcm = self.supplies(prepared)
        ac = {a: "AC 1" if analysis == a else "" for a in ("ac", "noise", "cm", "psrr_p", "psrr_n")}
        devs = [
            _dev("Vtb_dd", DeviceKind.VSOURCE, "tb_vdd", "0", vdd, ac["psrr_p"]),
            _dev("Vtb_ss", DeviceKind.VSOURCE, "tb_vss", "0", vss, ac["psrr_n"]),
            _dev("Vtb_cm", DeviceKind.VSOURCE, "tb_cm", "0", vcm, ac["cm"]),
            *self._bias_devices(prepared),
            Device("Xtb_dut", DeviceKind.SUBCKT,
                   tuple((p, f"tb_{self._role_of(p)}") for p in self._dut_ports), model=self.dut),
            _dev("Ctb_load", DeviceKind.CAPACITOR, "tb_out", "0", self.cload),
        ]
        if self.rload is not None:
            devs.append(_dev("Rtb_load", DeviceKind.RESISTOR, "tb_out", "tb_cm", self.rload))
        sweep = an.Ac(self.ac_start, self.ac_stop, self.ac_points)
        analyses: list[an.Analysis]
        if analysis in ("ac", "cm", "psrr_p", "psrr_n", "noise"):
            devs += [
                _dev("Vtb_in", DeviceKind.VSOURCE, "tb_inp", "tb_cm", 0.0, ac["ac"] or ac["noise"]),
                _dev("Ltb_servo", DeviceKind.INDUCTOR, "tb_out", "tb_inn", L_SERVO),
                _dev("Ctb_servo", DeviceKind.CAPACITOR, "tb_inn", "tb_cm", C_SERVO),
            ]
            # the refined sweep is a .control script, whose plots only the shared backend collects
            if analysis == "ac" and 0 < self.ac_coarse_points < self.ac_points and self.backend == "shared":
                analyses = [an.RefinedAc(sweep, "tb_out", "tb_inp", "tb_inn", self.ac_coarse_points)]
            elif analysis == "ac":
                analyses = [an.Op(), sweep]
            elif analysis == "noise":
                lo = min(self.noise_band[0], self.noise_freq)
                hi = max(self.noise_band[1], self.noise_freq)
                analyses = [an.Noise("tb_out", "Vtb_in", an.Ac(lo, hi, self.ac_points))]
            else:
                analyses = [sweep]
        elif analysis == "swing":
            devs += [
                _dev("Vtb_in", DeviceKind.VSOURCE, "tb_inp", "tb_cm", 0.0),
                _dev("Vtb_src", DeviceKind.VSOURCE, "tb_src", "0", vcm),
                _dev("Rtb_in", DeviceKind.RESISTOR, "tb_src", "tb_inn", self.swing_r),
                _dev("Rtb_fb", DeviceKind.RESISTOR, "tb_inn", "tb_out", self.swing_r),
            ]
            analyses = [SWING_OPTIONS, an.Dc("Vtb_src", vss, vdd, (vdd - vss) / 200)]
        elif analysis == "tran":
            lo, hi = self._step_levels(vdd, vss, vcm)
            w = self.tran_window
            edge, delay = w / 1000, w / 10
            pulse = f"PULSE({_n(lo)} {_n(hi)} {_n(delay)} {_n(edge)} {_n(edge)} {_n(w - edge)} {_n(2 * w)})"
            devs += [
                _dev("Vtb_in", DeviceKind.VSOURCE, "tb_inp", "0", lo, pulse),
                _dev("Vtb_fb", DeviceKind.VSOURCE, "tb_out", "tb_inn", 0.0),
            ]
            analyses = [an.Tran(w / self.tran_points, delay + 2 * w)]
        else:  # follower, pz: the unity-gain follower around a small step
            lo, hi = vcm - self.follower_step / 2, vcm + self.follower_step / 2
            spec = "AC 1"
            if analysis == "follower":
                spec += f" PULSE({_n(lo)} {_n(hi)} 0 {_n(FOLLOWER_EDGE)} {_n(FOLLOWER_EDGE)} 1e6 2e6)"
            devs += [
                _dev("Vtb_in", DeviceKind.VSOURCE, "tb_inp", "0", lo, spec),
                _dev("Vtb_fb", DeviceKind.VSOURCE, "tb_out", "tb_inn", 0.0),
            ]
            if analysis == "pz":
                analyses = [an.Pz("tb_inp", "0", "tb_out", "0", "vol", "pol")]
            elif self.follower_window is not None:
                w = self.follower_window
                analyses = [an.Tran(w / self.follower_points, w, w / self.follower_points)]
            else:
                analyses = [an.ScaledTran(sweep, "tb_out", self.follower_cycles, self.follower_min_window,
                                          self.follower_points)]
        return tuple(devs), tuple(analyses)

    def _role_of(self, port: str) -> str:
        for role, p in self.ports.items():
            if p == port:
                return role
        raise AssertionError(port)  # _map_ports guarantees every port has a role

    def _bias_devices(self, prepared: PreparedNetlist) -> list[Device]:
        devs = []
        scope = None
        for role in self.ports:
            if role in ROLES:
                continue
            # A bias read from the netlist's .param stays a reference to it, so designs that differ in
            # it differ only in .param values (and run on one loaded circuit, ckt.sim.backends.reuse).
            ref: Expr | None = None
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
                        f"(--bias {role}=VALUE, or testbench: bias: {{{role}: VALUE}}) or define .param {role}"
                    )
                value = scope[role]
                ref = Expr(f"abs({role})" if role.startswith("i") else role)
            if role.startswith("i"):
                a, b = ("tb_vdd", f"tb_{role}") if value >= 0 else (f"tb_{role}", "tb_vss")
                dev = _dev(f"Itb_{role}", DeviceKind.ISOURCE, a, b, abs(value))
            else:
                dev = _dev(f"Vtb_{role}", DeviceKind.VSOURCE, f"tb_{role}", "0", value)
            devs.append(dev if ref is None else replace(dev, value=ref))
        return devs

    def _step_levels(self, vdd: float, vss: float, vcm: float) -> tuple[float, float]:
        step = (vdd - vss) / 4 if self.step is None else self.step
        return vcm - step / 2, vcm + step / 2

    # ------------------------------------------------------------------------------------------
    # Turning results into metrics
    # ------------------------------------------------------------------------------------------

    def metrics(self, results: Sequence[SimResult]) -> MetricSet:
        """The requested metrics from the results of ``jobs()``, in the same order."""
        return _Evaluation(self, results).run()


def option_fields() -> dict[str, Option]:
    """Every user-settable ``OpAmpTestbench`` option (the spec's ``testbench:`` keys), with kind and doc.

    The dataclass fields are the single source: a field with a ``doc`` is an option.
    """
    out = {}
    for f in fields(OpAmpTestbench):
        if "doc" not in f.metadata:
            continue
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        out[f.name] = Option(f.name, _KINDS[str(f.type)], default, f.metadata["doc"])
    return out


def coerce_option(name: str, value: object) -> object:
    """``value`` (from YAML or the command line) as the type option ``name`` holds.

    Numbers may be strings with engineering suffixes (``"2u"``, ``"1.5meg"``).

    Raises:
        CktError: an unknown option (the message lists the known ones) or a value of the wrong kind.
    """
    opts = option_fields()
    if name not in opts:
        raise CktError(f"unknown testbench option {name!r}; options: {', '.join(sorted(opts))}")
    kind = opts[name].kind
    if value is None and kind.endswith("?"):
        return None

    def num(v: object) -> float:
        if isinstance(v, bool):
            raise CktError(f"testbench option {name}: expected a number, got {v!r}")
        if isinstance(v, (int, float)):
            x = float(v)
        elif isinstance(v, str) and parse_number(v.strip()) is not None:
            x = float(parse_number(v.strip()))  # type: ignore[arg-type]
        else:
            raise CktError(f"testbench option {name}: expected a number, got {v!r}")
        if not math.isfinite(x):
            raise CktError(f"testbench option {name}: expected a finite number, got {v!r}")
        return x

    if kind in ("num", "num?"):
        return num(value)
    if kind == "int":
        x = num(value)
        if x != int(x):
            raise CktError(f"testbench option {name}: expected a whole number, got {value!r}")
        return int(x)
    if kind in ("str", "str?"):
        if not isinstance(value, str) or not value:
            raise CktError(f"testbench option {name}: expected a name, got {value!r}")
        return value
    if kind == "pair":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise CktError(f"testbench option {name}: expected two numbers [lo, hi], got {value!r}")
        return (num(value[0]), num(value[1]))
    if not isinstance(value, Mapping):
        raise CktError(f"testbench option {name}: expected a mapping of name: number, got {value!r}")
    return {str(k).lower(): num(v) for k, v in value.items()}


def _n(x: float) -> str:
    return format_number(float(f"{float(x):.12g}"))


def _dev(name: str, kind: DeviceKind, p: str, n: str, value: float, spec: str = "") -> Device:
    """A two-terminal testbench device; the value rounded to 12 digits so decks read cleanly."""
    return Device(name, kind, (("p", p), ("n", n)), value=float(f"{float(value):.12g}"), spec=spec)


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


def _ac_plots(result: SimResult) -> list[dict[str, np.ndarray]]:
    """Every AC plot of a result (a refined sweep has several: coarse, then its dense windows), in
    plot order."""
    plots = [(int(name[2:]), v) for name, v in result.vectors.items()
             if name.startswith("ac") and name[2:].isdigit() and "frequency" in v and len(v["frequency"])]
    return [v for _, v in sorted(plots, key=lambda p: p[0])]


def _merge_sweeps(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One ``(f, h)`` ascending in frequency from several sweeps; a frequency two sweeps share is
    taken from the first (the coarse sweep, which holds the ``ac_start`` point)."""
    f = np.concatenate([p[0] for p in parts])
    h = np.concatenate([p[1] for p in parts])
    _, first = np.unique(f, return_index=True)
    return f[first], h[first]


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
        self.cache: dict[str, object] = {}

    def run(self) -> MetricSet:
        values: dict[str, float] = {}
        missing: dict[str, str] = {}
        failed = {d: r for d, r in self.by_deck.items() if not r.ok}
        for name in self.tb.metric_names:
            metric = METRICS[name]
            bad = [d for d in metric.decks if d in failed]
            if bad:
                r = failed[bad[0]]
                missing[name] = f"{bad[0]} simulation {_status(r)}: {one_line(r.message or _status(r))}"
                continue
            try:
                value = float(metric.compute(self))
            except MeasurementError as exc:
                missing[name] = str(exc)
                continue
            if not math.isfinite(value):
                missing[name] = "not finite"
                continue
            values[name] = value
        fatal = {d: r for d, r in failed.items() if d not in CHECK_DECKS}
        if fatal:
            status = next(iter(fatal.values())).status
        else:
            status = Status.PARTIAL if missing else Status.OK
        return MetricSet(values=values, missing=missing, status=status,
                         messages={d: r.message or _status(r) for d, r in fatal.items()},
                         bode=self._optional(lambda: self.transfer("ac", "diff"), "ac"),
                         step=self._optional(lambda: self.follower_wave()[:2], "follower"))

    def _optional(
        self, get: Callable[[], tuple[np.ndarray, np.ndarray]], deck: str
    ) -> tuple[np.ndarray, np.ndarray] | None:
        if deck not in self.by_deck or not self.by_deck[deck].ok:
            return None
        try:
            return get()
        except MeasurementError:
            return None

    # ---- AC --------------------------------------------------------------------------------

    def transfer(self, deck: str, source: str) -> tuple[np.ndarray, np.ndarray]:
        """``(f, v(out) / v(source))`` of an AC deck."""
        key = f"{deck}_h"
        if key not in self.cache:
            _plot(self.by_deck[deck], "ac", "frequency")  # raises when there is no AC plot at all
            parts = []
            for plot in _ac_plots(self.by_deck[deck]):
                f = np.real(_vec(plot, "frequency"))
                out = _vec(plot, "v(tb_out)")
                if source == "diff":
                    drive = _vec(plot, "v(tb_inp)") - _vec(plot, "v(tb_inn)")
                else:
                    drive = _vec(plot, source)
                if np.any(drive == 0):
                    raise MeasurementError(f"{deck} deck: the AC drive is zero")
                parts.append((f, out / drive))
            self.cache[key] = _merge_sweeps(parts)
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

    def gain_db(self) -> float:
        return ms.dc_gain_db(*self.open_loop())

    def ugbw(self) -> float:
        return ms.unity_gain_frequency(*self.open_loop())

    def pm_deg(self) -> float:
        return ms.stable_phase_margin(*self.open_loop())

    def gm_db(self) -> float:
        return ms.stable_gain_margin_db(*self.open_loop())

    def gbw(self) -> float:
        return ms.gain_bandwidth(*self.open_loop())

    def rejection(self, deck: str, source: str, what: str) -> float:
        _, h = self.open_loop()
        _, hx = self.transfer(deck, source)
        ax = abs(hx[0])
        if ax == 0:
            raise MeasurementError(f"the {what} gain is exactly zero: rejection unbounded")
        return 20 * math.log10(abs(h[0]) / ax)

    def cmrr_db(self) -> float:
        return self.rejection("cm", "v(tb_cm)", "common-mode")

    def psrr_p_db(self) -> float:
        return self.rejection("psrr_p", "v(tb_vdd)", "vdd-to-output")

    def psrr_n_db(self) -> float:
        return self.rejection("psrr_n", "v(tb_vss)", "vss-to-output")

    # ---- operating point ----------------------------------------------------------------------

    def op(self) -> dict[str, np.ndarray]:
        return _plot(self.by_deck["ac"], "op", "v(tb_out)")

    def power_w(self) -> float:
        op = self.op()
        vdd = float(_vec(op, "v(tb_vdd)")[0])
        vss = float(_vec(op, "v(tb_vss)")[0])
        return -(vdd * float(_vec(op, "i(vtb_dd)")[0]) + vss * float(_vec(op, "i(vtb_ss)")[0]))

    def offset_v(self) -> float:
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

    # ---- large-step transient -----------------------------------------------------------------

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

    def slew_rate(self) -> float:
        step = self.step_size()
        rates = []
        for t, v, t_edge in self.edges():
            final = self.settled_final(t, v, t_edge, step)
            initial = float(np.interp(t_edge, t, v))
            rates.append(ms.slew_rate(t[t >= t_edge], v[t >= t_edge], initial=initial, final=final))
        return min(rates)

    def settling_s(self) -> float:
        step = self.step_size()
        times = []
        for t, v, t_edge in self.edges():
            final = self.settled_final(t, v, t_edge, step)
            initial = float(np.interp(t_edge, t, v))
            times.append(ms.settling_time(t, v, t0=t_edge, tol=self.tb.settle_tol, initial=initial, final=final))
        return max(times)

    # ---- follower: the closed-loop small-step check --------------------------------------------

    def follower_wave(self) -> tuple[np.ndarray, np.ndarray, float]:
        """``(t, v(out), input step)`` of the follower deck."""
        result = self.by_deck["follower"]
        try:
            plot = _plot(result, "tran", "time")
        except MeasurementError:
            if any(name.startswith("ac") for name in result.vectors):
                raise MeasurementError(
                    "no follower step was run: the follower's closed-loop gain never falls 3 dB below its "
                    "low-frequency value within the AC sweep, so no window could be scaled from it "
                    "(set follower_window or raise ac_stop)"
                ) from None
            raise
        t = np.real(_vec(plot, "time"))
        vin = np.real(_vec(plot, "v(tb_inp)"))
        return t, np.real(_vec(plot, "v(tb_out)")), float(vin[-1] - vin[0])

    def step(self) -> ms.StepResponse:
        if "step" not in self.cache:
            t, v, dv = self.follower_wave()
            if dv == 0:
                raise MeasurementError("the follower's input did not step")
            self.cache["step"] = ms.step_response(t, v, t0=float(t[0]), expected_step=dv, tol=self.tb.settle_tol)
        return self.cache["step"]  # type: ignore[return-value]

    def stable(self) -> float:
        return 1.0 if self.step().stable else 0.0

    def overshoot_pct(self) -> float:
        return self.step().overshoot_pct

    def ringing(self) -> float:
        return float(self.step().ringing)

    def tail_pp_v(self) -> float:
        return self.step().tail_pp

    def step_settling_s(self) -> float:
        s = self.step()
        if s.settling_s is None:
            raise MeasurementError(s.reason or "the follower step does not settle within its window")
        return s.settling_s

    def rhp_poles(self) -> float:
        plots = [v for k, v in self.by_deck["pz"].vectors.items() if k.startswith("pz")]
        # the shared library names a pole "pole(1)", a raw file "v(pole(1))"
        poles = np.array([complex(v[0]) for plot in plots[:1] for k, v in plot.items() if "pole(" in k and len(v)])
        if not plots:
            raise MeasurementError("the simulation returned no pz analysis")
        if not np.all(np.isfinite(poles)):
            raise MeasurementError("ngspice's pole analysis returned non-finite poles")
        scale = float(np.max(np.abs(poles))) if poles.size else 0.0
        return float(np.count_nonzero(poles.real > 1e-9 * scale))

    # ---- noise --------------------------------------------------------------------------------

    def noise(self) -> tuple[np.ndarray, np.ndarray]:
        plot = _plot(self.by_deck["noise"], "noise", "inoise_spectrum")
        return np.real(_vec(plot, "frequency")), np.real(_vec(plot, "inoise_spectrum"))


def _status(result: SimResult) -> str:
    return str(result.status)


@dataclass(frozen=True)
class Metric:
    """One metric, declared once: its unit, which way is better (``high``, ``low``, ``abs_low``), the
    decks it needs, how it is computed from them, and a one-line definition (``docs/metrics.md`` has
    the full one)."""

    name: str
    unit: str
    better: str
    decks: tuple[str, ...]
    compute: Callable[[_Evaluation], float] = field(repr=False, compare=False)
    doc: str


_E = _Evaluation
METRICS: Mapping[str, Metric] = MappingProxyType({m.name: m for m in (
    Metric("gain_db", "dB", "high", ("ac",), _E.gain_db, "open-loop gain at ac_start"),
    Metric("ugbw", "Hz", "high", ("ac",), _E.ugbw, "unity-gain frequency (first 0 dB crossing)"),
    Metric("pm_deg", "deg", "high", ("ac",), _E.pm_deg,
           "phase margin on the unwrapped phase; missing when the loop check finds it meaningless"),
    Metric("gm_db", "dB", "high", ("ac",), _E.gm_db, "gain margin on the unwrapped phase, same loop check"),
    Metric("gbw", "Hz", "high", ("ac",), _E.gbw, "gain x -3 dB bandwidth"),
    Metric("power_w", "W", "low", ("ac",), _E.power_w, "static supply power"),
    Metric("offset_v", "V", "abs_low", ("ac",), _E.offset_v, "unity-gain follower output minus input"),
    Metric("cmrr_db", "dB", "high", ("ac", "cm"), _E.cmrr_db, "common-mode rejection"),
    Metric("psrr_p_db", "dB", "high", ("ac", "psrr_p"), _E.psrr_p_db, "vdd supply rejection"),
    Metric("psrr_n_db", "dB", "high", ("ac", "psrr_n"), _E.psrr_n_db, "vss supply rejection"),
    Metric("swing_v", "V", "high", ("swing",), lambda e: e.swing()[1] - e.swing()[0],
           "output range within 3 dB of peak gain"),
    Metric("swing_low_v", "V", "low", ("swing",), lambda e: e.swing()[0], "lower end of the output swing"),
    Metric("swing_high_v", "V", "high", ("swing",), lambda e: e.swing()[1], "upper end of the output swing"),
    Metric("slew_rate", "V/s", "high", ("tran",), _E.slew_rate, "10-90 % large-step slope, worse edge"),
    Metric("settling_s", "s", "low", ("tran",), _E.settling_s, "large-step settling to settle_tol, worse edge"),
    Metric("stable", "", "high", ("follower",), _E.stable,
           "1 when the follower's small step settles and its tail is still, else 0"),
    Metric("overshoot_pct", "%", "low", ("follower",), _E.overshoot_pct, "follower small-step overshoot"),
    Metric("ringing", "", "low", ("follower",), _E.ringing, "half-cycles of ringing beyond the settle band"),
    Metric("tail_pp_v", "V", "low", ("follower",), _E.tail_pp_v, "peak-to-peak over the last 20 % of the window"),
    Metric("step_settling_s", "s", "low", ("follower",), _E.step_settling_s,
           "follower small-step settling to settle_tol"),
    Metric("rhp_poles", "", "low", ("pz",), _E.rhp_poles, "closed-loop follower poles in the right half plane"),
    Metric("noise_in_v_rthz", "V/rtHz", "low", ("noise",),
           lambda e: ms.spot_noise(*e.noise(), e.tb.noise_freq), "input-referred noise density at noise_freq"),
    Metric("noise_in_int_vrms", "Vrms", "low", ("noise",),
           lambda e: ms.integrated_noise(*e.noise(), *e.tb.noise_band), "input-referred noise over noise_band"),
)})


def measure(
    tb: OpAmpTestbench, params: Mapping[str, float | str] = {}, executor: Executor | None = None
) -> MetricSet:
    """Build ``tb``'s jobs for ``params``, run them (``executor`` or the default local pool), measure."""
    jobs = tb.jobs(params)
    if executor is None:
        from ckt.sim.executor import default_executor

        executor = default_executor()
    return tb.metrics(executor.map(jobs))
