"""Completing a netlist: find the pins that look dangling or misconnected and rank, for each, every
net of its circuit by how likely a link predictor thinks the pin belongs there.

A pin is suspect when it is

* ``unconnected``: on a net named the way schematic tools name a pin left open — KiCad's
  ``unconnected-(R2-Pad2)``, LTspice's ``NC_01``, a bare ``NC``;
* ``floating``: the only terminal on its net, unless the net is exempt: ground, a supply, a
  ``.global``, a port (a definition's port, or at the top level a net named like one — ``vin``,
  ``out_p``, ``vbias``, ``clk``..., the roles of ``ckt.graph.features.NET_ROLES``, a KiCad sheet path
  ``/in`` read without its ``/``), a net a B source reads with ``v(net)``, or a net whose one terminal
  sets its voltage (a V, E, H or B source's output, as ``ckt check`` exempts it: a probe or a spare);
* ``shorted``: on a device whose terminals all sit on one net: two-terminal devices, and transistors
  whose drain, gate and source (collector, base, emitter) are one net — a bulk or substrate pin does
  not count, and a MOSFET tying only drain and source (a MOS varactor) is fine. A transistor all on
  ground or a supply is a layout dummy and is not flagged.

The netlist is flattened first (as ``ckt graph --flatten`` does), so a port left open inside a
subcircuit but driven from outside is fine and names are hierarchical (``X1.M3``). A file holding only
definitions (a cell netlist) has each definition checked on its own, with its ports exempt.

Candidates for a pin are every net of its circuit except the ones that say nothing: a net only this
pin touched (it exists only because the pin dangles) and open-pin placeholder nets.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from torch_geometric.data import Data

from ckt.errors import CktError
from ckt.graph.features import NET_ROLES, is_ground_name, is_supply_name
from ckt.graph.to_pyg import to_pins_pyg
from ckt.linkpred.samples import remove_pin_edge
from ckt.netlist.check import GROUND_RAIL, SUPPLY_RAIL, VOLTAGE_SETTING
from ckt.netlist.flatten import GROUND, flatten
from ckt.netlist.ir import Device, DeviceKind, Netlist, SourceLoc

UNCONNECTED = re.compile(r"^(unconnected-.*|nc_\d+|nc)$", re.IGNORECASE)
"""Net names schematic tools give a pin left open: KiCad ``unconnected-(U1-Pad3)``, LTspice ``NC_01``."""

REASONS: tuple[str, ...] = ("unconnected", "floating", "shorted")
"""Why a pin is suspect, in the order a pin is classified (the first that applies)."""

_TRANSISTOR_PINS: dict[DeviceKind, tuple[str, ...]] = {
    DeviceKind.MOSFET: ("d", "g", "s"),
    DeviceKind.BJT: ("c", "b", "e"),
    DeviceKind.JFET: ("d", "g", "s"),
    DeviceKind.MESFET: ("d", "g", "s"),
}
"""The pins whose joining shorts a transistor (bulk and substrate left out)."""

_V_REF = re.compile(r"\bv\s*\(\s*([^,()\s]+)\s*(?:,\s*([^,()\s]+)\s*)?\)", re.IGNORECASE)
"""A ``v(a)`` or ``v(a, b)`` reference in a B source's expression."""


class Scorer(Protocol):
    """Anything that scores candidate nets for a pin (``ckt.linkpred.predictor.LinkPredictor``)."""

    def score(self, graph: Data, pin: int, nets: Sequence[int]) -> list[float]:
        """One probability per net of ``nets`` that pin node ``pin`` belongs on it.

        ``graph`` is a ``to_pins_pyg`` graph from which the pin's pin–net edges (both directions)
        are already removed; ``pin`` and ``nets`` are node indices in it.
        """
        ...


@dataclass(frozen=True, slots=True)
class Suspect:
    """One pin that looks dangling or misconnected.

    Attributes:
        device: the device's (flat, hierarchical) name.
        pin: its pin name (``d``, ``p``...; a subcircuit's port name).
        net: the net it is on now.
        reason: one of ``REASONS``.
        message: the reason as a sentence.
        subckt: the definition checked on its own that holds it (None at the top level).
        loc: where the device was read.
    """

    device: str
    pin: str
    net: str
    reason: str
    message: str
    subckt: str | None = None
    loc: SourceLoc | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A net a suspect pin may belong on, with the scorer's probability."""

    net: str
    score: float


@dataclass(frozen=True, slots=True)
class Completion:
    """A suspect pin and its candidate nets, best first."""

    suspect: Suspect
    candidates: tuple[Candidate, ...]

    def to_json(self) -> dict:
        """The ``ckt complete --json`` record: device, pin, net, reason, subckt, candidates."""
        s = self.suspect
        return {
            "device": s.device, "pin": s.pin, "net": s.net, "reason": s.reason, "subckt": s.subckt,
            "candidates": [{"net": c.net, "score": c.score} for c in self.candidates],
        }


@dataclass(frozen=True, slots=True)
class _Circuit:
    """One flat circuit to check: the top level, or a definition on its own."""

    netlist: Netlist
    subckt: str | None
    ports: frozenset[str]


def suspicious_pins(netlist: Netlist) -> list[Suspect]:
    """Every dangling or suspicious pin of ``netlist`` (rules in the module docstring), devices in
    flat netlist order, each device's pins in node order; a pin is listed once, for its first reason.

    Raises:
        CktError: the netlist cannot be flattened (an undefined parameter, recursion...).
    """
    return [s for c in _circuits(netlist) for s in _suspects(c)]


