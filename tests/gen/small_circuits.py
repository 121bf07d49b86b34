"""A handful of small circuits of our own, written as AnalogGenie-style instance lists, for the
generator's training and sampling tests."""

from __future__ import annotations

from ckt.data.base import Circuit
from ckt.netlist.parse_spectre import parse_spectre

OPAMP_PORTS = ("VDD", "VSS", "VIN1", "VIN2", "VOUT1", "VB1")

DECKS: dict[str, tuple[str, tuple[str, ...], str]] = {
    # five-transistor OTA
    "ota5": ("Opamp", OPAMP_PORTS, """
MM1 (net1 VIN1 net3 VSS) nmos4
MM2 (VOUT1 VIN2 net3 VSS) nmos4
MM3 (net1 net1 VDD VDD) pmos4
MM4 (VOUT1 net1 VDD VDD) pmos4
MM5 (net3 VB1 VSS VSS) nmos4
"""),
    # the same OTA with PMOS inputs
    "ota5p": ("Opamp", OPAMP_PORTS, """
MM1 (net1 VIN1 net3 VDD) pmos4
MM2 (VOUT1 VIN2 net3 VDD) pmos4
MM3 (net1 net1 VSS VSS) nmos4
MM4 (VOUT1 net1 VSS VSS) nmos4
MM5 (net3 VB1 VDD VDD) pmos4
"""),
    # two-stage Miller op-amp
    "miller": ("Opamp", OPAMP_PORTS, """
MM1 (net1 VIN1 net3 VSS) nmos4
MM2 (net2 VIN2 net3 VSS) nmos4
MM3 (net1 net1 VDD VDD) pmos4
MM4 (net2 net1 VDD VDD) pmos4
MM5 (net3 VB1 VSS VSS) nmos4
MM6 (VOUT1 net2 VDD VDD) pmos4
MM7 (VOUT1 VB1 VSS VSS) nmos4
C0 (net2 VOUT1) capacitor
"""),
    # two-stage with a nulling resistor
    "miller_rz": ("Opamp", OPAMP_PORTS, """
MM1 (net1 VIN1 net3 VSS) nmos4
MM2 (net2 VIN2 net3 VSS) nmos4
MM3 (net1 net1 VDD VDD) pmos4
MM4 (net2 net1 VDD VDD) pmos4
MM5 (net3 VB1 VSS VSS) nmos4
MM6 (VOUT1 net2 VDD VDD) pmos4
MM7 (VOUT1 VB1 VSS VSS) nmos4
R0 (net2 net4) resistor
C0 (net4 VOUT1) capacitor
"""),
    # resistor-loaded differential pair, single-ended out
    "rload": ("Opamp", OPAMP_PORTS, """
MM1 (net1 VIN1 net3 VSS) nmos4
MM2 (VOUT1 VIN2 net3 VSS) nmos4
R0 (VDD net1) resistor
R1 (VDD VOUT1) resistor
MM5 (net3 VB1 VSS VSS) nmos4
"""),
    # simple NMOS current mirror
    "mirror": ("Mirror", ("VSS", "IIN1", "IOUT1"), """
MM1 (IIN1 IIN1 VSS VSS) nmos4
MM2 (IOUT1 IIN1 VSS VSS) nmos4
"""),
    # cascode NMOS mirror
    "cascode_mirror": ("Mirror", ("VSS", "IIN1", "IOUT1"), """
MM1 (net1 net1 VSS VSS) nmos4
MM2 (net2 net1 VSS VSS) nmos4
MM3 (IIN1 IIN1 net1 VSS) nmos4
MM4 (IOUT1 IIN1 net2 VSS) nmos4
"""),
}


def circuit(name: str, source_key: str = "") -> Circuit:
    """The deck ``name`` as a dataset circuit."""
    ckt_type, ports, text = DECKS[name]
    return Circuit(id=name, netlist=parse_spectre(text, path=f"{name}.scs"), ckt_type=ckt_type,
                   source_key=source_key, ports=ports)


def all_circuits() -> list[Circuit]:
    return [circuit(name) for name in DECKS]
