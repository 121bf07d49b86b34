"""Symmetry of a device-level circuit: the orbits of its devices under the graph's automorphisms.

Sizing ties devices that the circuit maps onto each other (the two halves of a differential pair
in a symmetric circuit, mirror halves), so they share one W/L pair and the search space shrinks.
The symmetry is that of the labelled device–net graph: device nodes carry their kind and model,
edges the pin set a device puts on a net (two-terminal R/C/L pins are interchangeable), net nodes
are fixed by their port name — except that the numbered inputs ``VIN1, VIN2, ...`` form one class and
the outputs ``VOUT1, VOUT2, ...`` another, since a differential symmetry swaps them.

Orbits are found as a colour refinement (Weisfeiler–Lehman, which groups every orbit together but
may merge two) followed by an exact check: each candidate is mapped onto its cell's representative
by a VF2 isomorphism search (networkx) with the pair forced. Every reported orbit is therefore a true
one; a check that exceeds its step budget keeps the devices apart (untied), never wrongly tied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import networkx as nx
from networkx.algorithms.isomorphism import GraphMatcher

from ckt.netlist.ir import Device, DeviceKind, Netlist

UNORDERED = frozenset({DeviceKind.RESISTOR, DeviceKind.CAPACITOR, DeviceKind.INDUCTOR})
"""Kinds whose two pins are electrically interchangeable."""

_CLASS = re.compile(r"^(VIN|VOUT)\d+$", re.IGNORECASE)

MAX_STEPS = 20000
"""Most VF2 states explored per exact check before giving up on that pair (kept untied)."""


def port_class(port: str) -> str:
    """The label a port's net carries: ``VIN`` / ``VOUT`` for numbered inputs and outputs, else the name."""
    m = _CLASS.match(port)
    return m.group(1).upper() if m else port.upper()


def _edge_label(device: Device, pins: Iterable[str]) -> str:
    pins = tuple(pins)
    if device.kind in UNORDERED:
        return "*" * len(pins)
    return "+".join(pins)


def labelled_graph(netlist: Netlist, ports: Iterable[str]) -> nx.Graph:
    """The device–net graph with the labels symmetry must respect (node attribute ``label``, edge ``label``).

    Device nodes are ``("d", name)``, net nodes ``("n", name)``; net ``0`` is labelled ``GND``.
    """
    port_set = {p.upper() for p in ports}
    g = nx.Graph()
    for d in netlist.devices:
        g.add_node(("d", d.name), label=f"dev:{d.kind.value}:{(d.model or '').lower()}")
        grouped: dict[str, list[str]] = {}
        for pin, net in d.terminals:
            grouped.setdefault(net, []).append(pin)
        for net, pins in grouped.items():
            if net == "0":
                label = "port:GND"
            elif net.upper() in port_set:
                label = "port:" + port_class(net)
            else:
                label = "net"
            g.add_node(("n", net), label=label)
            g.add_edge(("d", d.name), ("n", net), label=_edge_label(d, pins))
    return g


def refine(g: nx.Graph) -> dict:
    """Stable colour refinement of ``g`` from its node labels: node -> colour (a small integer)."""
    colour = {v: g.nodes[v]["label"] for v in g}
    ids: dict = {}
    colour = {v: ids.setdefault(c, len(ids)) for v, c in colour.items()}
    n_cells = len(set(colour.values()))
    while True:
        sig = {v: (colour[v], tuple(sorted((g.edges[v, u]["label"], colour[u]) for u in g[v]))) for v in g}
        ids = {}
        new = {v: ids.setdefault(s, len(ids)) for v, s in sorted(sig.items(), key=lambda kv: repr(kv[1]))}
        cells = len(ids)
        colour = new
        if cells == n_cells:
            return colour
        n_cells = cells


class _OutOfSteps(Exception):
    """The exact check explored ``MAX_STEPS`` states without an answer."""


class _BoundedMatcher(GraphMatcher):
    """VF2 that gives up after ``MAX_STEPS`` feasibility tests (networkx has no limit of its own)."""

    steps = 0

    def semantic_feasibility(self, g1_node, g2_node) -> bool:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _OutOfSteps
        return bool(super().semantic_feasibility(g1_node, g2_node))


def _maps(g: nx.Graph, colour: dict, a, b) -> bool:
    """Whether some automorphism of ``g`` (respecting ``colour`` and edge labels) sends ``a`` to ``b``;
    False too when the search runs out of steps (the pair then stays untied)."""
    g1, g2 = g.copy(), g.copy()
    for h in (g1, g2):
        nx.set_node_attributes(h, colour, "c")
    g1.nodes[a]["c"] = -1
    g2.nodes[b]["c"] = -1
    gm = _BoundedMatcher(g1, g2, node_match=lambda x, y: x["c"] == y["c"],
                         edge_match=lambda x, y: x["label"] == y["label"])
    try:
        return gm.is_isomorphic()
    except _OutOfSteps:
        return False


def device_orbits(netlist: Netlist, ports: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """The devices of ``netlist`` grouped into automorphism orbits (each orbit's names in netlist order).

    Orbits are listed in the order of their first device; a device mapped onto no other is an orbit
    of one.
    """
    g = labelled_graph(netlist, ports)
    colour = refine(g)
    order = {d.name: i for i, d in enumerate(netlist.devices)}
    cells: dict[int, list[str]] = {}
    for d in netlist.devices:
        cells.setdefault(colour[("d", d.name)], []).append(d.name)
    orbits: list[tuple[str, ...]] = []
    for cell in cells.values():
        rest = list(cell)
        while rest:
            rep = rest.pop(0)
            orbit = [rep]
            for other in list(rest):
                if _maps(g, colour, ("d", rep), ("d", other)):
                    orbit.append(other)
                    rest.remove(other)
            orbits.append(tuple(orbit))
    return tuple(sorted(orbits, key=lambda o: order[o[0]]))
