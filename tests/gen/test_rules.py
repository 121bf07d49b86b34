"""The generator's validity rules: a tiny hand-built circuit passing and failing each rule, and the
per-type pass counts over the real AnalogGenie circuits."""

from __future__ import annotations

from collections import Counter

import pytest

from ckt.gen.rules import (
    DEFAULT,
    REQUIREMENTS,
    RULES,
    PortNeed,
    Requirement,
    check_circuit,
    is_valid,
    port_nets,
    requirement,
)
from ckt.netlist.ir import Device, DeviceKind, Netlist
from tests.conftest import shared

OTA_PORTS = ("VDD", "VSS", "VIN1", "VIN2", "VOUT1", "VB1")


def mos(name: str, model: str, d: str, g: str, s: str, b: str) -> Device:
    return Device(name, DeviceKind.MOSFET, (("d", d), ("g", g), ("s", s), ("b", b)), model=model)


def two(kind: DeviceKind, name: str, p: str, n: str, model: str | None = None) -> Device:
    return Device(name, kind, (("p", p), ("n", n)), model=model)


def npn(name: str, c: str, b: str, e: str, sub: str | None = "0") -> Device:
    pins = (("c", c), ("b", b), ("e", e)) + ((("sub", sub),) if sub is not None else ())
    return Device(name, DeviceKind.BJT, pins, model="npn")


OTA = (
    mos("M1", "nmos4", "x", "VIN1", "tail", "VSS"),
    mos("M2", "nmos4", "VOUT1", "VIN2", "tail", "VSS"),
    mos("M3", "pmos4", "x", "x", "VDD", "VDD"),
    mos("M4", "pmos4", "VOUT1", "x", "VDD", "VDD"),
    mos("M5", "nmos4", "tail", "VB1", "VSS", "VSS"),
)
"""A five-transistor OTA: valid as an op-amp."""


def rules_broken(devices, ckt_type: str = "Opamp", ports=OTA_PORTS) -> Counter:
    return Counter(v.rule for v in check_circuit(Netlist(devices=tuple(devices)), ckt_type, ports))


def test_the_ota_is_valid_and_every_rule_is_named() -> None:
    assert check_circuit(Netlist(devices=OTA), "Opamp", OTA_PORTS) == ()
    assert is_valid(Netlist(devices=OTA), "Opamp", OTA_PORTS)
    assert len(set(RULES)) == len(RULES) == 8


def test_pins_malformed_terminals() -> None:
    no_bulk = Device("M6", DeviceKind.MOSFET, (("d", "VOUT1"), ("g", "x"), ("s", "VSS")), model="nmos4")
    assert rules_broken((*OTA, no_bulk)) == {"pins": 1}
    repeated = Device("R1", DeviceKind.RESISTOR, (("p", "VOUT1"), ("p", "VSS")))
    assert rules_broken((*OTA, repeated)) == {"pins": 1}
    unnamed = two(DeviceKind.RESISTOR, "R1", "VOUT1", "")
    assert rules_broken((*OTA, unnamed))["pins"] == 1
    # a BJT with or without its substrate pin is well formed
    load = two(DeviceKind.RESISTOR, "R1", "e1", "VSS")
    assert rules_broken((*OTA, npn("Q1", "VDD", "VOUT1", "e1", None), load)) == {}
    assert rules_broken((*OTA, npn("Q1", "VDD", "VOUT1", "e1"), load)) == {}


def test_one_net_shorted_devices() -> None:
    assert rules_broken((*OTA, two(DeviceKind.CAPACITOR, "C1", "VOUT1", "VOUT1"))) == {"one-net": 1}
    # a BJT's substrate on ground does not save a c=b=e short
    assert rules_broken((*OTA, npn("Q1", "VOUT1", "VOUT1", "VOUT1"))) == {"one-net": 1}
    assert rules_broken((*OTA, mos("M6", "nmos4", "x", "x", "x", "x"))) == {"one-net": 1}


