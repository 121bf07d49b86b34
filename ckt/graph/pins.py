"""The pin-level view of a flat netlist: device, pin and net nodes, as a networkx graph, and its
exact inverse.

Tasks that reason about individual terminals (link prediction, parasitic estimation) need a node
per pin. Node and relation names follow the CirGPS parasitic datasets (node types ``device``,
``pin``, ``net``; relations ``device-pin`` and ``pin-net``). Node ids are integers: devices
``0..D-1`` in netlist order, pins ``D..D+P-1`` (each device's pins in its node order, devices in
order), nets ``D+P..`` in first-seen order — the indices the PyG view uses.
"""

from __future__ import annotations

from dataclasses import replace

import networkx as nx

from ckt.errors import NetlistError
from ckt.graph.bipartite import device_attrs, device_from_attrs, net_attrs
from ckt.netlist.inline import inline_includes
from ckt.netlist.ir import Netlist

NODE_TYPES: tuple[str, ...] = ("device", "pin", "net")
"""Pin-level node types; a node's ``node_type`` in the PyG view indexes this tuple."""

RELATIONS: tuple[str, ...] = ("device-pin", "pin-net")
"""Pin-level edge types; an edge's ``etype`` indexes this tuple."""

PYG_EDGE_TYPES: tuple[tuple[str, str, str], ...] = (
    ("device", "device-pin", "pin"),
    ("pin", "pin-net", "net"),
    ("pin", "rev_device-pin", "device"),
    ("net", "rev_pin-net", "pin"),
)
"""Directed edge types of the PyG pin view (``edge_type`` indexes this tuple), in the
``(source, relation, destination)`` form ``Data.to_heterogeneous(edge_type_names=...)`` takes;
reverse relations are named the way PyG's ``ToUndirected`` names them."""


def to_pins_nx(netlist: Netlist) -> nx.Graph:
    """The device–pin–net graph of ``netlist``'s top-level devices.

    Node attributes: ``type`` (one of ``NODE_TYPES``) and ``name``; devices carry the attributes of
    the bipartite view (``kind``, ``model``, ``value``, ``params``, ``spec``), pins add ``device``
    (its device's name) and ``index`` (its position in the device's node order), nets add
    ``is_ground`` and ``is_supply``. Edge attributes: ``relation`` and ``etype``. Devices of included
    files count (``inline_includes``).
    """
    netlist = inline_includes(netlist, libraries=False)
    g = nx.Graph(view="pins", netlist=replace(netlist, devices=()))
    n_dev = len(netlist.devices)
    n_pin = sum(len(d.terminals) for d in netlist.devices)
    net_id = {net: n_dev + n_pin + i for i, net in enumerate(netlist.nets)}
    for i, d in enumerate(netlist.devices):
        g.add_node(i, **device_attrs(d))
    pid = n_dev
    for d in netlist.devices:
        for k, (pin, _) in enumerate(d.terminals):
            g.add_node(pid + k, type="pin", name=pin, device=d.name, index=k)
        pid += len(d.terminals)
    for net, nid in net_id.items():
        g.add_node(nid, **net_attrs(net))
    pid = n_dev
    for i, d in enumerate(netlist.devices):
        for _, net in d.terminals:
            g.add_edge(i, pid, relation="device-pin", etype=0)
            g.add_edge(pid, net_id[net], relation="pin-net", etype=1)
            pid += 1
    return g


def from_pins_nx(g: nx.Graph) -> Netlist:
    """The netlist ``g`` was made from.

    Raises:
        NetlistError: ``g`` is not a pin-level view (a pin without exactly one device and one net).
    """
    if g.graph.get("view") != "pins" or "netlist" not in g.graph:
        raise NetlistError("not a pin-level netlist graph (made by to_pins_nx)")
    types = nx.get_node_attributes(g, "type")
    devices = []
    for node, attrs in g.nodes(data=True):
        if attrs.get("type") != "device":
            continue
        pins = []
        for pin in g[node]:
            pattrs = g.nodes[pin]
            if types.get(pin) != "pin":
                raise NetlistError(f"device {attrs['name']} is linked to a non-pin node {pin!r}")
            nets = [n for n in g[pin] if types.get(n) == "net"]
            if len(nets) != 1 or len(g[pin]) != 2:
                raise NetlistError(f"pin {pattrs['name']} of device {attrs['name']} needs one net and one device")
            pins.append((pattrs["index"], pattrs["name"], g.nodes[nets[0]]["name"]))
        pins.sort()
        if [k for k, _, _ in pins] != list(range(len(pins))):
            raise NetlistError(f"device {attrs['name']}: pin indices {[k for k, _, _ in pins]} are not 0..n-1")
        devices.append(device_from_attrs(attrs, tuple((p, n) for _, p, n in pins)))
    return replace(g.graph["netlist"], devices=tuple(devices))
