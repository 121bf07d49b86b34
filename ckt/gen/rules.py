"""Validity rules for a generated (or any flat) circuit, checked independently of how it was made.

The generator's grammar must only ever finish sequences that pass these rules, and the evaluation
counts validity with them, so they are written here from the circuit alone (netlist, type, ports),
knowing nothing of tokens or grammar. ``check_circuit`` returns every ``Violation`` found (empty:
valid). The rules, in ``RULES`` order, and why each one exists:

* ``pins`` — every device has each of its kind's terminals exactly once, each on one named net
  (MOSFET ``d g s b``; BJT ``c b e`` with an optional ``sub``; R, C, L, diode ``p n``; a subcircuit
  instance's pins are its own). A terminal on no net or on two nets is not a circuit.
* ``one-net`` — no device has all its terminals on one net (a BJT's ``sub`` is left out: it sits
  on ground in the data). Such a device is shorted out and does nothing.
* ``ds-short`` — no MOSFET with drain, source *and* gate on one net (bulk elsewhere): shorted and
  inert. A drain–source tie with the gate on another net is a MOS capacitor or varactor and is
  allowed (80 real AnalogGenie devices are wired so).
* ``dangling`` — every internal net (not a port, not ground) touches at least two devices. A net
  on one terminal, or on several pins of one device only, carries no signal anywhere: it floats.
* ``gate-only`` — no internal net touched only by control terminals (MOSFET gates, BJT bases):
  nothing sets its voltage or feeds the base current, so it floats (in the data these are mostly
  bias lines whose port was lost when an op-amp was cut out of, or pasted into, a larger circuit).
* ``connected`` — the device–net graph is one piece (and not empty); a part connected to nothing
  is not part of the circuit.
* ``supply`` — every piece of the graph reaches a supply net (``VDD``, ``VSS``, ground), so every
  device can be biased; with ``connected`` this is one check of the whole circuit.
* ``ports`` — the ports its type needs (``REQUIREMENTS``; types not listed use ``DEFAULT``): an
  op-amp a ``VDD``, a low rail, an input and an output (current inputs ``IIN*`` and outputs
  ``IOUT*`` count: 37 and 29 real op-amps, current-mode and OTA stages, have them); an LDO a low
  rail, an output and a supply it draws from (``VDD`` or a ``VIN*`` on a conducting terminal: 90
  real LDOs have no ``VDD`` and take their supply from ``VIN1``); a current mirror only a low rail
  (17 real mirrors have no ``VDD``); every other type a low rail and one more port. ``VSS`` or
  ground is the low rail everywhere: the data's ``VSS`` sometimes touches only bulks (its circuits
  return current through ground), so no need asks a rail to conduct except the LDO's supply.

Which nets are ports (``port_nets``): those listed that some device touches (a listed port on no
net is ignored: it is not part of the netlist), ground, and every net named the way the data names
ports — upper-case letters then digits (``VIN1``, ``VB2``, ``LOGICA1``) or a rail (``VDD``,
``VSS``) — even when the port list forgot it: internal nets are lower-case (the data's ``netNN``,
a decoded ``nN``), and 34 AnalogGenie circuits use a port name (4 of them ``VDD``) for a net their
port file omits, which would otherwise read as a floating bias line or a missing supply. Net
``"0"`` is ground (the BJT substrate net of the data), with the port name ``GND``; a net named
``GND`` is the same ground.

Over the 3,350 AnalogGenie circuits 2,928 pass (``tests/gen/test_rules.py`` holds the count per
type). The 422 others are broken as netlists: 356 have a gate-only net (243 switched-capacitor
circuits, 241 of them from ID 2631 on, and 103 op-amps, 92 from ID 1781 on: mostly an op-amp cut out
or pasted in that lost its cascode or CMFB bias line), 59 lack a port their type needs (op-amp
fragments with no input, output or ``VDD``), 5 short a device and 5 have a dangling net.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from ckt.netlist.ir import TERMINALS, Device, DeviceKind, Netlist

RULES = ("pins", "one-net", "ds-short", "dangling", "gate-only", "connected", "supply", "ports")
"""Rule names, in the order ``check_circuit`` reports them."""

GROUND = "GND"
"""The port name of ground; net ``"0"`` is read as this port."""

GROUND_NETS = frozenset({"0", GROUND})
SUPPLIES = frozenset({"VDD", "VSS", GROUND})
"""Port names that are supply rails (``supply`` rule)."""

PORT_STYLE = re.compile(r"[A-Z]+[0-9]+|VDD|VSS")
"""A net named so is a port even when the port list omits it (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: which rule, the devices and nets involved, and a sentence saying why."""

    rule: str
    devices: tuple[str, ...]
    nets: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class PortNeed:
    """At least ``minimum`` distinct ports, each one of ``names`` or a ``prefix`` followed by digits.

    ``PortNeed(names=("VSS", "GND"))`` is "VSS or GND"; ``PortNeed(prefixes=("VIN",))`` is "at
    least one of VIN1, VIN2, ..."; a need may mix both (``names=("VDD",), prefixes=("VIN",)``).
    With ``conducting`` a port counts only when it touches a conducting terminal (``CONDUCTING``):
    a supply must feed current into the circuit, not only bias a gate.
    """

    names: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    minimum: int = 1
    conducting: bool = False

    def matches(self, port: str) -> bool:
        return port in self.names or any(
            port.startswith(p) and port[len(p):].isdigit() for p in self.prefixes)

    def describe(self) -> str:
        options = [*self.names, *(f"{p}*" for p in self.prefixes)]
        head = " or ".join(options)
        head = head if self.minimum == 1 else f"{self.minimum} of {head}"
        return f"{head} (on a conducting terminal)" if self.conducting else head


@dataclass(frozen=True, slots=True)
class Requirement:
    """The ports a circuit type needs: every ``need`` met (each checked on its own, so one port
    may serve two needs), and at least ``min_ports`` distinct ports in all (ground included)."""

    needs: tuple[PortNeed, ...]
    min_ports: int = 2

    def missing(self, ports: Iterable[str], conducting: Iterable[str] = ()) -> tuple[str, ...]:
        """Descriptions of what ``ports`` lack; empty: all met.

        Args:
            ports: the circuit's port names (ground as ``GND``).
            conducting: those of them that touch a conducting terminal.
        """
        have, conducts = set(ports), set(conducting)
        out = [n.describe() for n in self.needs
               if sum(map(n.matches, conducts if n.conducting else have)) < n.minimum]
        if len(have) < self.min_ports:
            out.append(f"{self.min_ports} ports in all (has {len(have)})")
        return tuple(out)


_SUPPLY_LOW = PortNeed(names=("VSS", GROUND))

DEFAULT = Requirement(needs=(_SUPPLY_LOW,), min_ports=2)
"""Any type not in ``REQUIREMENTS``: a low rail and at least one other port."""

REQUIREMENTS: dict[str, Requirement] = {
    "Opamp": Requirement(needs=(
        PortNeed(names=("VDD",)), _SUPPLY_LOW,
        PortNeed(prefixes=("VIN", "IIN")), PortNeed(prefixes=("VOUT", "IOUT")),
    )),
    "LDO": Requirement(needs=(
        _SUPPLY_LOW, PortNeed(names=("VDD",), prefixes=("VIN",), conducting=True), PortNeed(prefixes=("VOUT",)),
    )),
    "Mirror": Requirement(needs=(_SUPPLY_LOW,), min_ports=2),
}
"""Per-type port needs (AnalogGenie type names, ``ckt.data.analoggenie.CLASSES``)."""


def requirement(ckt_type: str) -> Requirement:
    """The port requirement of ``ckt_type`` (``DEFAULT`` for a type without its own)."""
    return REQUIREMENTS.get(ckt_type, DEFAULT)


CONTROL: frozenset[tuple[DeviceKind, str]] = frozenset({
    (DeviceKind.MOSFET, "g"), (DeviceKind.MOSFET, "b"), (DeviceKind.BJT, "b"), (DeviceKind.BJT, "sub"),
    (DeviceKind.CAPACITOR, "p"), (DeviceKind.CAPACITOR, "n"),
})
"""Terminals that carry no supply current: gates, bulks, bases, substrates, capacitor plates.
Every other terminal (drain, source, collector, emitter, R, L, diode, subcircuit pins) conducts."""

GATES: frozenset[tuple[DeviceKind, str]] = frozenset({(DeviceKind.MOSFET, "g"), (DeviceKind.BJT, "b")})
"""Control terminals that cannot set a net's voltage (``gate-only`` rule)."""


def port_nets(netlist: Netlist, ports: Iterable[str]) -> frozenset[str]:
    """The nets of ``netlist`` that are ports: listed in ``ports``, ground, or named as ports are.

    The one definition of "port" for rules and tokens alike, so a circuit the rules pass encodes
    with the same nets as ports.
    """
    listed = set(ports)
    return frozenset(n for n in netlist.nets if n in listed or n in GROUND_NETS or PORT_STYLE.fullmatch(n))


def port_name(net: str) -> str:
    """The port name of a port net: ground nets read as ``GND``, others as they are."""
    return GROUND if net in GROUND_NETS else net


def _pins_ok(d: Device) -> str | None:
    """Why ``d``'s terminals are malformed, or None."""
    pins = d.pins
    if len(set(pins)) != len(pins):
        return f"repeats a pin ({', '.join(pins)})"
    if any(not net for net in d.nets):
        return "has a terminal on no net"
    expected = TERMINALS.get(d.kind)
    if d.kind is DeviceKind.BJT and expected is not None:
        if pins not in (expected, expected[:3]):
            return f"has pins {' '.join(pins)}, not c b e [sub]"
    elif expected is not None and d.kind is not DeviceKind.SUBCKT and pins != expected:
        return f"has pins {' '.join(pins)}, not {' '.join(expected)}"
    if not pins:
        return "has no terminals"
    return None


def _active_nets(d: Device) -> set[str]:
    """The nets of ``d``'s terminals that do its work (a BJT's substrate left out)."""
    return {net for pin, net in d.terminals if not (d.kind is DeviceKind.BJT and pin == "sub")}


def check_circuit(netlist: Netlist, ckt_type: str, ports: Sequence[str]) -> tuple[Violation, ...]:
    """Every rule ``netlist`` breaks as a circuit of type ``ckt_type`` with external ``ports``.

    Only top-level devices count (a generated circuit is flat). Violations come in ``RULES``
    order, devices and nets in netlist order.
    """
    devices = netlist.devices
    nets = netlist.nets
    external = port_nets(netlist, ports)
    out: list[Violation] = []

    for d in devices:
        why = _pins_ok(d)
        if why:
            out.append(Violation("pins", (d.name,), (), f"{d.name} {why}"))
    for d in devices:
        active = _active_nets(d)
        if len(active) == 1 and len(d.terminals) > 1:
            net = next(iter(active))
            out.append(Violation("one-net", (d.name,), (net,), f"{d.name} has every terminal on {net}: shorted"))
    for d in devices:
        if d.kind is DeviceKind.MOSFET and len(_active_nets(d)) > 1:
            t = dict(d.terminals)
            if t.get("d") is not None and t.get("d") == t.get("s") == t.get("g"):
                out.append(Violation("ds-short", (d.name,), (t["d"],),
                                     f"{d.name} has drain, source and gate on {t['d']}: shorted"))

    touching: dict[str, list[tuple[Device, str]]] = {n: [] for n in nets}
    for d in devices:
        for pin, net in d.terminals:
            touching[net].append((d, pin))
    for net in nets:
        if net in external:
            continue
        names = tuple(dict.fromkeys(d.name for d, _ in touching[net]))
        if len(names) < 2:
            out.append(Violation("dangling", names, (net,),
                                 f"internal net {net} touches only {', '.join(names)}: it floats"))
    for net in nets:
        if net in external:
            continue
        if all((d.kind, pin) in GATES for d, pin in touching[net]):
            names = tuple(dict.fromkeys(d.name for d, _ in touching[net]))
            out.append(Violation("gate-only", names, (net,),
                                 f"internal net {net} touches only gates and bases ({', '.join(names)}): it floats"))

    g = nx.Graph()
    g.add_nodes_from(("d", d.name) for d in devices)
    g.add_edges_from((("d", d.name), ("n", net)) for d in devices for net in d.nets)
    parts = sorted(nx.connected_components(g), key=lambda c: -len(c))
    if not devices:
        out.append(Violation("connected", (), (), "the circuit has no devices"))
    def members(part: set) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (tuple(d.name for d in devices if ("d", d.name) in part),
                tuple(n for n in nets if ("n", n) in part))
    for part in parts[1:]:
        ds, ns = members(part)
        out.append(Violation("connected", ds, ns, f"{', '.join(ds)} not connected to the rest of the circuit"))
    for part in parts:
        ds, ns = members(part)
        if not any(n in external and port_name(n) in SUPPLIES for n in ns):
            out.append(Violation("supply", ds, ns, f"{', '.join(ds)} reach no supply (VDD, VSS, ground)"))

    conducting = (port_name(n) for n in external if any((d.kind, pin) not in CONTROL for d, pin in touching[n]))
    missing = requirement(ckt_type).missing((port_name(n) for n in external), conducting)
    if missing:
        out.append(Violation("ports", (), tuple(n for n in nets if n in external),
                             f"a {ckt_type or 'circuit'} needs {'; '.join(missing)}"))
    return tuple(out)


def is_valid(netlist: Netlist, ckt_type: str, ports: Sequence[str]) -> bool:
    """Whether ``netlist`` breaks no rule (``check_circuit`` is empty)."""
    return not check_circuit(netlist, ckt_type, ports)

