"""The SPICE reader: flavours, element shapes, includes, diagnostics with their lines, real PDK cards."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckt.errors import NetlistParseError
from ckt.netlist.ir import DeviceKind, Expr
from ckt.netlist.parse_spice import parse_spice, read_spice
from tests.conftest import TEST_DATA, shared

SPICE = TEST_DATA / "spice"


def parse_error(text: str, **kw) -> NetlistParseError:
    with pytest.raises(NetlistParseError) as info:
        parse_spice(text, **kw)
    return info.value


def errors(exc: NetlistParseError) -> list[tuple[int | None, str]]:
    return [(d.line, d.message) for d in exc.diagnostics if d.severity == "error"]


# ---------------------------------------------------------------- title, comments, continuation


def test_first_line_is_the_title():
    n = parse_spice("my circuit\nR1 a 0 1k\n")
    assert n.title == "my circuit"
    assert [d.name for d in n.devices] == ["R1"]


def test_title_line_that_looks_like_a_device_is_still_the_title():
    n = parse_spice("R9 is the title\nR1 a 0 1k\n")
    assert n.title == "R9 is the title" and [d.name for d in n.devices] == ["R1"]


def test_dot_or_comment_first_line_is_not_a_title():
    assert parse_spice(".title KiCad schematic\nR1 a 0 1k\n").title == "KiCad schematic"
    n = parse_spice("* just a comment\nR1 a 0 1k\n")
    assert n.title == "" and len(n.devices) == 1
    n = parse_spice(".model d1 d is=1e-14\n")
    assert n.models[0].name == "d1"


def test_comments_inline_and_continuations():
    text = (
        "t\n"
        "M1 d g s b nch ; ngspice/LTspice comment\n"
        "* full-line comment between continuations\n"
        "+ w=1u $ hspice comment\n"
        "\n"
        "+ l=2u // c++ style\n"
        "R1 a$b 0 1k\n"
    )
    n = parse_spice(text)
    m = n.device("M1")
    assert m.params == (("w", 1e-6), ("l", 2e-6))
    assert n.device("R1").nets == ("a$b", "0")  # '$' only starts a comment after whitespace
    assert m.loc.line == 2


def test_semicolon_inside_quotes_is_not_a_comment():
    n = parse_spice("t\nB1 a 0 V='1;2'\n")
    assert n.device("B1").spec == "V='1;2'"


def test_keywords_case_insensitive_nets_canonical_per_scope():
    text = (
        "t\n.PARAM W0=1U\n"
        "M1 Out IN gnd GND NCH W=W0 L=1u\n"
        "R1 OUT in 1K\n"
        ".SUBCKT buf A Y\nR1 a y 1\nR2 Y X 1\n.ENDS\n"
    )
    n = parse_spice(text)
    assert n.params[0].name == "w0" and n.params[0].value == 1e-6
    assert n.device("M1").nets == ("Out", "IN", "gnd", "gnd")
    assert n.device("R1").nets == ("Out", "IN")
    assert n.device("M1").model == "NCH"
    assert n.device("M1").params[0] == ("w", Expr("W0"))
    buf = n.subckt("BUF")
    assert buf.ports == ("A", "Y")
    assert buf.devices[0].nets == ("A", "Y") and buf.devices[1].nets == ("Y", "X")


def test_net_spelling_follows_file_order_across_deferred_devices():
    n = parse_spice("t\nX1 OUT in buf\nR1 out IN 1k\n.subckt buf a y\n.ends\n")
    assert n.device("R1").nets == ("OUT", "in")


def test_end_stops_reading():
    n = parse_spice("t\nR1 a 0 1\n.end\nthis is not a device at all (\n")
    assert len(n.devices) == 1


# ---------------------------------------------------------------- elements


def test_every_element_letter():
    text = """t