def test_ds_short_unless_a_varactor() -> None:
    assert rules_broken((*OTA, mos("M6", "nmos4", "VOUT1", "VOUT1", "VOUT1", "VSS"))) == {"ds-short": 1}
    # drain tied to source with the gate elsewhere: a MOS capacitor
    assert rules_broken((*OTA, mos("M6", "nmos4", "VSS", "VOUT1", "VSS", "VSS"))) == {}


def test_dangling_internal_nets() -> None:
    assert rules_broken((*OTA, two(DeviceKind.RESISTOR, "R1", "VOUT1", "stub"))) == {"dangling": 1}
    # two terminals of one device only: still floats
    assert rules_broken((*OTA, mos("M6", "nmos4", "d6", "d6", "VSS", "VSS"))) == {"dangling": 1}
    # a port may sit on one terminal
    assert rules_broken((*OTA, two(DeviceKind.RESISTOR, "R1", "VOUT1", "VOUT2")), ports=(*OTA_PORTS, "VOUT2")) == {}


def test_gate_only_nets_float() -> None:
    cascode = (
        mos("M1", "nmos4", "x", "VIN1", "tail", "VSS"), mos("M2", "nmos4", "y", "VIN2", "tail", "VSS"),
        mos("M6", "nmos4", "x2", "bias", "x", "VSS"), mos("M7", "nmos4", "VOUT1", "bias", "y", "VSS"),
        mos("M3", "pmos4", "x2", "x2", "VDD", "VDD"), mos("M4", "pmos4", "VOUT1", "x2", "VDD", "VDD"),
        mos("M5", "nmos4", "tail", "VB1", "VSS", "VSS"),
    )
    assert rules_broken(cascode) == {"gate-only": 1}
    # a resistor from VDD sets the line: fine
    assert rules_broken((*cascode, two(DeviceKind.RESISTOR, "R1", "VDD", "bias"))) == {}
    # a BJT base cannot set it either
    assert rules_broken((*cascode, npn("Q1", "VDD", "bias", "VOUT1"))) == {"gate-only": 1}


def test_connected_and_supply() -> None:
    island = (two(DeviceKind.RESISTOR, "R1", "a", "b"), two(DeviceKind.RESISTOR, "R2", "b", "a"))
    broken = check_circuit(Netlist(devices=(*OTA, *island)), "Opamp", OTA_PORTS)
    assert Counter(v.rule for v in broken) == {"connected": 1, "supply": 1}
    assert broken[0].devices == ("R1", "R2") and set(broken[0].nets) == {"a", "b"}
    # one piece with no rail at all
    divider = (two(DeviceKind.RESISTOR, "R1", "VIN1", "VOUT1"), two(DeviceKind.RESISTOR, "R2", "VOUT1", "VIN1"))
    assert rules_broken(divider, "General", ("VIN1", "VOUT1")) == {"supply": 1, "ports": 1}
    assert rules_broken((), "General", ()) == {"connected": 1, "ports": 1}


def test_opamp_ports() -> None:
    assert rules_broken(OTA, ports=("VSS", "VIN1", "VIN2", "VOUT1", "VB1")) == {}  # VDD by its name
    no_supply = tuple(mos(d.name, d.model, *(("VCC" if n == "VDD" else n) for n in d.nets)) for d in OTA)
    assert rules_broken(no_supply, ports=("VCC", "VSS", "VIN1", "VIN2", "VOUT1", "VB1")) == {"ports": 1}
    no_output = tuple(mos(d.name, d.model, *(("o" if n == "VOUT1" else n) for n in d.nets)) for d in OTA)
    msg = check_circuit(Netlist(devices=no_output), "Opamp", OTA_PORTS)
    assert [v.rule for v in msg] == ["ports"] and "VOUT* or IOUT*" in msg[0].message
    current_mode = tuple(mos(d.name, d.model, *({"VOUT1": "IOUT1", "VIN1": "IIN1"}.get(n, n) for n in d.nets))
                         for d in OTA)
    assert rules_broken(current_mode) == {}


