"""Circuit identity: the canonical hash is name-blind but keeps ports and pins, ``isomorphic`` is exact
where the hash collides, and uniqueness/novelty never merge two different circuits."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from ckt.gen.iso import IsoIndex, canonical_hash, isomorphic, unique_and_novel
from ckt.netlist.ir import Device, DeviceKind, Netlist

OTA_PORTS = ("VDD", "VSS", "VIN1", "VIN2", "VOUT1", "VB1")


def mos(name: str, model: str, d: str, g: str, s: str, b: str) -> Device:
    return Device(name, DeviceKind.MOSFET, (("d", d), ("g", g), ("s", s), ("b", b)), model=model)


def two(kind: DeviceKind, name: str, p: str, n: str, model: str | None = None) -> Device:
    return Device(name, kind, (("p", p), ("n", n)), model=model)


OTA = Netlist(devices=(
    mos("M1", "nmos4", "x", "VIN1", "tail", "VSS"),
    mos("M2", "nmos4", "VOUT1", "VIN2", "tail", "VSS"),
    mos("M3", "pmos4", "x", "x", "VDD", "VDD"),
    mos("M4", "pmos4", "VOUT1", "x", "VDD", "VDD"),
    mos("M5", "nmos4", "tail", "VB1", "VSS", "VSS"),
    two(DeviceKind.RESISTOR, "R1", "VOUT1", "x"),
    two(DeviceKind.DIODE, "D1", "tail", "VSS", "diode"),
))


@dataclass(frozen=True)
class Sample:
    netlist: Netlist
    ports: tuple[str, ...]


def relabel(netlist: Netlist, ports: tuple[str, ...], seed: int) -> Netlist:
    """The same circuit with devices renamed and reordered and internal nets renamed."""
    rng = random.Random(seed)
    internal = [n for n in netlist.nets if n not in ports]
    new_names = [f"q{i}" for i in range(len(internal))]
    rng.shuffle(new_names)
    rename = dict(zip(internal, new_names))
    devices = [replace(d, name=f"{d.kind.letter}x{i}", terminals=tuple((p, rename.get(n, n)) for p, n in d.terminals))
               for i, d in enumerate(netlist.devices)]
    rng.shuffle(devices)
    return Netlist(devices=tuple(devices))


def swap(netlist: Netlist, device: str, a: str, b: str) -> Netlist:
    """``netlist`` with the nets on pins ``a`` and ``b`` of ``device`` exchanged."""
    def fix(d: Device) -> Device:
        if d.name != device:
            return d
        t = dict(d.terminals)
        t[a], t[b] = t[b], t[a]
        return replace(d, terminals=tuple((p, t[p]) for p, _ in d.terminals))
    return replace(netlist, devices=tuple(map(fix, netlist.devices)))


def test_relabelled_copies_hash_equal_and_are_isomorphic() -> None:
    for seed in range(5):
        copy = relabel(OTA, OTA_PORTS, seed)
        assert copy != OTA
        assert canonical_hash(copy, OTA_PORTS) == canonical_hash(OTA, OTA_PORTS)
        assert isomorphic(OTA, OTA_PORTS, copy, OTA_PORTS)


def test_resistor_pins_are_unordered_others_are_not() -> None:
    flipped = swap(OTA, "R1", "p", "n")
    assert canonical_hash(flipped, OTA_PORTS) == canonical_hash(OTA, OTA_PORTS)
    assert isomorphic(OTA, OTA_PORTS, flipped, OTA_PORTS)
    for device, a, b in (("M2", "d", "g"), ("D1", "p", "n")):
        changed = swap(OTA, device, a, b)
        assert canonical_hash(changed, OTA_PORTS) != canonical_hash(OTA, OTA_PORTS)
        assert not isomorphic(OTA, OTA_PORTS, changed, OTA_PORTS)


def test_port_names_kinds_and_models_are_labels() -> None:
    # the inputs exchanged: the diode-connected side moves, a different circuit
    crossed = Netlist(devices=tuple(
        replace(d, terminals=tuple((p, {"VIN1": "VIN2", "VIN2": "VIN1"}.get(n, n)) for p, n in d.terminals))
        for d in OTA.devices))
    assert not isomorphic(OTA, OTA_PORTS, crossed, OTA_PORTS)
    # the bias port renamed (ports stay labels), or listed as internal
    renamed = Netlist(devices=tuple(
        replace(d, terminals=tuple((p, "VB2" if n == "VB1" else n) for p, n in d.terminals)) for d in OTA.devices))
    assert canonical_hash(renamed, ("VDD", "VSS", "VIN1", "VIN2", "VOUT1", "VB2")) != canonical_hash(OTA, OTA_PORTS)
    as_cap = Netlist(devices=tuple(replace(d, kind=DeviceKind.CAPACITOR) if d.name == "R1" else d for d in OTA.devices))
    assert canonical_hash(as_cap, OTA_PORTS) != canonical_hash(OTA, OTA_PORTS)
    as_pmos = Netlist(devices=tuple(replace(d, model="pmos4") if d.name == "M5" else d for d in OTA.devices))
    assert not isomorphic(OTA, OTA_PORTS, as_pmos, OTA_PORTS)
    # names of devices and internal nets are not labels, ground is the port GND either way
    grounded = Netlist(devices=tuple(
        replace(d, terminals=tuple((p, "0" if n == "VSS" else n) for p, n in d.terminals)) for d in OTA.devices))
    named = Netlist(devices=tuple(
        replace(d, terminals=tuple((p, "GND" if n == "VSS" else n) for p, n in d.terminals)) for d in OTA.devices))
    ports = tuple(p for p in OTA_PORTS if p != "VSS")
    assert isomorphic(grounded, ports, named, ports)


def ring(n: int, offset: int = 0) -> tuple[Device, ...]:
    """``n`` resistors in a loop through internal nets."""
    return tuple(two(DeviceKind.RESISTOR, f"R{offset + i}", f"a{offset + i}", f"a{offset + (i + 1) % n}")
                 for i in range(n))


def test_a_wl_collision_is_told_apart() -> None:
    # one 6-resistor loop vs two 3-resistor loops: every node sees the same neighbourhood, so WL
    # colours cannot separate them; VF2 does
    six = Netlist(devices=ring(6))
    threes = Netlist(devices=ring(3) + ring(3, offset=10))
    assert canonical_hash(six, ()) == canonical_hash(threes, ())
    assert not isomorphic(six, (), threes, ())
    samples = [Sample(six, ()), Sample(threes, ()), Sample(relabel(six, (), 1), ())]
    result = unique_and_novel(samples, [Sample(threes, ())])
    assert result.first == (0, 1, 0)
    assert result.unique == (True, True, False) and result.n_unique == 2
    assert result.novel == (True, False, True)
    assert result.n_novel == 2 and result.n_unique_novel == 1


def quadrature(w: str, x: str) -> Netlist:
    """An LC quadrature oscillator: cross-coupled pairs (tails IB1, IB3) on tanks a/b and c/d, a
    pair (tail IB2) driving a/b from c/d, and one (tail IB4) driving c/d from gates ``w``/``x``:
    ``b, a`` and ``a, b`` are the two signs of the coupling, different circuits."""
    return Netlist(devices=(
        *(two(DeviceKind.INDUCTOR, f"L{n}", "VDD", n) for n in "abcd"),
        mos("M1", "nmos4", "a", "b", "IB1", "VSS"), mos("M2", "nmos4", "b", "a", "IB1", "VSS"),
        mos("M3", "nmos4", "c", "d", "IB3", "VSS"), mos("M4", "nmos4", "d", "c", "IB3", "VSS"),
        mos("M5", "nmos4", "a", "c", "IB2", "VSS"), mos("M6", "nmos4", "b", "d", "IB2", "VSS"),
        mos("M7", "nmos4", "c", w, "IB4", "VSS"), mos("M8", "nmos4", "d", x, "IB4", "VSS"),
    ))


def test_quadrature_coupling_sign_is_a_real_wl_collision() -> None:
    ports = ("VDD", "VSS", "IB1", "IB2", "IB3", "IB4")
    one = quadrature("b", "a")
    other = quadrature("a", "b")
    assert canonical_hash(one, ports) == canonical_hash(other, ports)
    assert not isomorphic(one, ports, other, ports)
    index = IsoIndex.of([Sample(one, ports), Sample(relabel(one, ports, 3), ports), Sample(other, ports)])
    assert len(index) == 2
    assert unique_and_novel([Sample(relabel(other, ports, 4), ports)], index).novel == (False,)
