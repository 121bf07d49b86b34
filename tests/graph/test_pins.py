"""The pin-level device–pin–net view."""

from __future__ import annotations

import networkx as nx
import pytest

from ckt.errors import NetlistError
from ckt.graph.pins import NODE_TYPES, RELATIONS, from_pins_nx, to_pins_nx
from ckt.netlist.ir import Device, DeviceKind, Netlist


def inverter() -> Netlist:
    return Netlist(
        title="inv",
        devices=(
            Device("MP", DeviceKind.MOSFET, (("d", "y"), ("g", "a"), ("s", "vdd"), ("b", "vdd")), model="pch"),
            Device("MN", DeviceKind.MOSFET, (("d", "y"), ("g", "a"), ("s", "0"), ("b", "0")), model="nch"),
            Device("CL", DeviceKind.CAPACITOR, (("p", "y"), ("n", "0")), value=1e-15),
        ),
    )


def test_names_match_the_cirgps_parasitic_datasets():
    assert NODE_TYPES == ("device", "pin", "net")
    assert RELATIONS == ("device-pin", "pin-net")


def test_nodes_edges_and_ids():
    g = to_pins_nx(inverter())
    types = [g.nodes[i]["type"] for i in g]
    assert types == ["device"] * 3 + ["pin"] * 10 + ["net"] * 4
    assert g.number_of_edges() == 20
    pins = [(g.nodes[i]["device"], g.nodes[i]["name"], g.nodes[i]["index"]) for i in range(3, 13)]
    assert pins[:4] == [("MP", "d", 0), ("MP", "g", 1), ("MP", "s", 2), ("MP", "b", 3)]
    assert pins[-2:] == [("CL", "p", 0), ("CL", "n", 1)]
    assert [g.nodes[i]["name"] for i in range(13, 17)] == ["y", "a", "vdd", "0"]


def test_edges_are_typed_and_pins_link_one_device_and_one_net():
    g = to_pins_nx(inverter())
    for pin in range(3, 13):
        rel = sorted((g.edges[pin, n]["relation"], g.edges[pin, n]["etype"]) for n in g[pin])
        assert rel == [("device-pin", 0), ("pin-net", 1)]
    # MP's source and bulk are two pins on one net: two pin-net edges into vdd
    assert sorted(g.nodes[p]["name"] for p in g[15]) == ["b", "s"]


def test_rebuild_is_exact():
    n = inverter()
    assert from_pins_nx(to_pins_nx(n)) == n


def test_repeated_pin_names_are_fine_at_pin_level():
    d = Device("U1", DeviceKind.UNKNOWN, (("1", "a"), ("1", "b")))
    n = Netlist(devices=(d,))
    assert from_pins_nx(to_pins_nx(n)) == n


def test_rebuild_follows_pin_index_not_node_order():
    n = inverter()
    g = to_pins_nx(n)
    h = nx.Graph(**g.graph)
    h.add_nodes_from(sorted(g.nodes(data=True), key=lambda t: (t[1]["type"] != "device", -t[0])))
    h.add_edges_from(g.edges(data=True))
    back = from_pins_nx(h)
    assert [d.terminals for d in back.devices] == [d.terminals for d in reversed(n.devices)]


def test_rebuild_refuses_a_dangling_pin():
    g = to_pins_nx(inverter())
    g.remove_edge(3, 13)  # MP.d -- y
    with pytest.raises(NetlistError, match="pin d of device MP"):
        from_pins_nx(g)


def test_rebuild_refuses_other_graphs():
    with pytest.raises(NetlistError, match="not a pin-level"):
        from_pins_nx(nx.Graph(view="bipartite", netlist=Netlist()))