def complete(netlist: Netlist, scorer: Scorer, top: int = 3) -> list[Completion]:
    """For each of ``suspicious_pins(netlist)``, the ``top`` best candidate nets by ``scorer``.

    Each circuit's pin graph is built once; for each suspect the pin's net edges are removed and
    every candidate net (see the module docstring) is scored. Ties keep netlist net order.

    Raises:
        CktError: ``top`` is below 1, the netlist cannot be flattened, or the scorer returns other
            than one finite score per candidate.
    """
    if top < 1:
        raise CktError(f"top must be at least 1, not {top}")
    out: list[Completion] = []
    for circuit in _circuits(netlist):
        suspects = _suspects(circuit)
        if not suspects:
            continue
        graph = to_pins_pyg(circuit.netlist)
        pins = _pin_nodes(graph)
        nets = {name: i for i, name in enumerate(graph.net_names)}
        first_net = len(graph.device_names) + len(graph.pin_names)
        degree = _degrees(circuit.netlist)
        for s in suspects:
            names = [n for n in graph.net_names
                     if not UNCONNECTED.match(n) and not (n == s.net and degree[n] <= 1)]
            pin = pins[(s.device, s.pin)]
            ids = [first_net + nets[n] for n in names]
            scores = scorer.score(remove_pin_edge(graph, pin), pin, ids) if ids else []
            if len(scores) != len(ids) or not all(math.isfinite(float(v)) for v in scores):
                raise CktError(f"the scorer returned {len(scores)} scores for {len(ids)} candidate nets "
                               f"of {s.device}.{s.pin} (one finite score each expected)")
            ranked = sorted(zip(names, scores), key=lambda pair: -float(pair[1]))
            out.append(Completion(s, tuple(Candidate(n, float(v)) for n, v in ranked[:top])))
    return out


def _circuits(netlist: Netlist) -> list[_Circuit]:
    """The flat top level when it has devices; otherwise each definition on its own."""
    flat = flatten(netlist)
    if flat.devices:
        return [_Circuit(flat, None, frozenset())]
    return [_definition(netlist, s.name, s.ports) for s in flat.subckts]


def _definition(netlist: Netlist, name: str, ports: tuple[str, ...]) -> _Circuit:
    """Definition ``name`` flattened through one instance whose nets are its ports, then named as
    inside the definition (``M1``, ``X2.M3``, ``n5``)."""
    instance = Device(name=name, kind=DeviceKind.SUBCKT, terminals=tuple((p, p) for p in ports), model=name)
    flat = flatten(replace(netlist, devices=(instance,)))
    prefix = name + "."

    def local(text: str) -> str:
        return text.removeprefix(prefix)

    devices = tuple(replace(d, name=local(d.name), terminals=tuple((p, local(n)) for p, n in d.terminals))
                    for d in flat.devices)
    return _Circuit(replace(flat, devices=devices), name, frozenset(p.lower() for p in ports))


def _degrees(netlist: Netlist) -> Counter[str]:
    """Terminals per net, counting a B source's ``v(net)`` references as terminals."""
    degree: Counter[str] = Counter(n for d in netlist.devices for n in d.nets)
    for d in netlist.devices:
        if d.kind is DeviceKind.BEHAVIORAL:
            degree.update(n for m in _V_REF.finditer(d.spec) for n in m.groups() if n in degree)
    return degree


def _exempt(net: str, circuit: _Circuit) -> bool:
    """Whether ``net`` may legitimately have one terminal: ground, supply, global, port."""
    key = net.lower()
    if _rail(net) or key in circuit.ports or key in {g.lower() for g in circuit.netlist.globals}:
        return True
    bare = key.rstrip("!").removeprefix("/")
    return circuit.subckt is None and any(pattern.match(bare) for _, pattern in NET_ROLES)


def _rail(net: str) -> bool:
    """Ground or a supply, by any of the names ``ckt.graph.features`` and ``ckt check`` know."""
    return net.lower() in GROUND or bool(is_ground_name(net) or is_supply_name(net) or GROUND_RAIL.match(net)
                                         or SUPPLY_RAIL.match(net))


def _shorted_pins(d: Device) -> tuple[str, ...]:
    """The pins that make ``d`` shorted (all on one net), or ``()``."""
    core = _TRANSISTOR_PINS.get(d.kind)
    if core is not None:
        nets = {net for pin, net in d.terminals if pin in core}
        if len(nets) == 1 and len(d.pins) >= len(core) and not _rail(next(iter(nets))):
            return tuple(pin for pin in d.pins if pin in core)
        return ()
    if len(d.terminals) >= 2 and len(set(d.nets)) == 1:
        return d.pins
    return ()


def _suspects(circuit: _Circuit) -> list[Suspect]:
    degree = _degrees(circuit.netlist)
    out: list[Suspect] = []
    for d in circuit.netlist.devices:
        shorted = _shorted_pins(d)
        for pin, net in d.terminals:
            if UNCONNECTED.match(net):
                reason, message = "unconnected", f"pin left unconnected (net {net!r})"
            elif degree[net] == 1 and not _exempt(net, circuit) and d.kind not in VOLTAGE_SETTING:
                reason, message = "floating", f"net {net!r} touches only this pin"
            elif pin in shorted:
                reason, message = "shorted", f"all of {d.name}'s {'/'.join(shorted)} pins are on net {net!r}"
            else:
                continue
            out.append(Suspect(d.name, pin, net, reason, message, circuit.subckt, d.loc))
    return out


def _pin_nodes(graph: Data) -> dict[tuple[str, str], int]:
    """``(device name, pin name)`` -> pin node index, read from the device → pin edges."""
    n_pin = len(graph.pin_names)
    owners, pins = graph.edge_index[:, :n_pin].tolist()
    first_pin = len(graph.device_names)
    return {(graph.device_names[o], graph.pin_names[p - first_pin]): p for o, p in zip(owners, pins)}
