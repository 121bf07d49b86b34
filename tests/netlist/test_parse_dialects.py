"""The SPICE reader on dialect forms ngspice accepts: case folding of names, other tools' ``#``
directives, and the elements whose shape is not "fixed nodes then model" (VDMOS, XSPICE ``A``,
OSDI ``N``, lossy/coupled/RC lines ``O P U Y``). Where a test runs ngspice it checks that ngspice
reads our reading of the deck, or our rewrite of it, the same way as the original."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ckt.errors import NetlistParseError
from ckt.graph.bipartite import to_bipartite_nx
from ckt.graph.features import EDGE_TYPES
from ckt.graph.pins import to_pins_nx
from ckt.netlist.ir import DeviceKind, Statement
from ckt.netlist.parse_spice import parse_spice
from ckt.netlist.write import write_spice
from tests.conftest import requires_ngspice


def _ngspice_print(deck: str, tmp_path: Path, name: str) -> list[str]:
    """The numeric lines ngspice prints for ``deck`` (which has its own ``.control`` block)."""
    path = tmp_path / name
    path.write_text(deck)
    out = subprocess.run([shutil.which("ngspice"), "-b", str(path)], check=False, capture_output=True, text=True,
                         timeout=60)
    text = out.stdout + out.stderr
    assert "error" not in text.lower(), text  # batch mode exits 1 for a .control-only deck
    rows = [line for line in out.stdout.splitlines() if line[:1].isdigit() or " = " in line]
    assert rows, text
    return rows


# ---------------------------------------------------------------- case


def test_nets_differing_in_case_are_one_net_and_warned_once_per_spelling():
    n = parse_spice("t\nR1 Out in 1k\nR2 OUT 0 2k\nR3 out OUT 3k\nR4 OUT 0 4k\nC1 IN 0 1p\n")
    assert [d.nets for d in n.devices] == [("Out", "in"), ("Out", "0"), ("Out", "Out"), ("Out", "0"), ("in", "0")]
    assert n.nets == ("Out", "in", "0")
    warned = [(w.line, w.code, w.message) for w in n.warnings]
    assert [(line, code) for line, code, _ in warned] == [(3, "net-case"), (4, "net-case"), (6, "net-case")]
    assert "'OUT' is net 'Out'" in warned[0][2] and "'out' is net 'Out'" in warned[1][2]


def test_case_merge_warnings_carry_file_and_line_for_deferred_devices_and_ports(tmp_path: Path):
    n = parse_spice("t\n.subckt buf A Y\nR1 a y 1\n.ends\nX1 n1 N1 buf\nQ1 c B e qn\nR2 b 0 1\n",
                    path=tmp_path / "deck.cir")
    assert n.subckt("buf").devices[0].nets == ("A", "Y")
    assert n.device("X1").nets == ("n1", "n1") and n.device("R2").nets == ("B", "0")
    assert [(w.file, w.line) for w in n.warnings] == [(str(tmp_path / "deck.cir"), 3)] * 2 + [
        (str(tmp_path / "deck.cir"), 5), (str(tmp_path / "deck.cir"), 7)]


def test_device_names_differing_in_case_are_duplicates():
    n = parse_spice("t\nR1 a 0 1\nr1 b 0 2\n")
    assert [d.name for d in n.devices] == ["R1", "r1__2"]
    assert [w.code for w in n.warnings] == ["duplicate-name"]


def test_subckt_redefinition_keeps_the_first_as_ngspice_does():
    n = parse_spice("t\nX1 a 0 FOO\n.subckt foo p n\nR1 p n 1k\n.ends\n.subckt FOO p n q\nR1 p n 2k\n.ends FOO\n")
    assert [s.name for s in n.subckts] == ["foo"]
    assert n.subckt("FOO").devices[0].value == 1e3
    assert n.device("X1").terminals == (("p", "a"), ("n", "0"))
    (w,) = n.warnings
    assert (w.line, w.code) == (6, "subckt-redefined") and "line 3" in w.message


def test_nested_subckt_of_the_same_name_is_local_not_a_redefinition():
    n = parse_spice("t\n.subckt cell a\n.subckt cell b\nR1 b 0 1\n.ends\nR1 a 0 1\n.ends\n")
    assert [s.name for s in n.all_subckts()] == ["cell", "cell"] and not n.warnings


def test_model_redefinition_keeps_the_first_card():
    n = parse_spice("t\nD1 a 0 DM\n.model dm d is=1e-14\n.model DM d is=1e-10\n")
    assert [(m.name, m.params) for m in n.models] == [("dm", (("is", 1e-14),))]
    (w,) = n.warnings
    assert (w.line, w.code) == (4, "model-redefined")


def test_corner_sections_of_a_library_read_whole_may_repeat_names():
    text = ("* lib\n.lib tt\n.model nch nmos vth0=0.4\n.subckt cell a\nR1 a 0 1\n.ends\n.endl tt\n"
            ".lib ff\n.model NCH nmos vth0=0.3\n.model nch nmos vth0=0.2\n.subckt cell a\nR1 a 0 2\n.ends\n.endl ff\n")
    n = parse_spice(text)
    assert [m.params for m in n.models] == [(("vth0", 0.4),), (("vth0", 0.3),)]
    assert [s.devices[0].value for s in n.subckts] == [1.0, 2.0]
    assert [(w.line, w.code) for w in n.warnings] == [(10, "model-redefined")]


@requires_ngspice
@pytest.mark.ngspice
def test_case_folding_agrees_with_ngspice(tmp_path: Path):
    """ngspice: ``A``/``a`` are one node, the first ``.subckt`` and ``.model`` of a name win."""
    deck = ("case\nV1 A 0 1\nX1 a 0 FOO\nD1 a 0 DM\n.subckt foo p n\nR1 p n 1k\n.ends\n"
            ".subckt FOO p n\nR1 p n 2k\n.ends\n.model dm d is=1e-14\n.model DM d is=1e-10\n"
            ".control\nop\nprint i(v1)\n.endc\n.end\n")
    n = parse_spice(deck)
    assert n.nets == ("A", "0")
    ours = _ngspice_print(write_spice(n), tmp_path, "ours.cir")
    assert ours == _ngspice_print(deck, tmp_path, "orig.cir")


# ---------------------------------------------------------------- other tools' '#' directives


def test_topspice_directives_are_kept_verbatim_and_warned_once_per_word():
    text = "t\n#REVISION: 3\nR1 a 0 1k\n#AUTOPLOT V(a)\n#TABULATE V(a) I(R1)\n#TABULATE 'it''s' (\n.op\n"
    n = parse_spice(text)
    assert [(s.keyword, s.text) for s in n.statements] == [
        ("#revision", "#REVISION: 3"), ("#autoplot", "#AUTOPLOT V(a)"), ("#tabulate", "#TABULATE V(a) I(R1)"),
        ("#tabulate", "#TABULATE 'it''s' ("), ("op", ".op")]
    assert [(w.line, w.code) for w in n.warnings] == [(2, "tool-directive"), (4, "tool-directive"),
                                                       (5, "tool-directive")]
    back = parse_spice(write_spice(n))
    assert back == n and "#AUTOPLOT V(a)" in write_spice(n).splitlines()


def test_simulation_decks_leave_other_tools_directives_out():
    from ckt.sim.deck import PreparedNetlist

    n = parse_spice("t\n#AUTOPLOT V(a)\nR1 a 0 1k\nI1 0 a 1m\n.op\n")
    deck = PreparedNetlist(n, ()).deck()
    assert "#AUTOPLOT" not in deck and ".op" in deck
    assert n.statements[0] == Statement("#autoplot", "#AUTOPLOT V(a)")


# ---------------------------------------------------------------- VDMOS


def test_vdmos_three_nodes_thermal_and_flags():
    text = ("t\nM1 d g s vdm\nM2 d g s vdm m=2\nM3 D G 0 tj tc vdm thermal\nM4 d g s vdm off\n"
            "M5 d g s tj tc vdm m=1 thermal\nM6 d g s b nch w=1u\n.model vdm vdmos nchan\n")
    n = parse_spice(text)
    d = {dev.name: dev for dev in n.devices}
    assert d["M1"].terminals == (("d", "d"), ("g", "g"), ("s", "s")) and d["M1"].model == "vdm"
    assert d["M2"].params == (("m", 2.0),) and d["M2"].pins == ("d", "g", "s")
    assert d["M3"].terminals == (("d", "d"), ("g", "g"), ("s", "0"), ("tj", "tj"), ("tc", "tc"))
    assert (d["M3"].model, d["M3"].spec) == ("vdm", "thermal")
    assert (d["M4"].pins, d["M4"].model, d["M4"].spec) == (("d", "g", "s"), "vdm", "off")
    assert (d["M5"].nets, d["M5"].model, d["M5"].spec) == (("d", "g", "s", "tj", "tc"), "vdm", "thermal")
    assert d["M6"].pins == ("d", "g", "s", "b") and d["M6"].model == "nch"
    assert parse_spice(write_spice(n)) == n
    g = to_bipartite_nx(n)
    m1 = next(i for i, a in g.nodes(data=True) if a.get("name") == "M1" and a["type"] == "device")
    assert sorted(EDGE_TYPES[g.edges[m1, nb]["etype"]] for nb in g[m1]) == ["mosfet:d", "mosfet:g", "mosfet:s"]


@requires_ngspice
@pytest.mark.ngspice
def test_vdmos_rewrite_simulates_like_the_original(tmp_path: Path):
    deck = ("vdmos\nM1 d g 0 vdm\nM2 d g 0 tj tc vdm thermal\nRth tc 0 0.1\nVG g 0 5\nVD d 0 2\n"
            ".model vdm vdmos kp=1 vto=1 rthjc=0.1 cthj=1e-3\n.control\nop\nprint i(vd) v(tj)\n.endc\n.end\n")
    assert _ngspice_print(write_spice(parse_spice(deck)), tmp_path, "ours.cir") == \
        _ngspice_print(deck, tmp_path, "orig.cir")


# ---------------------------------------------------------------- XSPICE A, OSDI N, O P U Y

_DIGITAL = """digital xspice
V1 a 0 1
V2 b 0 0
V3 c 0 PULSE(0 1 1u 1n 1n 2u 4u)
abr [a b c] [da db clk] adc1
a1 [da ~db] dy and1
a2 da clk null null q null dff1
adac [dy q] [ y qy ] dac1
a3 %vd(a b) %v y3 gain1
a4 %vd (a b) %i y4 gain1
R1 y 0 1k
R2 qy 0 1k
R3 y3 0 1k
R4 y4 0 1k
.model adc1 adc_bridge in_low=0.3 in_high=0.7
.model dac1 dac_bridge out_low=0 out_high=1
.model and1 d_and
.model dff1 d_dff
.model gain1 gain gain=3
.control
tran 1u 10u
print v(y) v(qy) v(y3) v(y4)
.endc
.end
"""


def test_xspice_ports_read_into_nets_and_model():
    n = parse_spice(_DIGITAL)
    d = {dev.name: dev for dev in n.devices}
    assert (d["abr"].nets, d["abr"].model) == (("a", "b", "c", "da", "db", "clk"), "adc1")
    assert d["abr"].pins == ("1", "2", "3", "4", "5", "6")
    assert (d["a1"].nets, d["a1"].spec) == (("da", "db", "dy"), "[ * ~* ] *")
    assert (d["a2"].nets, d["a2"].model, d["a2"].spec) == (("da", "clk", "q"), "dff1", "* * null null * null")
    assert (d["a3"].nets, d["a3"].spec) == (("a", "b", "y3"), "%vd ( * * ) %v *")
    assert d["a4"].nets == ("a", "b", "y4") and d["a4"].kind is DeviceKind.UNKNOWN
    assert not n.warnings
    assert parse_spice(write_spice(n)) == n
    assert "a2 da clk null null q null dff1" in write_spice(n).splitlines()
    g = to_pins_nx(n)
    nets = {a["name"] for _, a in g.nodes(data=True) if a["type"] == "net"}
    assert {"dff1", "adc1", "null", "[a"}.isdisjoint(nets) and {"da", "db", "clk", "q"} <= nets


def test_xspice_plain_ports_need_no_template_and_vnam_keeps_its_source():
    n = parse_spice("t\nA1 in out filt\nA2 %vnam vsense %v out meter\n")
    assert (n.device("A1").nets, n.device("A1").spec, n.device("A1").model) == (("in", "out"), "", "filt")
    assert (n.device("A2").nets, n.device("A2").spec) == (("out",), "%vnam vsense %v *")
    assert parse_spice(write_spice(n)) == n


@requires_ngspice
@pytest.mark.ngspice
def test_xspice_rewrite_simulates_like_the_original(tmp_path: Path):
    assert _ngspice_print(write_spice(parse_spice(_DIGITAL)), tmp_path, "ours.cir") == \
        _ngspice_print(_DIGITAL, tmp_path, "orig.cir")


def test_osdi_and_line_elements_take_the_last_positional_token_as_model():
    text = ("t\nN1 d g s b bsimcmg l=30n nfin=2\nO1 a 0 b 0 ltra1\nU1 a b 0 urc1 l=1m n=6\n"
            "Y1 a 0 b 0 txl1 len=1\nP1 a1 a2 0 b1 b2 0 cpl1 len=2\n")
    n = parse_spice(text)
    d = {dev.name: dev for dev in n.devices}
    assert (d["N1"].nets, d["N1"].model, d["N1"].params) == (("d", "g", "s", "b"), "bsimcmg",
                                                            (("l", 30e-9), ("nfin", 2.0)))
    assert (d["O1"].nets, d["O1"].model) == (("a", "0", "b", "0"), "ltra1")
    assert (d["U1"].nets, d["U1"].model, d["U1"].params) == (("a", "b", "0"), "urc1", (("l", 1e-3), ("n", 6.0)))
    assert (d["Y1"].nets, d["Y1"].model) == (("a", "0", "b", "0"), "txl1")
    assert (d["P1"].nets, d["P1"].model) == (("a1", "a2", "0", "b1", "b2", "0"), "cpl1")
    assert all(dev.kind is DeviceKind.UNKNOWN for dev in n.devices) and not n.warnings
    assert "ltra1" not in n.nets and "urc1" not in n.nets
    assert parse_spice(write_spice(n)) == n


def test_line_elements_with_the_wrong_node_count_are_warned():
    n = parse_spice("t\nU1 a b urc1\nO1 a b c d e ltra1\nP1 a b 0 cpl1\n")
    assert [(w.line, w.code) for w in n.warnings] == [(2, "node-count"), (3, "node-count"), (4, "node-count")]
    with pytest.raises(NetlistParseError, match="U2: needs nodes and a model name"):
        parse_spice("t\nU2 a\n")


@requires_ngspice
@pytest.mark.ngspice
def test_line_elements_rewrite_simulates_like_the_original(tmp_path: Path):
    deck = ("lines\nV1 in 0 PULSE(0 1 0 1n 1n 5n 10n)\nR0 in a 50\nO1 a 0 b 0 ltra1\nR1 b 0 50\n"
            "U1 a c 0 urc1 l=1m\nR2 c 0 1k\nY1 a 0 d 0 txl1\nR3 d 0 50\n"
            ".model ltra1 ltra r=0.1 l=1e-7 c=1e-10 len=1\n.model urc1 urc rperl=1k cperl=1p\n"
            ".model txl1 txl r=0.1 l=1e-7 c=1e-10 g=0 length=1\n"
            ".control\ntran 0.5n 20n\nprint v(b) v(c) v(d)\n.endc\n.end\n")
    assert _ngspice_print(write_spice(parse_spice(deck)), tmp_path, "ours.cir") == \
        _ngspice_print(deck, tmp_path, "orig.cir")
