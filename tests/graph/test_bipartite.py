"""The bipartite device–net view: one edge per (device, net), typed by the pin set."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ckt.errors import NetlistError
from ckt.graph.bipartite import from_bipartite_nx, to_bipartite_nx
from ckt.graph.features import EDGE_TYPES, edge_type, is_ground_name, is_supply_name
from ckt.netlist.ir import Device, DeviceKind, Expr, Model, Netlist, Param

M = DeviceKind.MOSFET


def mos(name: str, d: str, g: str, s: str, b: str, model: str = "nch") -> Device:
    terminals = (("d", d), ("g", g), ("s", s), ("b", b))
    return Device(name, M, terminals, model=model, params=(("w", 1e-6), ("l", 1e-7)))


def mirror() -> Netlist:
    """A diode-connected reference M1 mirrored by M2, fed by a resistor from vdd."""
    return Netlist(
        title="mirror",
        devices=(
            mos("M1", "ref", "ref", "0", "0"),
            mos("M2", "out", "ref", "0", "0"),
            Device("R1", DeviceKind.RESISTOR, (("p", "vdd"), ("n", "ref")), value=Expr("rref")),
        ),
        params=(Param("rref", 10e3),),
        models=(Model("nch", "nmos", (("level", 1.0),)),),
    )


def etype_names(g, device: int) -> dict[str, str]:
    return {g.nodes[n]["name"]: EDGE_TYPES[a["etype"]] for n, a in g[device].items()}


def test_diode_connected_mosfet_has_one_d_plus_g_edge():
    g = to_bipartite_nx(mirror())
    assert etype_names(g, 0) == {"ref": "mosfet:d+g", "0": "mosfet:s+b"}
    assert g.edges[0, 3]["pins"] == ("d", "g")
    assert etype_names(g, 1) == {"out": "mosfet:d", "ref": "mosfet:g", "0": "mosfet:s+b"}


def test_all_pins_on_one_net_make_one_edge_with_four_pins():
    g = to_bipartite_nx(Netlist(devices=(mos("M1", "x", "x", "x", "x"),)))
    assert g.number_of_edges() == 1
    (_, _, attrs), = g.edges(data=True)
    assert attrs["pins"] == ("d", "g", "s", "b")
    assert EDGE_TYPES[attrs["etype"]] == "mosfet:d+g+s+b"


def test_node_and_edge_counts_and_ids():
    n = mirror()
    g = to_bipartite_nx(n)
    assert g.number_of_nodes() == 3 + 4
    assert g.number_of_edges() == 2 + 3 + 2
    assert [g.nodes[i]["type"] for i in g] == ["device"] * 3 + ["net"] * 4
    assert [g.nodes[i]["name"] for i in range(3, 7)] == list(n.nets) == ["ref", "0", "out", "vdd"]


def test_node_attributes():
    g = to_bipartite_nx(mirror())
    r = g.nodes[2]
    assert (r["kind"], r["value"], r["model"], r["pins"]) == (DeviceKind.RESISTOR, Expr("rref"), None, ("p", "n"))
    assert g.nodes[0]["params"] == (("w", 1e-6), ("l", 1e-7))
    flags = {g.nodes[i]["name"]: (g.nodes[i]["is_ground"], g.nodes[i]["is_supply"]) for i in range(3, 7)}
    assert flags == {"ref": (False, False), "0": (True, False), "out": (False, False), "vdd": (False, True)}
    assert g.graph["netlist"].devices == ()


@pytest.mark.parametrize(
    ("name", "ground", "supply"),
    [("0", True, False), ("GND", True, False), ("agnd", True, False), ("gnd!", True, False),
     ("VDD", False, True), ("avdd", False, True), ("vdd_h", False, True), ("VSS", False, True),
     ("vcc!", False, True), ("vee", False, True), ("out", False, False), ("vin1", False, False),
     ("net0", False, False), ("00", False, False)],
)
def test_rail_name_heuristics(name, ground, supply):
    assert (is_ground_name(name), is_supply_name(name)) == (ground, supply)


def test_edge_type_vocabulary_is_fixed_and_complete():
    assert len(EDGE_TYPES) == len(set(EDGE_TYPES)) == 135
    assert EDGE_TYPES[:5] == ("mosfet:d", "mosfet:g", "mosfet:s", "mosfet:b", "mosfet:d+g")
    assert EDGE_TYPES[-1] == "other"
    assert sum(t.startswith("mosfet:") for t in EDGE_TYPES) == 15
    assert sum(t.startswith("resistor:") for t in EDGE_TYPES) == 3
    assert not any(t.startswith("mutual:") or t.startswith("subckt:") for t in EDGE_TYPES)


def test_edge_type_is_order_free_and_other_for_non_canonical_pins():
    assert edge_type(M, ("g", "d")) == edge_type(M, ("d", "g")) == EDGE_TYPES.index("mosfet:d+g")
    assert EDGE_TYPES[edge_type(DeviceKind.SUBCKT, ("inp",))] == "other"
    assert EDGE_TYPES[edge_type(DeviceKind.UNKNOWN, ("1",))] == "other"
    assert EDGE_TYPES[edge_type(M, ("d", "x"))] == "other"
    assert EDGE_TYPES[edge_type(DeviceKind.BJT, ("e", "sub"))] == "bjt:e+sub"


def test_subckt_instance_keeps_pin_names_on_other_edges():
    x = Device("X1", DeviceKind.SUBCKT, (("inp", "a"), ("inn", "b"), ("out", "a")), model="amp",
               params=(("gain", 10.0),))
    n = Netlist(devices=(x,))
    g = to_bipartite_nx(n)
    assert {g.edges[e]["pins"] for e in g.edges} == {("inp", "out"), ("inn",)}
    assert {EDGE_TYPES[g.edges[e]["etype"]] for e in g.edges} == {"other"}
    assert from_bipartite_nx(g) == n


def test_rebuild_is_exact():
    n = mirror()
    back = from_bipartite_nx(to_bipartite_nx(n))
    assert back == n
    assert [d.terminals for d in back.devices] == [d.terminals for d in n.devices]


def test_terminal_order_that_is_not_canonical_survives():
    d = Device("M9", M, (("s", "a"), ("b", "a"), ("g", "c"), ("d", "e")), model="p")
    n = Netlist(devices=(d,))
    assert from_bipartite_nx(to_bipartite_nx(n)).devices[0].terminals == d.terminals


def test_repeated_pin_name_is_refused():
    d = Device("U1", DeviceKind.UNKNOWN, (("1", "a"), ("1", "b")))
    with pytest.raises(NetlistError, match="U1 repeats a pin"):
        to_bipartite_nx(Netlist(devices=(d,)))


def test_rebuild_refuses_a_graph_missing_a_pin():
    g = to_bipartite_nx(mirror())
    g.remove_edge(1, 5)  # M2 -- out
    with pytest.raises(NetlistError, match="M2"):
        from_bipartite_nx(g)


def test_rebuild_refuses_other_graphs():
    import networkx as nx

    with pytest.raises(NetlistError, match="not a bipartite"):
        from_bipartite_nx(nx.path_graph(3))


def test_metadata_rides_along():
    n = replace(mirror(), globals=("vdd",))
    g = to_bipartite_nx(n)
    assert g.graph["netlist"].params == n.params and g.graph["netlist"].globals == ("vdd",)
    assert from_bipartite_nx(g) == n
