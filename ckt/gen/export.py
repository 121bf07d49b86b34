"""Export of a device-level op-amp (as the generator or the datasets give it) to a sizable, biased DUT.

The input is a flat netlist of unsized devices (``nmos4``/``pmos4`` MOSFETs, R, C, L, BJTs, diodes),
its port names and nothing else. The output (``ExportedOpAmp``) is what a sizing run consumes: a
netlist with a ``.subckt`` DUT whose devices read global ``.param`` sizes, the MOSFETs bound to a PDK,
the testbench port roles, and the design space (``ckt.opt.space.Variable``s, defaults at mid-range).

Choices, each one a designer's default rather than a guess at the original sizes:

* **Ports -> testbench roles** (``ckt.sim.testbench.opamp``): VSS -> ``vss``, VDD -> ``vdd``, VOUT1 ->
  ``out`` (IOUT1 when there is no voltage output); further outputs (VOUT*, IOUT*) stay internal
  nets (a fully differential circuit is measured single-ended at VOUT1). Every other port becomes
  a bias role of its own lower-case name: ``V*`` ports (VB, VCM, VREF, VIN3...) DC voltages, ``I*``
  ports (IB, IIN...) DC currents.
* **Which input is non-inverting**: a cheap sign rule on the low-frequency signal paths (see
  ``input_signs``): common source and common emitter invert, followers and common gate/base do
  not, resistors and inductors pass, capacitors are open. The shortest path from each input to
  the output decides; when both inputs agree or a path is ambiguous VIN1 is taken as ``inp`` and
  ``polarity`` says ``assumed``. ``ExportedOpAmp.swapped()`` gives the other mapping, so a caller
  can let the testbench decide: ``orient`` simulates the default sizes and swaps the inputs when
  only the swapped mapping amplifies without inverting.
* **A single input** (VIN1 alone): VIN1 is ``inp`` and the DUT gets an extra port ``INN_NC`` that
  nothing inside connects to, since the testbench needs an ``inn``. The DC servo then closes no
  loop (the amplifier sits open loop with VIN1 at the common mode) and the follower check cannot
  pass: such a circuit is exported, but it is not an op-amp the testbench can certify.
* **Sizes tied by symmetry**: devices in one automorphism orbit (``ckt.gen.symmetry``) share their
  parameters: one ``w_*``/``l_*`` pair per MOSFET orbit, one ``r_*``/``c_*``/``ind_*`` per passive
  orbit, one ``area_*`` per BJT or diode orbit, named after the orbit's first device. A
  single-ended output breaks the global symmetry of most op-amps, yet a designer still matches the
  input pair, so with ``match_inputs`` (the default) two same-model transistors whose gates (bases)
  are the two inputs and whose sources (emitters) and bulks share nets are tied too, with their
  orbits.
* **Ranges** (log scale): L from the PDK's minimum to 10x, W from its minimum width to 100x, R 100
  ohm-1 Mohm, C 10 fF-10 pF, L 1 nH-1 uH, BJT/diode area 1-100, bias currents 1-100 uA (the
  direction from what the port feeds: an NMOS or NPN drain/collector is fed from ``vdd``, a PMOS or
  PNP one drains to ``vss``); bias voltages span the rails, linearly. Defaults are mid-range
  (geometric for log ranges).
* BJTs and diodes get plain SPICE models local to the DUT (``ckt_npn``, ``ckt_pnp``, ``ckt_diode``,
  ``BJT_CARD``/``DIODE_CARD``): no bundled PDK has them.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from ckt.errors import ExportError
from ckt.gen.symmetry import device_orbits
from ckt.netlist.ir import Device, DeviceKind, Expr, Model, Netlist, Param, Subckt
from ckt.netlist.write import write_spice
from ckt.opt.space import Variable
from ckt.opt.spec import Objective, Spec, Target, TestbenchSpec
from ckt.pdk.bind import bind
from ckt.pdk.registry import Pdk, get_pdk

if TYPE_CHECKING:
    from ckt.sim.executor_base import Executor

DEFAULT_PDK = "ptm180"
"""1.8 V leaves headroom for the cascode stacks common in the data."""

MIN_SIZES: Mapping[str, tuple[float, float]] = {"sky130": (0.15e-6, 0.42e-6), "gf180": (0.28e-6, 0.22e-6)}
"""PDK -> (minimum L, minimum W) in metres, where the node name does not give them (PTM: L = node,
W = 2 x node)."""

L_SPAN, W_SPAN = 10.0, 100.0
R_RANGE, C_RANGE, IND_RANGE, AREA_RANGE, I_RANGE = (100.0, 1e6), (10e-15, 10e-12), (1e-9, 1e-6), (1.0, 100.0), \
    (1e-6, 100e-6)

BJT_CARD = (("is", 1e-16), ("bf", 100.0), ("vaf", 50.0))
DIODE_CARD = (("is", 1e-14),)
MODELS = {"npn": "ckt_npn", "pnp": "ckt_pnp", "diode": "ckt_diode"}

NC_PORT = "INN_NC"
"""The unconnected ``inn`` port a single-input circuit is given."""

DEFAULT_TARGETS = (Target("gain_db", lo=40.0), Target("ugbw", lo=1e6), Target("pm_deg", lo=45.0))
"""The functional-yield bar of issue 10: gain >= 40 dB, UGBW >= 1 MHz, PM >= 45 degrees."""

_SUPPLIES = {"VDD", "VSS", "GND", "0"}
_VIN = re.compile(r"^VIN(\d+)$", re.IGNORECASE)
_VOUT = re.compile(r"^VOUT(\d+)$", re.IGNORECASE)
_IOUT = re.compile(r"^IOUT(\d+)$", re.IGNORECASE)
_SAFE = re.compile(r"[^a-z0-9_]")


@dataclass(frozen=True)
class ExportedOpAmp:
    """A sizable op-amp: the netlist, the testbench port roles and the design space.

    Attributes:
        name: the DUT subcircuit's name.
        netlist: global ``.param`` defaults plus the DUT ``.subckt``, MOSFETs bound to ``pdk``
            (its model files included by absolute path).
        pdk: the PDK's registry name.
        vdd: the supply (the PDK's nominal).
        ports: ``(role, DUT port)`` pairs for ``OpAmpTestbench(ports=...)``.
        variables: the design space, one per tied group and bias port.
        defaults: ``(variable, value)`` at mid-range, the values the netlist's ``.param``s hold.
        groups: ``(variable, device names)``: which devices each size variable sets.
        polarity: how ``inp`` was chosen: ``rule`` (the sign rule), ``assumed`` (undecided: VIN1),
            ``single`` (one input), ``swapped`` (``swapped()``), ``simulated`` (``orient`` swapped it).
        internal: ports of the source kept as internal nets (extra outputs).
    """

    name: str
    netlist: Netlist
    pdk: str
    vdd: float
    ports: tuple[tuple[str, str], ...]
    variables: tuple[Variable, ...]
    defaults: tuple[tuple[str, float], ...]
    groups: tuple[tuple[str, tuple[str, ...]], ...]
    polarity: str
    internal: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The netlist as SPICE text."""
        return write_spice(self.netlist)

    @property
    def n_device_params(self) -> int:
        """Size variables before tying: two per MOSFET, one per other device."""
        return sum(len(devs) * (2 if v.startswith("w_") else 1)
                   for v, devs in self.groups if not v.startswith("l_"))

    @property
    def n_tied_params(self) -> int:
        """Size variables after tying (bias variables not counted)."""
        return len(self.groups)

    def swapped(self) -> ExportedOpAmp:
        """The same export with ``inp`` and ``inn`` exchanged (for a single input: an error)."""
        roles = dict(self.ports)
        if roles["inn"] == NC_PORT:
            raise ExportError(f"{self.name}: a single-input circuit has no input to swap")
        roles["inp"], roles["inn"] = roles["inn"], roles["inp"]
        return replace(self, ports=tuple(roles.items()), polarity="swapped")

    def testbench_spec(self, **options: object) -> TestbenchSpec:
        """The spec's ``testbench:`` block (``vdd`` set; ``options`` are further testbench options)."""
        opts = {"vdd": self.vdd, **options}
        return TestbenchSpec("opamp", self.name, self.ports, tuple(opts.items()))

    def spec(self, targets: Sequence[Target] = DEFAULT_TARGETS, objective: Objective | None = None,
             **options: object) -> Spec:
        """A sizing ``Spec`` over this design space (default: the functional-yield targets)."""
        return Spec(self.variables, tuple(targets), objective, pdk=self.pdk,
                    testbench=self.testbench_spec(**options))

    def spec_yaml(self, targets: Sequence[Target] = DEFAULT_TARGETS, objective: Objective | None = None) -> str:
        """``spec(...)`` as the YAML ``ckt size --spec`` reads."""
        doc: dict = {
            "pdk": self.pdk,
            "testbench": {"kind": "opamp", "dut": self.name, "vdd": self.vdd,
                          "ports": {role: port for role, port in self.ports}},
            "variables": {v.name: {"min": v.lo, "max": v.hi, "scale": "log" if v.log else "linear"}
                          for v in self.variables},
            "targets": {t.name: {k: b for k, b in (("min", t.lo), ("max", t.hi)) if b is not None}
                        for t in targets},
        }
        if objective is not None:
            doc["objective"] = {"minimize" if objective.minimize else "maximize": objective.name}
        return yaml.safe_dump(doc, sort_keys=False)


def write_export(exported: ExportedOpAmp, folder: str | Path, targets: Sequence[Target] = DEFAULT_TARGETS,
                 objective: Objective | None = None) -> tuple[Path, Path]:
    """Write ``NAME.cir`` and ``NAME.yaml`` (``ckt size NAME.cir --spec NAME.yaml``) into ``folder``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    cir, spec = out / f"{exported.name}.cir", out / f"{exported.name}.yaml"
    cir.write_text(exported.text)
    spec.write_text(exported.spec_yaml(targets, objective))
    return cir, spec


def size_limits(pdk: Pdk) -> tuple[float, float]:
    """``(minimum L, minimum W)`` in metres for ``pdk``."""
    if pdk.name in MIN_SIZES:
        return MIN_SIZES[pdk.name]
    lmin = pdk.node_nm * 1e-9
    return lmin, 2 * lmin


def export_opamp(netlist: Netlist, ports: Iterable[str], *, pdk: str | Pdk = DEFAULT_PDK, name: str = "opamp",
                 ckt_type: str = "Opamp", match_inputs: bool = True) -> ExportedOpAmp:
    """A generated (or dataset) op-amp as a sizable DUT for the op-amp testbench (see the module docstring).

    Args:
        netlist: flat, unsized device-level circuit (top-level devices only).
        ports: its external nets (``VDD``, ``VSS``, ``VIN1``, ``VOUT1``, ``VB1``, ``IB1``...).
        pdk: a PDK name or ``Pdk``: what the MOSFETs are bound to and where the size ranges come from.
        name: the DUT subcircuit's name.
        ckt_type: the circuit's type; only ``Opamp`` is exported.
        match_inputs: tie the input pair even where no automorphism maps its halves onto each other.

    Raises:
        ExportError: not an op-amp, a device kind the export cannot size (a subcircuit instance, a
            source...), or a missing supply, input or output.
    """
    if ckt_type != "Opamp":
        raise ExportError(f"{name}: only op-amps are exported to the op-amp testbench, not {ckt_type}")
    pdk = get_pdk(pdk) if isinstance(pdk, str) else pdk
    if not netlist.devices:
        raise ExportError(f"{name}: the circuit has no devices")
    if netlist.subckts:
        raise ExportError(f"{name}: the circuit defines subcircuits; export needs a flat device-level circuit")
    for d in netlist.devices:
        if d.kind not in _SIZERS:
            what = f"an instance of {d.model}" if d.kind is DeviceKind.SUBCKT else f"a {d.kind.name.lower()}"
            raise ExportError(f"{name}: device {d.name} is {what}; export sizes MOSFETs, R, C, L, BJTs and diodes")
        if d.kind is DeviceKind.MOSFET and (d.model or "").lower() not in ("nmos4", "pmos4"):
            raise ExportError(f"{name}: MOSFET {d.name} has model {d.model!r}; expected nmos4 or pmos4")
        if d.kind in (DeviceKind.BJT, DeviceKind.DIODE) and (d.model or "").lower() not in MODELS:
            raise ExportError(f"{name}: {d.name} has model {d.model!r}; expected npn, pnp or diode")
    nets = set(netlist.nets)
    listed = {p.upper() for p in ports}
    by_upper = {n.upper(): n for n in nets}
    port_nets = {by_upper[p] for p in listed | {"VDD", "VSS"} if p in by_upper and p not in ("GND", "0")}
    for supply in ("VDD", "VSS"):
        if supply not in by_upper:
            raise ExportError(f"{name}: no {supply} net; the testbench needs both supplies")
    roles: dict[str, str] = {"vss": by_upper["VSS"], "vdd": by_upper["VDD"]}
    vins = sorted((p for p in port_nets if _VIN.match(p)), key=lambda p: int(_VIN.match(p).group(1)))  # type: ignore[union-attr]
    outs = sorted((p for p in port_nets if _VOUT.match(p)), key=lambda p: int(_VOUT.match(p).group(1)))  # type: ignore[union-attr]
    if not outs:
        outs = sorted((p for p in port_nets if _IOUT.match(p)), key=lambda p: int(_IOUT.match(p).group(1)))  # type: ignore[union-attr]
    if not vins:
        raise ExportError(f"{name}: no voltage input (VIN1...) among the ports {' '.join(sorted(port_nets))}")
    if not outs:
        raise ExportError(f"{name}: no output (VOUT1, or IOUT1) among the ports {' '.join(sorted(port_nets))}")
    roles["out"] = outs[0]
    internal = tuple(sorted(p for p in port_nets if (_VOUT.match(p) or _IOUT.match(p)) and p != outs[0]))
    if len(vins) == 1:
        roles["inp"], roles["inn"] = vins[0], NC_PORT
        polarity = "single"
    else:
        s1, s2 = input_signs(netlist, vins[0], vins[1], outs[0], port_nets)
        if (s1 == -1 or s2 == 1) and not (s1 == 1 or s2 == -1):
            roles["inp"], roles["inn"] = vins[1], vins[0]
            polarity = "rule"
        else:
            roles["inp"], roles["inn"] = vins[0], vins[1]
            polarity = "rule" if (s1 == 1 or s2 == -1) else "assumed"
    taken = set(roles.values()) | set(internal)
    vdd = pdk.vdd
    variables: list[Variable] = []
    defaults: dict[str, float] = {}
    sink: dict[str, str] = {}
    for p in sorted(port_nets - taken):
        role = _SAFE.sub("_", p.lower())
        if role[:1] not in ("i", "v") or role in roles:
            raise ExportError(f"{name}: port {p} is neither a supply, an input, an output nor a V*/I* bias")
        roles[role] = p
        if role.startswith("v"):
            variables.append(Variable(role, 0.0, vdd))
            defaults[role] = vdd / 2
        elif _feeds_from_vdd(netlist, p):
            variables.append(Variable(role, *I_RANGE, log=True))
            defaults[role] = _mid(*I_RANGE, True)
        else:  # the port drains current into vss: the role's value is negative
            mag = f"isink_{role}"
            variables.append(Variable(mag, *I_RANGE, log=True))
            defaults[mag] = _mid(*I_RANGE, True)
            sink[role] = mag
    lmin, wmin = size_limits(pdk)
    orbits = device_orbits(netlist, port_nets)
    if match_inputs and len(vins) > 1:
        orbits = _merge_input_pair(netlist, orbits, roles["inp"], roles["inn"])
    devices, groups = _sized_devices(netlist, orbits, lmin, wmin, variables, defaults)
    params = [Param(k, v) for k, v in defaults.items()] + [Param(r, Expr(f"-{m}")) for r, m in sink.items()]
    used = {d.model for d in devices if d.kind in (DeviceKind.BJT, DeviceKind.DIODE)}
    models = tuple(Model(m, "d" if m == "ckt_diode" else m[4:], DIODE_CARD if m == "ckt_diode" else BJT_CARD)
                   for m in MODELS.values() if m in used)
    dut_ports = tuple(dict.fromkeys([*(roles[r] for r in ("vss", "vdd", "inp", "inn", "out")),
                                     *(p for r, p in roles.items() if r not in ("vss", "vdd", "inp", "inn", "out"))]))
    sub = Subckt(name, dut_ports, devices=devices, models=models)
    net = Netlist(title=f"{name}: exported op-amp, {pdk.name}, {len(variables)} sizing variables",
                  subckts=(sub,), params=tuple(params))
    return ExportedOpAmp(
        name=name, netlist=bind(net, pdk), pdk=pdk.name, vdd=vdd,
        ports=tuple((r, roles[r]) for r in ("vss", "vdd", "inp", "inn", "out")) +
        tuple((r, p) for r, p in roles.items() if r not in ("vss", "vdd", "inp", "inn", "out")),
        variables=tuple(variables), defaults=tuple(defaults.items()), groups=groups, polarity=polarity,
        internal=internal,
    )


_SIZERS = {DeviceKind.MOSFET: "w", DeviceKind.RESISTOR: "r", DeviceKind.CAPACITOR: "c", DeviceKind.INDUCTOR: "ind",
           DeviceKind.BJT: "area", DeviceKind.DIODE: "area"}


def _round(x: float) -> float:
    """Six significant digits: bounds and defaults that read cleanly in a spec file."""
    return float(f"{x:.6g}")


def _mid(lo: float, hi: float, log: bool) -> float:
    v = math.sqrt(lo * hi) if log else (lo + hi) / 2
    return float(f"{v:.4g}")


def _merge_input_pair(netlist: Netlist, orbits: tuple[tuple[str, ...], ...], a: str,
                      b: str) -> tuple[tuple[str, ...], ...]:
    """``orbits`` with the orbits of each matched input pair joined (see the module docstring)."""
    control = {DeviceKind.MOSFET: ("g", "s", "b"), DeviceKind.BJT: ("b", "e", "sub")}
    on: dict[str, list[Device]] = {a: [], b: []}
    for d in netlist.devices:
        pins = control.get(d.kind)
        if pins is not None and dict(d.terminals).get(pins[0]) in on:
            on[dict(d.terminals)[pins[0]]].append(d)
    of = {n: i for i, orbit in enumerate(orbits) for n in orbit}
    parent = list(range(len(orbits)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for x in on[a]:
        for y in on[b]:
            pins = control[x.kind]
            tx, ty = dict(x.terminals), dict(y.terminals)
            if x.kind is y.kind and x.model == y.model and all(tx.get(p) == ty.get(p) for p in pins[1:]):
                parent[root(of[y.name])] = root(of[x.name])
    merged: dict[int, list[str]] = {}
    for i, orbit in enumerate(orbits):
        merged.setdefault(root(i), []).extend(orbit)
    order = {d.name: i for i, d in enumerate(netlist.devices)}
    return tuple(sorted((tuple(sorted(o, key=order.__getitem__)) for o in merged.values()),
                        key=lambda o: order[o[0]]))


def _sized_devices(netlist: Netlist, orbits: tuple[tuple[str, ...], ...], lmin: float, wmin: float,
                   variables: list[Variable], defaults: dict[str, float]
                   ) -> tuple[tuple[Device, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """The devices reading their orbit's parameters, and ``(variable, devices)`` per size variable."""
    by_name = {d.name: d for d in netlist.devices}
    assigned: dict[str, Device] = {}
    groups: list[tuple[str, tuple[str, ...]]] = []
    names: set[str] = {v.name for v in variables}
    for orbit in orbits:
        first = by_name[orbit[0]]
        tag = _SAFE.sub("_", first.name.lower())
        prefix = _SIZERS[first.kind]
        key = f"{prefix}_{tag}"
        while key in names:
            key += "_"
        names.add(key)
        if first.kind is DeviceKind.MOSFET:
            lkey = "l" + key[1:]
            names.add(lkey)
            space = [Variable(key, _round(wmin), _round(W_SPAN * wmin), log=True),
                     Variable(lkey, _round(lmin), _round(L_SPAN * lmin), log=True)]
            groups += [(key, orbit), (lkey, orbit)]
        else:
            lo, hi = {"r": R_RANGE, "c": C_RANGE, "ind": IND_RANGE, "area": AREA_RANGE}[prefix]
            space = [Variable(key, lo, hi, log=True)]
            groups.append((key, orbit))
        for v in space:
            variables.append(v)
            defaults[v.name] = _mid(v.lo, v.hi, v.log)
        for dev_name in orbit:
            d = by_name[dev_name]
            if d.kind is DeviceKind.MOSFET:
                assigned[dev_name] = replace(d, value=None, params=(("w", Expr(key)), ("l", Expr(lkey))))
            elif d.kind in (DeviceKind.BJT, DeviceKind.DIODE):
                assigned[dev_name] = replace(d, value=None, model=MODELS[(d.model or "").lower()],
                                             params=(("area", Expr(key)),))
            else:
                assigned[dev_name] = replace(d, value=Expr(key), params=())
    return tuple(assigned[d.name] for d in netlist.devices), tuple(groups)


def _feeds_from_vdd(netlist: Netlist, port: str) -> bool:
    """Whether a bias-current port feeds an NMOS drain or NPN collector (the current flows in from
    ``vdd``) rather than a PMOS drain or PNP collector (it flows out to ``vss``)."""
    for d in netlist.devices:
        if d.kind is DeviceKind.MOSFET and d.net("d") == port:
            return (d.model or "").lower() == "nmos4"
        if d.kind is DeviceKind.BJT and d.net("c") == port:
            return (d.model or "").lower() == "npn"
    return True


_PASSIVE = 2
"""Path weight of a resistor, inductor or diode step: a device stage (weight 1) is the likelier signal path."""


def _signal_edges(netlist: Netlist) -> dict[str, list[tuple[str, int, int]]]:
    """Net -> ``(net, weight, sign)`` low-frequency signal steps (capacitors are open at DC)."""
    edges: dict[str, list[tuple[str, int, int]]] = {}

    def add(a: str, b: str, w: int, s: int) -> None:
        if a != b:
            edges.setdefault(a, []).append((b, w, s))

    for d in netlist.devices:
        t = dict(d.terminals)
        if d.kind is DeviceKind.MOSFET:
            add(t["g"], t["d"], 1, -1)
            add(t["g"], t["s"], 1, 1)
            add(t["s"], t["d"], 1, 1)
        elif d.kind is DeviceKind.BJT:
            add(t["b"], t["c"], 1, -1)
            add(t["b"], t["e"], 1, 1)
            add(t["e"], t["c"], 1, 1)
        elif d.kind in (DeviceKind.RESISTOR, DeviceKind.INDUCTOR, DeviceKind.DIODE):
            add(t["p"], t["n"], _PASSIVE, 1)
            add(t["n"], t["p"], _PASSIVE, 1)
    return edges


def _path_sign(edges: dict[str, list[tuple[str, int, int]]], src: str, dst: str, blocked: set[str]) -> int:
    """The sign (+1, -1) shared by every shortest signal path ``src`` -> ``dst``; 0 when they
    disagree or there is none. Paths do not pass through ``blocked`` nets (supplies, other ports)."""
    dist: dict[str, int] = {src: 0}
    signs: dict[str, set[int]] = {src: {1}}
    heap = [(0, src)]
    done: set[str] = set()
    while heap:
        d, net = heapq.heappop(heap)
        if net in done:
            continue
        done.add(net)
        if net == dst or (net in blocked and net != src):
            continue
        for nxt, w, s in edges.get(net, ()):
            nd = d + w
            if nd < dist.get(nxt, math.inf):
                dist[nxt], signs[nxt] = nd, {s * x for x in signs[net]}
                heapq.heappush(heap, (nd, nxt))
            elif nd == dist[nxt] and nxt not in done:
                signs[nxt] |= {s * x for x in signs[net]}
    found = signs.get(dst, set())
    return next(iter(found)) if len(found) == 1 else 0


def input_signs(netlist: Netlist, vin1: str, vin2: str, out: str, ports: set[str]) -> tuple[int, int]:
    """The low-frequency sign of the gain from each input to ``out`` by the path rule (0: undecided).

    The rule: gate/base to drain/collector inverts, gate/base to source/emitter and source/emitter to
    drain/collector do not, resistors, inductors and diodes pass (a longer step), capacitors are
    open; along the shortest path through internal nets (supplies and other ports block).
    """
    edges = _signal_edges(netlist)
    blocked = (set(ports) | _SUPPLIES) - {out}
    return _path_sign(edges, vin1, out, blocked), _path_sign(edges, vin2, out, blocked)


ORIENT_MIN_GAIN = 1.0
"""Low-frequency open-loop gain (V/V) a mapping must reach, non-inverting, for ``orient`` to call it
right: a wrong mapping turns the testbench's DC servo into positive feedback, the output latches
at a rail and the little gain left has either sign."""


def orient(exported: ExportedOpAmp, executor: Executor | None = None, *, timeout_s: float = 20.0) -> ExportedOpAmp:
    """``exported`` with ``inp``/``inn`` as the testbench finds them at the default sizes.

    The open-loop AC deck is simulated with the export's mapping and, unless it amplifies without
    inverting (gain at the sweep's first point at least ``ORIENT_MIN_GAIN``, in phase), with the
    inputs swapped; the swapped export (``polarity`` ``simulated``) is returned when it does. In
    every other case (neither amplifies, a simulation fails, a single input) ``exported`` is
    returned unchanged.
    """
    if dict(exported.ports)["inn"] == NC_PORT:
        return exported
    return orient_checked(exported, executor, timeout_s=timeout_s)[0]


def orient_checked(exported: ExportedOpAmp, executor: Executor | None = None, *,
                   timeout_s: float = 20.0) -> tuple[ExportedOpAmp, bool]:
    """``orient``, and whether the export it returns amplifies at its default sizes, from the same
    simulations (a single-input export is simulated once, unswapped)."""
    if amplifies(exported, executor, timeout_s):
        return exported, True
    if dict(exported.ports)["inn"] == NC_PORT:
        return exported, False
    other = exported.swapped()
    if amplifies(other, executor, timeout_s):
        return replace(other, polarity="simulated"), True
    return exported, False


def amplifies(exported: ExportedOpAmp, executor: Executor | None, timeout_s: float = 20.0) -> bool:
    """Whether the export amplifies without inverting at its default sizes: open-loop gain at the
    sweep's first point at least ``ORIENT_MIN_GAIN``, in phase (one simulation)."""
    from ckt.sim.testbench.opamp import OpAmpTestbench, measure

    tb = OpAmpTestbench(exported.netlist, exported.name, ports=dict(exported.ports), pdk=exported.pdk,
                        vdd=exported.vdd, metric_names=("gain_db",), timeout_s=timeout_s)
    m = measure(tb, {}, executor)
    if m.bode is None:
        return False
    h0 = complex(m.bode[1][0])
    return h0.real > 0 and abs(h0) >= ORIENT_MIN_GAIN