R1 a b 10k
C1 a b 1p ic=0
L1 a b 1n
K1 L1 L2 0.9
L2 c d 2n
V1 vdd 0 DC 1.8 AC 1 0
V2 in 0 SIN(0 1 1k)
V3 x 0 2.5
I1 a 0 PULSE(0 1m 0 1n 1n 5n 10n)
E1 o 0 a b 10
E2 o 0 POLY(2) a 0 b 0 0 1 1
E3 o 0 VALUE={V(a)*2}
G1 o 0 a b 1m
G2 o 0 TABLE {V(a)} = (0 0) (1 1m)
F1 o 0 V1 2
H1 o 0 V1 1k
B1 o 0 I=V(a)^2
S1 a b c d swm OFF
W1 a b V1 wm
T1 a 0 b 0 Z0=50 TD=1n
D1 a b dm 2
Q1 c b e qm
Q2 c b e s qm 3
J1 d g s jm
Z1 d g s zm
M1 d g s b nm w=1u l=1u
X1 a b sub
"""
    n = parse_spice(text)
    kinds = {d.name: d.kind for d in n.devices}
    assert kinds == {
        "R1": DeviceKind.RESISTOR, "C1": DeviceKind.CAPACITOR, "L1": DeviceKind.INDUCTOR,
        "K1": DeviceKind.MUTUAL, "L2": DeviceKind.INDUCTOR, "V1": DeviceKind.VSOURCE,
        "V2": DeviceKind.VSOURCE, "V3": DeviceKind.VSOURCE, "I1": DeviceKind.ISOURCE,
        "E1": DeviceKind.VCVS, "E2": DeviceKind.VCVS, "E3": DeviceKind.VCVS, "G1": DeviceKind.VCCS,
        "G2": DeviceKind.VCCS, "F1": DeviceKind.CCCS, "H1": DeviceKind.CCVS, "B1": DeviceKind.BEHAVIORAL,
        "S1": DeviceKind.SWITCH, "W1": DeviceKind.CSWITCH, "T1": DeviceKind.TLINE, "D1": DeviceKind.DIODE,
        "Q1": DeviceKind.BJT, "Q2": DeviceKind.BJT, "J1": DeviceKind.JFET, "Z1": DeviceKind.MESFET,
        "M1": DeviceKind.MOSFET, "X1": DeviceKind.SUBCKT,
    }
    d = n.device
    assert d("C1").value == 1e-12 and d("C1").params == (("ic", 0.0),)
    assert d("K1").spec == "L1 L2" and d("K1").value == 0.9 and d("K1").terminals == ()
    assert (d("V1").value, d("V1").spec) == (1.8, "AC 1 0")
    assert (d("V2").value, d("V2").spec) == (None, "SIN(0 1 1k)")
    assert d("V3").value == 2.5
    assert d("I1").spec == "PULSE(0 1m 0 1n 1n 5n 10n)"
    assert d("E1").terminals == (("p", "o"), ("n", "0"), ("cp", "a"), ("cn", "b")) and d("E1").value == 10
    assert d("E2").pins == ("p", "n") and d("E2").spec == "POLY(2) a 0 b 0 0 1 1"
    assert d("E3").spec == "VALUE={V(a)*2}"
    assert d("G2").spec == "TABLE {V(a)} = (0 0) (1 1m)"
    assert (d("F1").spec, d("F1").value) == ("V1", 2.0)
    assert (d("H1").spec, d("H1").value) == ("V1", 1e3)
    assert d("B1").spec == "I=V(a)^2"
    assert (d("S1").model, d("S1").spec) == ("swm", "OFF")
    assert (d("W1").spec, d("W1").model) == ("V1", "wm")
    assert d("T1").params == (("z0", 50.0), ("td", 1e-9))
    assert (d("D1").model, d("D1").value) == ("dm", 2.0)
    assert d("Q1").pins == ("c", "b", "e") and d("Q1").model == "qm"
    assert d("Q2").pins == ("c", "b", "e", "sub") and (d("Q2").model, d("Q2").value) == ("qm", 3.0)
    assert d("J1").pins == ("d", "g", "s")
    assert d("M1").pins == ("d", "g", "s", "b")


def test_bjt_substrate_vs_area_uses_known_models():
    # without a .model, "qm" after three nodes would look like a substrate net
    text = "t\n.model qm npn\nQ1 c b e qm 2\nQ2 c b e sub qm\n"
    n = parse_spice(text)
    assert n.device("Q1").pins == ("c", "b", "e") and n.device("Q1").value == 2.0
    assert n.device("Q2").pins == ("c", "b", "e", "sub")
    # a model defined after use is still known (two passes)
    n = parse_spice("t\nQ1 c b e sub qx\n.model qx pnp\n")
    assert n.device("Q1").model == "qx" and len(n.device("Q1").terminals) == 4


def test_resistor_value_forms():
    text = "t\n.param rv=2k\nR1 a b {rv*2}\nR2 a b 'rv/2'\nR3 a b rv\nR4 a b r=5k\nC5 a b c=1p\nR6 a b\nR7 a b 1k rpoly l=2u\n.model rpoly r\nR8 a b rpoly w=1u\n"
    n = parse_spice(text)
    d = n.device
    assert d("R1").value == Expr("rv*2")
    assert d("R2").value == Expr("rv/2")
    assert d("R3").value == Expr("rv")
    assert d("R4").value == 5e3 and d("R4").params == ()
    assert d("C5").value == 1e-12
    assert d("R6").value is None
    assert (d("R7").value, d("R7").model, d("R7").params) == (1e3, "rpoly", (("l", 2e-6),))
    assert (d("R8").value, d("R8").model) == (None, "rpoly")


def test_unknown_letter_keeps_pins_and_warns():
    n = parse_spice("t\nU1 a b c d k=1 extra\nR1 a 0 1\n")
    u = n.device("U1")
    assert u.kind is DeviceKind.UNKNOWN
    assert u.terminals == (("1", "a"), ("2", "b"), ("3", "c"), ("4", "d"))
    assert u.params == (("k", 1.0),) and u.spec == "extra"
    (w,) = n.warnings
    assert (w.line, w.code) == (2, "unknown-element") and "U1" in w.message


def test_params_expressions_and_references():
    n = parse_spice("t\n.param a=1 b={a*2} c='b+1' d=a e = 3k\nR1 x 0 {c}\n")
    assert [(p.name, p.value) for p in n.params] == [
        ("a", 1.0), ("b", Expr("a*2")), ("c", Expr("b+1")), ("d", Expr("a")), ("e", 3e3),
    ]


def test_model_cards_with_and_without_parens():
    text = "t\n.model n1 NMOS (LEVEL=1 vto=0.5\n+ kp = 100u)\n.model n2 nmos(level=54 toxe='4e-9*m')\n.model d1 D\n"
    n = parse_spice(text)
    m1, m2, m3 = n.models
    assert (m1.name, m1.type, m1.params) == ("n1", "nmos", (("level", 1.0), ("vto", 0.5), ("kp", 1e-4)))
    assert m2.params == (("level", 54.0), ("toxe", Expr("4e-9*m")))
    assert (m3.type, m3.params) == ("d", ())


def test_statements_verbatim_and_control_block():
    text = "t\nR1 a 0 1\n.tran 1n 10n ; comment\n.meas tran x avg v(a)\n.options reltol=1e-4\n.control\nrun ; keep\nplot v(a)\n.endc\n.temp 27\n.func f(x) {x*2}\n"
    n = parse_spice(text)
    assert [(s.keyword, s.text) for s in n.statements] == [
        ("tran", ".tran 1n 10n"),
        ("meas", ".meas tran x avg v(a)"),
        ("options", ".options reltol=1e-4"),
        ("control", ".control\nrun ; keep\nplot v(a)\n.endc"),
        ("temp", ".temp 27"),
        ("func", ".func f(x) {x*2}"),
    ]
    assert n.warnings == ()


def test_unknown_dot_command_is_kept_with_warning():
    n = parse_spice("t\nR1 a 0 1\n.frobnicate 1 2\n")
    assert n.statements[0].text == ".frobnicate 1 2"
    assert [(w.line, w.code) for w in n.warnings] == [(3, "unknown-dot")]


def test_global():
    n = parse_spice("t\n.global vdd! VSS\nR1 vdd! 0 1\n")
    assert n.globals == ("vdd!", "VSS")


# ---------------------------------------------------------------- subcircuits


def test_subckt_instances_bind_ports_defined_later_and_params():
    text = "t\nX1 in out amp params: gain={g*2}\n.subckt amp a b params: gain=1 rl='2k'\n.param inner=3\nR1 a b {gain}\n.ends amp\n"
    n = parse_spice(text)
    x = n.device("X1")
    assert x.terminals == (("a", "in"), ("b", "out")) and x.model == "amp"
    assert x.params == (("gain", Expr("g*2")),)
    amp = n.subckts[0]
    assert [(p.name, p.value) for p in amp.params] == [("gain", 1.0), ("rl", Expr("2k")), ("inner", 3.0)]


def test_nested_subckt():
    n = parse_spice("t\n.subckt outer a\n.subckt inner b\nR1 b 0 1\n.ends\nX1 a inner\n.ends\nX2 n outer\n")
    outer = n.subckts[0]
    assert outer.subckts[0].name == "inner"
    assert outer.devices[0].terminals == (("b", "a"),)
    assert [s.name for s in n.all_subckts()] == ["outer", "inner"]


def test_unknown_subckt_numbers_pins_with_info():
    n = parse_spice("t\nX1 a b c mystery w=1\n")
    x = n.device("X1")
    assert x.terminals == (("1", "a"), ("2", "b"), ("3", "c"))
    (d,) = n.diagnostics
    assert (d.severity, d.line, d.code) == ("info", 2, "subckt-unknown")


def test_pin_count_mismatch_is_an_error_with_line():
    exc = parse_error("t\n.subckt s a b\nR1 a b 1\n.ends\nR0 x 0 1\nX1 n1 s\n", path="deck.cir")
    assert errors(exc) == [(6, "X1: 1 nodes but subcircuit s has 2 ports")]
    assert exc.file == "deck.cir" and exc.line == 6


def test_duplicate_instance_names_are_renamed_and_warned():
    n = parse_spice("t\nMM13 a b c d n\nR1 a 0 1\nmm13 e f g h n\nMM13 i j k l n\n")
    assert [d.name for d in n.devices] == ["MM13", "R1", "mm13__2", "MM13__3"]
    assert [w.line for w in n.warnings] == [4, 5]
    assert "first at <string>:2" in n.warnings[0].message and "mm13__2" in n.warnings[0].message


# ---------------------------------------------------------------- diagnostics


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("t\nR1 a\n", 2, "R1: too few nodes (1 of 2)"),
        ("t\nM1 d g s nch\n", 2, "M1: missing model name"),
        ("t\nM1 d g\n", 2, "M1: too few nodes (2 of 4)"),
        ("t\nM1 d g s b\n", 2, "M1: missing model name"),
        ("t\nE1 a b c\n", 2, "E1: too few nodes (3 of 4)"),
        ("t\nR1 a b {x*2\n", 2, "unbalanced { (missing '}')"),
        ("t\nR1 a b (x*2\n", 2, "unbalanced ( (missing ')')"),
        ("t\nR1 a b 'x*2\n", 2, "unbalanced quote ' at column 8"),
        ("t\nR1 a b x)\n", 2, "unbalanced ')' or '}'"),
        ("t\nR1 a b 1\n.ends\n", 3, ".ends without .subckt"),
        ("t\n.subckt s a\nR1 a 0 1\n", 2, "missing .ends for .subckt s"),
        ("t\n.param x\n", 2, ".param expects name=value, got 'x'"),
        ("t\nR1 a 0 1\n.control\nrun\n", 3, ".control without .endc"),
        ("t\nM1 d g s b n w=\n", 2, "parameter 'w' has no value"),
        ("t\n.model m1\n", 2, ".model m1 without a type"),
        ("t\nw=1u a b\n", 2, "not an element line (name 'w=1u')"),
        ("t\n1R a b 1\n", 2, "not an element line (name '1R')"),
    ],
)
def test_malformed_lines_raise_with_line(text, line, message):
    assert errors(parse_error(text)) == [(line, message)]


def test_subckt_header_problems_keep_the_block():
    exc = parse_error("t\n.subckt s a b a\nR1 a b 1\n.ends\n.subckt u x k=1 y\nR1 x 0 1\n.ends\n")
    assert errors(exc) == [(2, "duplicate port in .subckt s"), (5, "port 'y' after parameters in .subckt u")]


def test_ends_with_other_name_warns():
    n = parse_spice("t\n.subckt s a\nR1 a 0 1\n.ends q\nX1 n s\n")
    assert [(w.line, w.code) for w in n.warnings] == [(4, "ends-name")]


def test_lib_section_markers_unbalanced():
    assert errors(parse_error("t\nR1 a 0 1\n.endl\n")) == [(3, ".endl without .lib section")]
    assert errors(parse_error("t\n.lib tt\nR1 a 0 1\n")) == [(2, "missing .endl for .lib section tt")]  # the opening line


def test_all_errors_are_collected():
    exc = parse_error("t\nR1 a\nC1 b\nR2 a 0 1\nL1 c\n")
    assert [line for line, _ in errors(exc)] == [2, 3, 5]


def test_empty_netlist_is_an_error():
    assert errors(parse_error("title only\n* and a comment\n")) == [(None, "empty netlist (no devices, definitions or statements)")]
    assert errors(parse_error("")) == [(None, "empty netlist (no devices, definitions or statements)")]


def test_binary_garbage(tmp_path: Path):
    p = tmp_path / "junk.cir"
    p.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(NetlistParseError, match="not a text netlist") as info:
        read_spice(p)
    assert info.value.file == str(p)
    with pytest.raises(NetlistParseError, match="not a text netlist"):
        parse_spice("t\x00\nR1 a 0 1\n")


def test_missing_file(tmp_path: Path):
    with pytest.raises(NetlistParseError, match="cannot read netlist"):
        read_spice(tmp_path / "nope.cir")


# ---------------------------------------------------------------- encodings


def test_latin1_bytes_decode_with_warning(tmp_path: Path):
    p = tmp_path / "l1.cir"
    p.write_bytes("Résistance\nR1 a 0 1k\n".encode("latin-1"))
    n = read_spice(p)
    assert n.title == "Résistance"
    (w,) = n.warnings
    assert (w.code, w.line, w.file) == ("encoding", 1, str(p))


def test_latin1_control_bytes_do_not_shift_line_numbers(tmp_path: Path):
    p = tmp_path / "l2.cir"
    p.write_bytes(b"t\n* odd \x85 byte\nR1 a\n")
    with pytest.raises(NetlistParseError) as info:
        read_spice(p)
    assert errors(info.value) == [(3, "R1: too few nodes (1 of 2)")]


def test_garbage_collector_state_is_restored():
    assert gc.isenabled()
    parse_spice("t\nR1 a 0 1\n")
    assert gc.isenabled()
    with pytest.raises(NetlistParseError):
        parse_spice("t\nR1 a\n")
    assert gc.isenabled()


def test_utf8_with_bom_and_micro_sign(tmp_path: Path):
    p = tmp_path / "u.cir"
    p.write_bytes("\ufeffµ title\nC1 a 0 4.7µ\r\nR1 a 0 1k\r\n".encode("utf-8"))
    n = read_spice(p)
    assert n.title == "µ title" and n.device("C1").value == 4.7e-6 and n.warnings == ()


# ---------------------------------------------------------------- includes and .lib


def test_include_relative_to_including_file():
    n = read_spice(SPICE / "ngspice_amp.cir")
    inc = n.includes[0]
    assert inc.path == "lib/amp_models.inc" and inc.netlist is not None
    assert {m.name for m in n.all_models()} == {"nch", "pch"}
    pch = next(m for m in n.all_models() if m.name == "pch")
    assert pch.params == (("level", 1.0), ("vto", -0.45), ("kp", 40e-6))
    assert n.device("Xamp").terminals == (("inp", "in"), ("out", "OUT"), ("vdd", "VDD"), ("vss", "0"))
    assert [s.keyword for s in n.statements] == ["ac", "control"]


def test_lib_section_is_picked():
    n = read_spice(SPICE / "hspice_flavor.sp")
    inc = n.includes[0]
    assert (inc.path, inc.section) == ("lib/corners.lib", "tt")
    models = {m.name: m for m in n.all_models()}
    assert models["nch"].params == (("level", 1.0), ("vto", 0.45))
    assert n.device("Q2").pins == ("c", "b", "e", "sub")
    inv = n.subckt("inv")
    assert [(p.name, p.value) for p in inv.params] == [("wn", 1e-6), ("wp", Expr("2*wn"))]
    assert inv.devices[0].params == (("w", Expr("wn")), ("l", Expr("lmin")))


def test_missing_lib_section(tmp_path: Path):
    (tmp_path / "c.lib").write_text(".lib tt\n.model n nmos\n.endl\n")
    deck = tmp_path / "d.cir"
    deck.write_text("t\n.lib c.lib ss\nR1 a 0 1\n")
    with pytest.raises(NetlistParseError) as info:
        read_spice(deck)
    assert errors(info.value) == [(2, "section ss not found in c.lib")]
    assert info.value.file == str(deck)


def test_include_cycle_reports_the_chain():
    with pytest.raises(NetlistParseError) as info:
        read_spice(SPICE / "bad" / "cycle_a.cir")
    (d,) = info.value.diagnostics
    assert d.message == "include cycle: cycle_a.cir -> cycle_b.inc -> cycle_c.inc -> cycle_a.cir"
    assert (Path(d.file).name, d.line) == ("cycle_c.inc", 1)


def test_missing_include_names_file_and_line(tmp_path: Path):
    deck = tmp_path / "d.cir"
    deck.write_text("t\nR1 a 0 1\n.include 'models/none.inc'\n")
    n = read_spice(deck)  # a warning: the devices that are there are still read
    (d,) = n.diagnostics
    assert (d.severity, d.file, d.line, d.code) == ("warning", str(deck), 3, "include-missing")
    assert d.message.startswith("included file not found: models/none.inc")
    assert [dev.name for dev in n.devices] == ["R1"] and n.includes[0].netlist is None


def test_includes_not_followed_without_path_or_when_disabled():
    text = '.include "lib/amp_models.inc"\nR1 a 0 1\n'
    n = parse_spice(text)
    assert n.includes[0].netlist is None and n.diagnostics == ()
    n = parse_spice(text, path=SPICE / "x.cir", follow_includes=False)
    assert n.includes[0].netlist is None
    n = parse_spice(text, path=SPICE / "x.cir")
    assert n.includes[0].netlist is not None


def test_errors_inside_an_include_name_the_included_file(tmp_path: Path):
    (tmp_path / "bad.inc").write_text("R1 a\n")
    deck = tmp_path / "d.cir"
    deck.write_text("t\n.inc bad.inc\nR1 a 0 1\n")
    with pytest.raises(NetlistParseError) as info:
        read_spice(deck)
    (d,) = info.value.diagnostics
    assert (Path(d.file).name, d.line, d.message) == ("bad.inc", 1, "R1: too few nodes (1 of 2)")


def test_subckt_from_include_binds_ports(tmp_path: Path):
    (tmp_path / "cells.inc").write_text(".subckt inv i o vdd\nM1 o i 0 0 n\nM2 o i vdd vdd p\n.ends\n")
    deck = tmp_path / "d.cir"
    deck.write_text("t\nX1 a b vdd inv\n.include cells.inc\n")
    n = read_spice(deck)
    assert n.device("X1").pins == ("i", "o", "vdd")


# ---------------------------------------------------------------- flavour fixtures and real model cards


def test_ltspice_fixture():
    n = read_spice(SPICE / "ltspice_flavor.cir")
    assert n.title == ""
    assert n.device("C1").params == (("rser", 10e-3),)
    assert n.device("C1").nets == ("N002", "0")  # n002 takes the first-seen spelling
    assert [m.type for m in n.models] == ["d", "sw"]
    assert [w.message for w in n.warnings] == ["unknown dot-command .backanno kept verbatim"]


def test_kicad_fixture():
    n = read_spice(SPICE / "kicad_flavor.cir")
    assert n.title == "KiCad schematic"
    assert n.device("M1").nets == ("/out", "/in", "GND", "GND")


PDK_FILES = [
    "ptm/ptm180nm_bsim3.pm", "ptm/ptm90nm_bulk.pm", "ptm/ptm22nm_hp_vtr.pm", "ptm/ptm22nm_hkmg_TDC.pm",
    "ptm/ptm130nm_bulk.pm", "ptm/ptm65nm_bulk.pm", "ptm/ptm32nm_hkmg_TDC.pm", "ptm/ptm45nm_hkmg_TDC.pm",
    "ptm/ptm45nm_hp_vtr.pm", "ptm/ptm45nm_bulk_autockt.txt", "ptm/ptm32nm_bulk.pm",
    "sky130_min_tt/sky130_min_tt.lib.spice", "gf180/design.ngspice",
]


@pytest.mark.parametrize("rel", PDK_FILES)
def test_pdk_model_files_read_without_errors(rel):
    n = read_spice(shared("pdk", rel))
    assert all(d.severity != "error" for d in n.diagnostics)
    assert list(n.all_models()) or n.params


def test_every_pdk_file_reads():
    root = shared("pdk")
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    for p in files:
        read_spice(p)


def test_sky130_subset_structure():
    n = read_spice(shared("pdk", "sky130_min_tt", "sky130_min_tt.lib.spice"))
    assert len(n.includes) == 5 and all(i.netlist is not None for i in n.includes)
    nfet = n.subckt("sky130_fd_pr__nfet_01v8")
    assert nfet.ports == ("d", "g", "s", "b")
    assert {"l", "w", "nf", "mult"} <= {p.name for p in nfet.params}
    assert nfet.devices[0].kind is DeviceKind.MOSFET
    assert any(m.name.startswith("sky130_fd_pr__nfet_01v8__model.") and m.type == "nmos" for m in n.all_models())


def test_gf180_library_sections():
    lib = shared("pdk", "gf180", "sm141064.ngspice")
    deck = f't\n.lib "{lib}" typical\nR1 a 0 1\n'
    n = parse_spice(deck)
    inc = n.includes[0]
    assert inc.section == "typical" and inc.netlist is not None
    assert [i.section for i in inc.netlist.includes][:2] == ["nmos_3p3_t", "pmos_3p3_t"]
    assert any(m.type == "nmos" for m in n.all_models())


# ---------------------------------------------------------------- robustness

_FRAGMENTS = [
    "R1", "M2", "X3", "Q4", "E5", "F6", "K7", "U8", "V9", "B1", "S2", "W3", "T4", "D5", "J6", "Z7", "C8", "L9",
    "a", "b", "0", "gnd", "1k", "2u", "w=1u", "l =", "= 3", "{x*2", "}", "(", ")", "'q", '"', "params:",
    "POLY(2)", "VALUE={v(a)}", "DC", "AC", "SIN(0 1 1k)", ".subckt", ".ends", ".model", "nmos", ".param",
    ".include", ".lib", ".endl", ".control", ".endc", ".end", ".global", ".title", "+", "*", ";", "$", "//",
    ".tran", ".meas", ".func", "µ", "\t", "",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_FRAGMENTS), max_size=8).map(" ".join), max_size=12))
def test_any_text_parses_or_raises_netlist_parse_error(lines):
    text = "\n".join(lines)
    try:
        n = parse_spice(text)
    except NetlistParseError as exc:
        assert exc.diagnostics and all(d.message for d in exc.diagnostics)
    else:
        assert isinstance(n.devices, tuple)