def test_ldo_draws_from_its_input() -> None:
    pass_device = (mos("M1", "pmos4", "VOUT1", "g", "VIN1", "VIN1"), two(DeviceKind.RESISTOR, "R1", "VOUT1", "g"),
                   two(DeviceKind.RESISTOR, "R2", "g", "VSS"))
    assert rules_broken(pass_device, "LDO", ("VIN1", "VOUT1", "VSS")) == {}
    gate_in = (mos("M1", "pmos4", "VOUT1", "VIN1", "s", "s"), two(DeviceKind.RESISTOR, "R1", "s", "VOUT1"),
               two(DeviceKind.RESISTOR, "R2", "VOUT1", "VSS"))
    assert rules_broken(gate_in, "LDO", ("VIN1", "VOUT1", "VSS")) == {"ports": 1}
    assert rules_broken((*gate_in, two(DeviceKind.RESISTOR, "R3", "VDD", "s")), "LDO", ("VIN1", "VOUT1", "VSS")) == {}


def test_mirror_needs_only_a_low_rail_and_ground_counts() -> None:
    mirror = (mos("M1", "nmos4", "IB1", "IB1", "VSS", "VSS"), mos("M2", "nmos4", "IOUT1", "IB1", "VSS", "VSS"))
    assert rules_broken(mirror, "Mirror", ("IB1", "IOUT1", "VSS")) == {}
    grounded = (mos("M1", "nmos4", "IB1", "IB1", "0", "0"), mos("M2", "nmos4", "IOUT1", "IB1", "0", "0"))
    assert rules_broken(grounded, "Mirror", ("IB1", "IOUT1")) == {}
    lone = (two(DeviceKind.RESISTOR, "R1", "VSS", "a"), two(DeviceKind.RESISTOR, "R2", "a", "VSS"))
    assert rules_broken(lone, "Comparator", ("VSS",)) == {"ports": 1}


def test_port_nets_and_requirements() -> None:
    n = Netlist(devices=(two(DeviceKind.RESISTOR, "R1", "VB1", "net3"), two(DeviceKind.RESISTOR, "R2", "net3", "0")))
    assert port_nets(n, ("VOUT9",)) == {"VB1", "0"}
    assert port_nets(n, ("net3",)) == {"VB1", "net3", "0"}
    need = PortNeed(prefixes=("VIN",), minimum=2)
    assert need.matches("VIN12") and not need.matches("VIN") and not need.matches("VINX1")
    assert Requirement((need,)).missing(["VIN1", "VSS"]) == ("2 of VIN*",)
    assert Requirement((need,), min_ports=3).missing(["VIN1", "VIN2"]) == ("3 ports in all (has 2)",)
    assert requirement("Opamp") is REQUIREMENTS["Opamp"] and requirement("Filter") is DEFAULT


# Measured with these rules over all 3,350 circuits of the project's AnalogGenie archive.
PASSES = {
    "Opamp": (646, 808), "Switched_Cap": (676, 921), "LDO": (450, 450), "Bandgap_Ref": (340, 340),
    "Power_converter": (270, 270), "General": (145, 152), "Oscillator": (138, 140), "Mirror": (71, 71),
    "Comparator": (53, 55), "PLL": (41, 43), "Mixer": (33, 34), "Power_Amp": (23, 24), "Filter": (22, 22),
    "Voltage_Regulator": (11, 11), "ADC_DAC": (9, 9),
}
FAILS = {"one-net": 5, "ds-short": 0, "dangling": 5, "gate-only": 356, "connected": 0, "supply": 0, "ports": 59,
         "pins": 0}


@pytest.mark.slow
def test_analoggenie_pass_counts() -> None:
    from ckt.data.analoggenie import read_archive

    raw = read_archive(str(shared("analoggenie", "analoggenie-dataset.tar.gz")))
    total: Counter = Counter()
    passed: Counter = Counter()
    failed: Counter = Counter()
    for c in raw.circuits:
        broken = check_circuit(c.netlist, c.ckt_type, c.ports)
        total[c.ckt_type] += 1
        passed[c.ckt_type] += not broken
        failed.update(set(v.rule for v in broken))
    assert {t: (passed[t], total[t]) for t in total} == PASSES
    assert {r: failed[r] for r in RULES} == FAILS
