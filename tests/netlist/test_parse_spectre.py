"""The Spectre reader and writer on small fixtures of our own: structure, values, diagnostics, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from ckt.errors import NetlistError, NetlistParseError
from ckt.netlist.ir import Device, DeviceKind, Expr, Include, Model, Netlist, Param, Subckt
from ckt.netlist.read import read_netlist
from ckt.netlist.parse_spectre import parse_spectre, spectre_number
from ckt.netlist.parse_spice import parse_spice
from ckt.netlist.write_spectre import write_spectre
from tests.conftest import TEST_DATA

DATA = TEST_DATA / "spectre"


@pytest.fixture(scope="module")
def amp() -> Netlist:
    return read_netlist(DATA / "amp.scs", format="spectre")


def test_amp_structure(amp: Netlist) -> None:
    assert [d.name for d in amp.devices] == ["I1", "R1", "C1", "V1", "Q1", "D1", "net<3>"]
    assert amp.globals == ("0", "vdd!")
    assert amp.includes == (Include("models.scs", "tt"),)
    assert amp.params == (Param("wp", 2e-6), Param("lp", 180e-9), Param("cl", 1e-12))  # "\" continuation
    assert amp.models == (Model("nch", "bsim4", (("type", Expr("n")), ("vth0", 0.4))),)
    assert [(s.keyword, s.text) for s in amp.statements] == [
        ("dc", 'dcOp dc write="spectre.dc"'), ("ac", "ac1 ac start=1 stop=10G dec=10"), ("save", "save out in")]
    assert amp.title == ""


def test_amp_devices(amp: Netlist) -> None:
    inv = amp.device("I1")
    assert inv.kind is DeviceKind.SUBCKT and inv.model == "inv"
    assert inv.terminals == (("a", "in"), ("q", "out"), ("vdd", "vdd!"), ("vss", "0"))
    assert amp.device("R1") == Device("R1", DeviceKind.RESISTOR, (("p", "out"), ("n", "0")), value=1000.0)
    assert amp.device("C1").value == 1.5e-12 and amp.device("C1").nets == ("out", "0")
    v1 = amp.device("V1")
    assert (v1.kind, v1.value, v1.params) == (DeviceKind.VSOURCE, 1.8, (("type", Expr("dc")), ("mag", 1.0)))
    assert amp.device("Q1").terminals == (("c", "c"), ("b", "b"), ("e", "e"), ("sub", "0"))
    assert (amp.device("Q1").model, amp.device("D1").model) == ("npn", "diode")
    assert amp.device("net<3>").value == 10e6  # Spectre M is mega
    (inv_def,) = amp.subckts
    assert inv_def.ports == ("a", "q", "vdd", "vss") and inv_def.params == (Param("w", 1e-6),)
    mp, mn = inv_def.devices
    assert (mp.kind, mp.model, mp.pins) == (DeviceKind.MOSFET, "pmos4", ("d", "g", "s", "b"))
    assert mp.params == (("w", Expr("w*2")), ("l", Expr("(lp + 10n)")))
    assert (mn.kind, mn.model, mn.param("m")) == (DeviceKind.MOSFET, "nch", 1.0)  # kind from the model card


@pytest.mark.parametrize("text, value", [("1k", 1e3), ("1K", 1e3), ("10M", 10e6), ("10m", 10e-3), ("180n", 180e-9),
                                         ("2.5u", 2.5e-6), ("-3p", -3e-12), ("1e-3", 1e-3), ("4f", 4e-15),
                                         ("7", 7.0), (".5G", 0.5e9), ("1T", 1e12), ("2a", 2e-18)])
def test_spectre_numbers(text: str, value: float) -> None:
    assert spectre_number(text) == value


@pytest.mark.parametrize("text", ["1meg", "w*2", "1kOhm", "", "e3"])
def test_non_numbers(text: str) -> None:
    assert spectre_number(text) is None


@pytest.mark.parametrize("name", ["amp.scs", "dup_names.cir", "digital_full.cir"])
def test_round_trip(name: str) -> None:
    netlist = read_netlist(DATA / name, format="spectre")
    text = write_spectre(netlist)
    assert parse_spectre(text) == netlist
    assert write_spectre(parse_spectre(text)) == text  # deterministic


def test_writer_lines(amp: Netlist) -> None:
    lines = write_spectre(amp).splitlines()
    assert lines[:3] == ["simulator lang=spectre", "global 0 vdd!", 'include "models.scs" section=tt']
    assert "R1 (out 0) resistor r=1000" in lines
    assert "net\\<3\\> (a b) resistor r=10000000" in lines
    assert "    MP (q a vdd vdd) pmos4 w=w*2 l=(lp + 10n)" in lines
    assert "V1 (vdd! 0) vsource dc=1.8 type=dc mag=1" in lines


def test_duplicate_names_keep_every_device() -> None:
    # AnalogGenie reuses names for different devices; the later ones are renamed around existing names.
    n = read_netlist(DATA / "dup_names.cir", format="spectre")
    assert [d.name for d in n.devices] == ["MM1", "MM2", "MM1__3", "R0", "MM1__4", "MM1__2"]
    assert n.device("MM1__3").nets == ("net7", "net7", "VDD", "VDD")
    assert [(d.line, d.code) for d in n.warnings] == [(3, "duplicate-name"), (5, "duplicate-name")]
    assert str(n.warnings[0]).endswith("dup_names.cir:3: warning: instance name MM1 (line 1) is used again in "
                                       "the top level; this device is kept as MM1__3")


def test_subckt_pins_and_undefined_masters() -> None:
    n = read_netlist(DATA / "digital_full.cir", format="spectre")
    assert n.subckt("INVERTER").ports == ("A", "Q", "VDD", "VSS")
    assert n.device("I1").terminals == (("A", "net1"), ("Q", "VOUT1"), ("VDD", "VDD"), ("VSS", "VSS"))
    nor = n.device("I2")
    assert (nor.kind, nor.model, nor.pins) == (DeviceKind.SUBCKT, "NOR", ("1", "2", "3", "4"))
    (info,) = [d for d in n.diagnostics if d.severity == "info"]
    assert (info.line, info.code) == (13, "undefined-master")


def test_definition_after_use_binds_pins() -> None:
    n = parse_spectre("X1 (a b) buf\nsubckt buf in out\nR1 (in out) resistor r=1\nends buf\n")
    assert n.device("X1").terminals == (("in", "a"), ("out", "b"))


def test_errors_carry_every_line() -> None:
    with pytest.raises(NetlistParseError) as err:
        read_netlist(DATA / "broken.scs", format="spectre")
    found = [(d.line, d.code) for d in err.value.diagnostics if d.severity == "error"]
    assert found == [(1, "no-master"), (3, "ends"), (6, "ends"), (7, "unclosed-subckt")]
    assert err.value.file.endswith("broken.scs") and err.value.line == 1
    assert "broken.scs:6: error: 'ends bar' closes subckt foo" in str(err.value)


def test_unbalanced_parentheses() -> None:
    with pytest.raises(NetlistParseError, match=r"unbalanced.scs:1: error: unbalanced parentheses"):
        read_netlist(DATA / "unbalanced.scs", format="spectre")


@pytest.mark.parametrize("text, code, message", [
    ("subckt s a b\nR1 (a b) resistor\nends s\nX1 (n1) s\n", "pin-count", "has 1 node(s); the definition has 2"),
    ("R1 (a b c) resistor r=1\n", "pin-count", "needs 2"),
    ("M1 (a b c d) nmos4 w=\n", "param", "parameter w has no value"),
    ("M1 (a b c d) nmos4 w 1u\n", "param", "expected name=value"),
    ("subckt s a a\nends s\n", "dup-port", "lists port(s) a twice"),
    ("subckt s a\nends s\nsubckt s a\nends s\n", "dup-subckt", "defined twice"),
    ("model nch\n", "model", "needs a name and a type"),
])
def test_error_messages(text: str, code: str, message: str) -> None:
    with pytest.raises(NetlistParseError) as err:
        parse_spectre(text, path="t.scs")
    (d,) = [d for d in err.value.diagnostics if d.severity == "error"]
    assert d.code == code and message in d.message and d.file == "t.scs"


def test_keyword_named_instance_round_trips() -> None:
    n = Netlist(devices=(Device("model", DeviceKind.RESISTOR, (("p", "a"), ("n", "b")), value=2.0),))
    text = write_spectre(n)
    assert "\\model (a b) resistor r=2" in text
    assert parse_spectre(text) == n


def test_spice_section_is_read_and_written_back() -> None:
    text = ("simulator lang=spice\nB1 x 0 V=v(out)*2\nVac in 0 DC 0 AC 1\n.ac dec 10 1 1G\n"
            "simulator lang=spectre\nR1 (in x) resistor r=2\n")
    n = parse_spectre(text)
    assert [d.kind for d in n.devices] == [DeviceKind.BEHAVIORAL, DeviceKind.VSOURCE, DeviceKind.RESISTOR]
    assert n.device("Vac").spec and n.statements[0].text == ".ac dec 10 1 1G"
    assert parse_spectre(write_spectre(n)) == n


def test_spice_netlist_to_spectre_keeps_devices() -> None:
    spice = parse_spice("t\nM1 d g 0 0 nch w=1u l=0.18u\nR1 d vdd 10k\nX1 d g amp\n.subckt amp a b\n"
                        "C1 a b 1p\n.ends amp\n.model nch nmos level=1\n.end\n")
    back = parse_spectre(write_spectre(spice))
    assert back.devices == spice.devices and back.subckts == spice.subckts and back.models == spice.models


def test_writer_refuses_a_transistor_without_model() -> None:
    n = Netlist(devices=(Device("M1", DeviceKind.MOSFET, (("d", "a"), ("g", "b"), ("s", "c"), ("b", "c"))),))
    with pytest.raises(NetlistError, match="M1"):
        write_spectre(n)


def test_statement_inside_subckt_is_hoisted_with_warning() -> None:
    n = parse_spectre("subckt s a\nR1 (a 0) resistor\nsave a\nends s\n")
    assert [s.text for s in n.statements] == ["save a"]
    assert [(w.line, w.code) for w in n.warnings] == [(3, "scope")]


def test_includes_are_followed_and_bind_instances() -> None:
    path = DATA / "with_include.scs"
    n = read_netlist(path, format="spectre")
    assert n.device("X1").terminals == (("a", "in"), ("y", "out"), ("vdd", "vdd"), ("vss", "0"))
    assert n.device("M1").kind is DeviceKind.MOSFET  # model card from the SPICE include
    assert [(i.path, i.section, i.netlist is not None) for i in n.includes] == [
        ("lib/cells.scs", None, True), ("lib/models.sp", None, True), ("lib/corners.scs", "tt", False)]
    assert [(d.line, d.code) for d in n.diagnostics] == [(4, "include-section")]
    assert parse_spectre(write_spectre(n), path=path) == n  # the same includes in reach
    unfollowed = parse_spectre(path.read_text(), path=path, follow_includes=False)
    assert unfollowed.device("X1").pins == ("1", "2", "3", "4") and unfollowed.includes == n.includes


def test_include_errors() -> None:
    n = parse_spectre('include "nothere.scs"\nR1 (a b) resistor\n', path=DATA / "x.scs")
    (w,) = n.warnings  # a missing include does not stop the reader: the devices that are there count
    assert str(w).startswith(f"{DATA / 'x.scs'}:1: warning: included file not found: nothere.scs")
    assert [d.name for d in n.devices] == ["R1"]
    with pytest.raises(NetlistParseError, match="include cycle: .*cycle_a.scs -> .*cycle_b.scs -> .*cycle_a.scs"):
        read_netlist(DATA / "lib" / "cycle_a.scs", format="spectre")
    # Without a file to anchor it, a relative include is recorded only.
    assert parse_spectre('include "nothere.scs"\nR1 (a b) resistor\n').includes[0].netlist is None


def test_empty_netlists() -> None:
    with pytest.raises(NetlistParseError, match="empty netlist"):
        parse_spectre("// nothing but a comment\n\n", path="e.scs")
    only_comment = "simulator lang=spice\n* a comment\nsimulator lang=spectre\nR1 (a b) resistor\n"
    assert [d.name for d in parse_spectre(only_comment).devices] == ["R1"]


# Property: anything the reader can produce survives the writer, however odd its names.
_odd_names = st.text(st.characters(min_codepoint=33, max_codepoint=0x24F, blacklist_categories=("Cs", "Cc")),
                     min_size=1, max_size=6) | st.sampled_from(["0", "net<3>", "a b", "model", "vdd!", "x//y", "*s"])
_floats = st.floats(allow_nan=False, allow_infinity=False)
_exprs = st.sampled_from(["w*2", "(lp + 10n)", "vdd/2", "max(a,b)", '"file.txt"', "[1 2 3]"]).map(Expr)
_params = st.lists(st.tuples(st.sampled_from(["w", "l", "m", "nf", "area"]), _floats | _exprs), max_size=3,
                   unique_by=lambda kv: kv[0]).map(tuple)


@st.composite
def _spectre_netlists(draw) -> Netlist:
    ports = tuple(draw(st.lists(_odd_names, min_size=1, max_size=3, unique_by=str.lower)))
    cell = Subckt("cell", ports, (Device("R1", DeviceKind.RESISTOR, (("p", ports[0]), ("n", "0")), value=1.0),))
    devices = []
    for i, kind in enumerate(draw(st.lists(st.sampled_from(
            [DeviceKind.MOSFET, DeviceKind.BJT, DeviceKind.DIODE, DeviceKind.RESISTOR, DeviceKind.CAPACITOR,
             DeviceKind.VSOURCE, DeviceKind.SUBCKT]), max_size=6))):
        model, value, pins = None, None, ()
        if kind is DeviceKind.MOSFET:
            model, pins = draw(st.sampled_from(["nmos4", "pmos4", "nch"])), ("d", "g", "s", "b")
        elif kind is DeviceKind.BJT:
            model, pins = draw(st.sampled_from(["npn", "pnp"])), ("c", "b", "e")
        elif kind is DeviceKind.DIODE:
            model, pins = "diode", ("p", "n")
        elif kind is DeviceKind.SUBCKT:
            model, pins = "cell", ports
        else:
            value, pins = draw(st.none() | _floats | _exprs), ("p", "n")
        name = draw(_odd_names) + f"_{i}"
        devices.append(Device(name, kind, tuple((p, draw(_odd_names)) for p in pins), model, value, draw(_params)))
    return Netlist(devices=tuple(devices), subckts=(cell,), params=(Param("p1", draw(_floats)),),
                   globals=tuple(draw(st.lists(_odd_names, max_size=2, unique_by=str.lower))))


@settings(max_examples=60, deadline=None)
@given(_spectre_netlists())
def test_round_trip_property(netlist: Netlist) -> None:
    text = write_spectre(netlist)
    note(text)
    assert parse_spectre(text) == netlist


def test_spice_section_errors_keep_file_lines() -> None:
    text = "R0 (a b) resistor\nsimulator lang=spice\nR1 a b 1k\nQ1 a\nsimulator lang=spectre\nR2 (a b) resistor\n"
    with pytest.raises(NetlistParseError) as err:
        parse_spectre(text, path="s.scs")
    assert [(d.file, d.line) for d in err.value.diagnostics if d.severity == "error"] == [("s.scs", 4)]


def test_cadence_control_lines_are_statements() -> None:
    text = ("simulatorOptions options reltol=1e-3 vabstol=1e-6 temp=27 \\\n    gmin=1e-12\n"
            "modelParameter info what=models where=rawfile\nsaveOptions options save=allpub\n"
            "tran1 tran stop=1u errpreset=conservative\nnoise1 (out 0) noise start=1 stop=1G\n")
    n = parse_spectre(text)
    assert [s.keyword for s in n.statements] == ["options", "info", "options", "tran", "noise"]
    assert n.statements[0].text.endswith("temp=27 gmin=1e-12") and not n.devices
    assert parse_spectre(write_spectre(n)) == n
