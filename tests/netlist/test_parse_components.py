"""The component-dict (Image2Net-style) reader on fixtures of our own."""

from __future__ import annotations

import ast

import pytest

from ckt.errors import NetlistParseError
from ckt.netlist.ir import Device, DeviceKind
from ckt.netlist.read import read_netlist
from ckt.netlist.parse_components import parse_components
from ckt.netlist.parse_spectre import parse_spectre
from ckt.netlist.parse_spice import parse_spice
from ckt.netlist.write import write_spice
from ckt.netlist.write_spectre import write_spectre
from tests.conftest import TEST_DATA

DATA = TEST_DATA / "components"


@pytest.fixture(scope="module")
def diso():
    return read_netlist(DATA / "diso.txt", format="components")


def test_names_title_and_pin_order(diso) -> None:
    assert diso.title == "DISO-Amplifier"
    assert [d.name for d in diso.devices] == ["M1", "M2", "R1", "I1", "Q1", "X1", "R2"]
    # Terminals follow IR pin order whatever the dict's key order was.
    assert diso.device("M2") == Device("M2", DeviceKind.MOSFET, (("d", "out"), ("g", "in"), ("s", "GND"),
                                                                 ("b", "GND")), "nmos")
    assert diso.device("R1").terminals == (("p", "VDD"), ("n", "net1"))


def test_three_pin_mosfet_body_tied_to_source(diso) -> None:
    m1 = diso.device("M1")
    assert m1.terminals == (("d", "out"), ("g", "net1"), ("s", "VDD"), ("b", "VDD"))
    (info,) = [d for d in diso.diagnostics if d.code == "body-to-source"]
    assert info.severity == "info" and info.line == 1 and "M1" in info.message


def test_current_source_direction_and_bjt(diso) -> None:
    assert diso.device("I1").terminals == (("p", "net1"), ("n", "GND"))  # In -> p, Out -> n
    q1 = diso.device("Q1")
    assert (q1.model, q1.pins) == ("npn", ("c", "b", "e"))  # no substrate is invented


def test_amplifier_block_and_odd_net_names(diso) -> None:
    x1 = diso.device("X1")
    assert (x1.kind, x1.model) == (DeviceKind.SUBCKT, "diso_amp")
    assert x1.terminals == (("inp", "in"), ("inn", "out"), ("out", "VOUT\\-"))  # backslash kept verbatim
    assert diso.device("Q1").net("b") == "NON-INVERTING_INPUT"
    (warning,) = diso.warnings
    assert (warning.line, warning.code) == (9, "net-renamed") and "'NON-INVERTING INPUT'" in warning.message


def test_json_and_dict_inputs() -> None:
    text = (DATA / "amp.json").read_text()
    from_json = parse_components(text)
    assert from_json.title == "SISO-Amplifier"
    assert from_json.device("X1").terminals == (("in", "vin"), ("out", "vout"))
    assert parse_components(ast.literal_eval(text)) == from_json


def test_defective_file_lists_every_problem() -> None:
    with pytest.raises(NetlistParseError) as err:
        read_netlist(DATA / "bad.txt", format="components")
    assert [(d.line, d.code) for d in err.value.diagnostics] == [(2, "ports"), (4, "unknown-type"), (6, "ports")]
    assert "bad.txt:2: error: component 1 (NMOS): missing port(s) Gate" in str(err.value)
    assert "unknown port(s) Mid" in str(err.value)


@pytest.mark.parametrize("text, code", [
    ("{'ckt_netlist': [}", "syntax"),
    ("__import__('os').system('true')", "syntax"),
    ("[1, 2]", "schema"),
    ("{'ckt_netlist': [{'component_type': 'Res', 'port_connection': {'Pos': 'a', 'Neg': 3}}]}", "ports"),
    ("{'ckt_netlist': ['R1 a b']}", "schema"),
])
def test_malformed_input(text: str, code: str) -> None:
    with pytest.raises(NetlistParseError) as err:
        parse_components(text, path="x.txt")
    assert [d.code for d in err.value.diagnostics] == [code]
    assert err.value.file == "x.txt"


def test_round_trips(diso) -> None:
    # Spectre keeps everything but the title and the pin names of blocks it has no definition of.
    back = parse_spectre(write_spectre(diso))
    assert back.title == ""
    for a, b in zip(diso.devices, back.devices, strict=True):
        assert (a.name, a.kind, a.model, a.nets, a.value, a.params) == (b.name, b.kind, b.model, b.nets, b.value,
                                                                       b.params)
        if a.kind is not DeviceKind.SUBCKT:
            assert a.pins == b.pins
    spice = parse_spice(write_spice(diso))
    assert spice.title == diso.title
    assert [(d.name, d.kind, d.model, d.nets) for d in spice.devices] == \
        [(d.name, d.kind, d.model, d.nets) for d in diso.devices]
