"""The bipartite device–net view of a flat netlist, as a networkx graph, and its exact inverse.

One node per device and per net; one edge per (device, net) pair that the device touches, carrying
the *set* of pins it puts on that net, so a diode-connected MOSFET has a single ``mosfet:d+g`` edge
instead of two parallel ones. Node ids are integers: devices ``0..D-1`` in netlist order, then nets
``D..D+N-1`` in first-seen order — the same indices the PyG view (``ckt.graph.to_pyg``) uses.
Subcircuit instances (``X``) are devices of kind ``SUBCKT``; flatten first for a transistor-level
graph.

Everything that is not a device (title, params, models, subcircuit definitions, includes,
statements, globals) rides in ``g.graph["netlist"]`` as a device-less ``Netlist``, so
``from_bipartite_nx(to_bipartite_nx(n)) == n``.
"""

from __future__ import annotations

from dataclasses import replace

import networkx as nx

from ckt.errors import NetlistError
from ckt.graph.features import edge_type, is_ground_name, is_supply_name
from ckt.netlist.inline import inline_includes
from ckt.netlist.ir import Device, Netlist


def pins_by_net(device: Device) -> dict[str, tuple[str, ...]]:
    """The device's pins grouped by net: nets in first-touched order, pins in the device's order.

    Raises:
        NetlistError: the device names one pin twice, so pin → net would be ambiguous.
    """
    if len(set(device.pins)) != len(device.pins):
        raise NetlistError(f"device {device.name} repeats a pin name: {', '.join(device.pins)}")
    grouped: dict[str, list[str]] = {}
    for pin, net in device.terminals:
        grouped.setdefault(net, []).append(pin)
    return {net: tuple(pins) for net, pins in grouped.items()}


def device_attrs(device: Device) -> dict:
    """The node attributes that rebuild ``device`` (all but its connectivity)."""
    return {
        "type": "device",
        "name": device.name,
        "kind": device.kind,
        "model": device.model,
        "value": device.value,
        "params": device.params,
        "spec": device.spec,
    }


def net_attrs(net: str) -> dict:
    return {"type": "net", "name": net, "is_ground": is_ground_name(net), "is_supply": is_supply_name(net)}


def to_bipartite_nx(netlist: Netlist) -> nx.Graph:
    """The device–net graph of ``netlist``'s top-level devices.

    Node attributes: ``type`` (``"device"``/``"net"``) and ``name``; devices add ``kind``, ``model``,
    ``value``, ``params``, ``spec`` and ``pins`` (all pin names in node order); nets add
    ``is_ground`` and ``is_supply`` (name heuristics, ``ckt.graph.features``). Edge attributes:
    ``pins`` (the device's pins on that net, in its pin order) and ``etype`` (index into
    ``ckt.graph.features.EDGE_TYPES``). Devices of included files count (``inline_includes``).
    """
    netlist = inline_includes(netlist, libraries=False)
    g = nx.Graph(view="bipartite", netlist=replace(netlist, devices=()))
    n_dev = len(netlist.devices)
    net_id = {net: n_dev + i for i, net in enumerate(netlist.nets)}
    for i, d in enumerate(netlist.devices):
        g.add_node(i, **device_attrs(d), pins=d.pins)
    for net, nid in net_id.items():
        g.add_node(nid, **net_attrs(net))
    for i, d in enumerate(netlist.devices):
        for net, pins in pins_by_net(d).items():
            g.add_edge(i, net_id[net], pins=pins, etype=edge_type(d.kind, pins))
    return g


def device_from_attrs(attrs: dict, terminals: tuple[tuple[str, str], ...]) -> Device:
    return Device(
        name=attrs["name"],
        kind=attrs["kind"],
        terminals=terminals,
        model=attrs["model"],
        value=attrs["value"],
        params=tuple(attrs["params"]),
        spec=attrs["spec"],
    )


def from_bipartite_nx(g: nx.Graph) -> Netlist:
    """The netlist ``g`` was made from: devices in node order, terminals in each device's pin order.

    Raises:
        NetlistError: ``g`` is not a bipartite view (a pin left unconnected or connected twice, an
            edge between two devices, missing metadata).
    """
    if g.graph.get("view") != "bipartite" or "netlist" not in g.graph:
        raise NetlistError("not a bipartite netlist graph (made by to_bipartite_nx)")
    devices = []
    for node, attrs in g.nodes(data=True):
        if attrs.get("type") != "device":
            continue
        net_of: dict[str, str] = {}
        for other, eattrs in g[node].items():
            if g.nodes[other].get("type") != "net":
                raise NetlistError(f"device {attrs['name']} is linked to a non-net node {other!r}")
            for pin in eattrs["pins"]:
                if pin in net_of:
                    raise NetlistError(f"pin {pin} of device {attrs['name']} is on two nets")
                net_of[pin] = g.nodes[other]["name"]
        if set(net_of) != set(attrs["pins"]):
            raise NetlistError(
                f"device {attrs['name']}: edges name pins {sorted(net_of)}, device has {list(attrs['pins'])}"
            )
        devices.append(device_from_attrs(attrs, tuple((p, net_of[p]) for p in attrs["pins"])))
    return replace(g.graph["netlist"], devices=tuple(devices))
