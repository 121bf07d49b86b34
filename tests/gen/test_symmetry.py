"""Automorphism orbits of small circuits of our own, where the symmetry is known by construction."""

from __future__ import annotations

from ckt.gen import symmetry
from ckt.gen.symmetry import device_orbits, port_class
from ckt.netlist.ir import Device, DeviceKind, Netlist


def mos(name: str, d: str, g: str, s: str, b: str, model: str = "nmos4") -> Device:
    return Device(name, DeviceKind.MOSFET, (("d", d), ("g", g), ("s", s), ("b", b)), model=model)


def res(name: str, p: str, n: str) -> Device:
    return Device(name, DeviceKind.RESISTOR, (("p", p), ("n", n)))


# A resistively loaded differential pair with a tail mirror: the pair and the loads are symmetric
# when VIN1<->VIN2 and VOUT1<->VOUT2 swap; the tail and its diode are not.
DIFF = Netlist(devices=(
    mos("M1", "VOUT1", "VIN1", "tail", "VSS"),
    mos("M2", "VOUT2", "VIN2", "tail", "VSS"),
    res("R1", "VDD", "VOUT1"),
    res("R2", "VOUT2", "VDD"),  # pins written the other way round: R pins are interchangeable
    mos("M3", "tail", "IB1", "VSS", "VSS"),
    mos("M4", "IB1", "IB1", "VSS", "VSS"),
))
DIFF_PORTS = ("VDD", "VSS", "VIN1", "VIN2", "VOUT1", "VOUT2", "IB1")


def test_fully_differential_pair_and_loads_tie():
    assert device_orbits(DIFF, DIFF_PORTS) == (("M1", "M2"), ("R1", "R2"), ("M3",), ("M4",))


def test_single_ended_output_breaks_the_symmetry():
    # the same circuit with VOUT2 an internal net: no automorphism swaps the halves any more
    assert device_orbits(DIFF, ("VDD", "VSS", "VIN1", "VIN2", "VOUT1", "IB1")) == (
        ("M1",), ("M2",), ("R1",), ("R2",), ("M3",), ("M4",))


def test_bias_ports_are_fixed_and_inputs_interchangeable():
    assert port_class("VIN2") == port_class("VIN1") == "VIN"
    assert port_class("VB1") != port_class("VB2")
    # two devices alike except for the bias port on their gates: not one orbit
    net = Netlist(devices=(mos("M1", "VOUT1", "VB1", "VSS", "VSS"), mos("M2", "VOUT1", "VB2", "VSS", "VSS")))
    assert device_orbits(net, ("VOUT1", "VB1", "VB2", "VSS")) == (("M1",), ("M2",))
    # drain and source are distinct pins: a device drawn flipped is not mapped onto the other
    flipped = Netlist(devices=(mos("M1", "a", "VIN1", "VSS", "VSS"), mos("M2", "VSS", "VIN1", "a", "VSS"),
                               res("R1", "a", "VDD")))
    assert device_orbits(flipped, ("VIN1", "VSS", "VDD")) == (("M1",), ("M2",), ("R1",))


def test_refinement_alone_would_merge_what_the_exact_check_splits():
    # Two internal triangles of resistors against one hexagon: colour refinement cannot tell a
    # resistor of the triangles from one of the hexagon (every net has two resistor edges), but no
    # automorphism maps one onto the other.
    tri = [res(f"Rt{i}", f"t{i}", f"t{(i + 1) % 3}") for i in range(3)]
    tri2 = [res(f"Ru{i}", f"u{i}", f"u{(i + 1) % 3}") for i in range(3)]
    hexa = [res(f"Rh{i}", f"h{i}", f"h{(i + 1) % 6}") for i in range(6)]
    net = Netlist(devices=(*tri, *tri2, *hexa))
    g = symmetry.labelled_graph(net, ())
    colour = symmetry.refine(g)
    assert len({colour[("d", d.name)] for d in net.devices}) == 1
    orbits = device_orbits(net, ())
    assert sorted(map(sorted, orbits)) == sorted([sorted(d.name for d in (*tri, *tri2)), sorted(d.name for d in hexa)])


def test_out_of_steps_keeps_devices_apart(monkeypatch):
    monkeypatch.setattr(symmetry, "MAX_STEPS", 0)
    assert device_orbits(DIFF, DIFF_PORTS) == (("M1",), ("M2",), ("R1",), ("R2",), ("M3",), ("M4",))
