"""Device-level building blocks: each pattern on a small deck of our own, the outer DAG, coverage."""

from __future__ import annotations

import tarfile
from collections import Counter
from pathlib import Path

import pytest

from ckt.graph.blocks import BLOCK_TYPES, PATTERNS, decompose_blocks
from ckt.graph.two_level import TwoLevelGraph, to_two_level_pyg
from ckt.netlist import Netlist, parse_spectre, parse_spice

OTA5 = """five-transistor OTA
M1 x inp tail 0 nmos
M2 out inn tail 0 nmos
M3 x x vdd vdd pmos
M4 out x vdd vdd pmos
M5 tail vb1 0 0 nmos
.end
"""

MILLER = """two-stage Miller op-amp
M1 x inp tail 0 nmos
M2 o1 inn tail 0 nmos
M3 x x vdd vdd pmos
M4 o1 x vdd vdd pmos
M5 tail nb 0 0 nmos
M8 nb nb 0 0 nmos
Rb vdd nb 100k
M6 out o1 vdd vdd pmos
M7 out nb 0 0 nmos
{comp}
.end
"""


def _blocks(g: TwoLevelGraph) -> set[tuple[str, frozenset[str]]]:
    return {(b.type, frozenset(b.devices)) for b in g.blocks}


def _decompose(text: str, **kw) -> tuple[Netlist, TwoLevelGraph]:
    netlist = parse_spice(text)
    return netlist, decompose_blocks(netlist, **kw)


def _check_partition(netlist: Netlist, g: TwoLevelGraph) -> None:
    """Every device in exactly one block; edges only forward, only over shared non-supply nets."""
    names = [d for b in g.blocks for d in b.devices]
    assert Counter(names) == Counter(d.name for d in netlist.devices)
    assert all(b.type in BLOCK_TYPES for b in g.blocks)
    for i, j in g.edges:
        assert i < j
        shared = set(g.blocks[i].nets) & set(g.blocks[j].nets) - {"0", "vdd"}
        assert shared


def test_five_transistor_ota_is_diff_pair_mirror_and_tail() -> None:
    netlist, g = _decompose(OTA5)
    assert _blocks(g) == {
        ("diff_pair", frozenset({"M1", "M2"})),
        ("current_mirror", frozenset({"M3", "M4"})),
        ("current_source", frozenset({"M5"})),
    }
    assert g.basis == "blocks" and g.uncovered == () and g.coverage() == 1.0
    _check_partition(netlist, g)
    kinds = [b.type for b in g.blocks]
    assert kinds[0] == "diff_pair"  # the inputs sit on it: it comes first
    pair, mirror = kinds.index("diff_pair"), kinds.index("current_mirror")
    assert (pair, mirror) in g.edges
    polarity = {b.type: dict(b.values)["polarity"] for b in g.blocks}
    assert polarity == {"diff_pair": 1.0, "current_mirror": -1.0, "current_source": 1.0}


def test_miller_opamp_with_nulling_resistor() -> None:
    netlist, g = _decompose(MILLER.format(comp="Rz o1 z 1k\nCc z out 1p\nCL out 0 2p"))
    found = _blocks(g)
    assert {
        ("diff_pair", frozenset({"M1", "M2"})),
        ("current_mirror", frozenset({"M3", "M4"})),
        ("cs_stage", frozenset({"M6", "CL"})),  # the load capacitor joins the stage, not its current source
        ("compensation_rc", frozenset({"Rz", "Cc"})),
        ("bias_branch", frozenset({"M8", "Rb"})),
        ("current_source", frozenset({"M5"})),
        ("current_source", frozenset({"M7"})),
    } <= found
    assert g.uncovered == () and g.coverage() == 1.0
    _check_partition(netlist, g)
    order = [b.type for b in g.blocks]
    assert order.index("diff_pair") < order.index("cs_stage")


def test_miller_capacitor_alone() -> None:
    netlist, g = _decompose(MILLER.format(comp="Cc o1 out 1p"))
    assert ("compensation_c", frozenset({"Cc"})) in _blocks(g)
    assert g.coverage() == 1.0
    _check_partition(netlist, g)


@pytest.mark.parametrize(
    ("deck", "members"),
    [
        ("M2 a c 0 0 nmos\nM1 c c 0 0 nmos\nM3 out a c 0 nmos", {"M1", "M2", "M3"}),
        ("M2 x c 0 0 nmos\nM1 c c 0 0 nmos\nM4 a a x 0 nmos\nM3 out a c 0 nmos", {"M1", "M2", "M3", "M4"}),
        ("M2 a c vdd vdd pmos\nM1 c c vdd vdd pmos\nM3 out a c vdd pmos", {"M1", "M2", "M3"}),
    ],
    ids=["nmos", "improved", "pmos"],
)
def test_wilson_mirror(deck: str, members: set[str]) -> None:
    netlist, g = _decompose(f"wilson\nIin vdd a 10u\n{deck}\n.end\n")
    assert _blocks(g) == {("wilson_mirror", frozenset(members)), ("current_source", frozenset({"Iin"}))}
    _check_partition(netlist, g)


@pytest.mark.parametrize(
    "deck",
    [
        "M1 b b 0 0 nmos\nM3 a a b 0 nmos\nM2 y b 0 0 nmos\nM4 out a y 0 nmos",
        # wide-swing: cascodes on a bias line, bottom gates on the input cascode's drain
        "M1 b a 0 0 nmos\nM3 a vcas b 0 nmos\nM2 y a 0 0 nmos\nM4 out vcas y 0 nmos",
    ],
    ids=["standard", "wide-swing"],
)
def test_cascode_mirror(deck: str) -> None:
    netlist, g = _decompose(f"cascode\nIin vdd a 10u\n{deck}\n.end\n")
    assert ("cascode_mirror", frozenset({"M1", "M2", "M3", "M4"})) in _blocks(g)
    _check_partition(netlist, g)


def test_a_plain_mirror_is_not_taken_for_a_cascode_or_wilson() -> None:
    _, g = _decompose("m\nIin vdd a 10u\nM1 a a 0 0 nmos\nM2 out a 0 0 nmos\n.end\n")
    assert ("current_mirror", frozenset({"M1", "M2"})) in _blocks(g)


def test_netlist_without_blocks() -> None:
    netlist, g = _decompose("passives\nR1 a b 1k\nL1 b 0 1u\nD1 a 0 dmod\nV1 a 0 1\nC1 a b 1p\n.end\n")
    assert g.coverage() == 0.0
    assert g.uncovered == ("R1", "L1", "D1", "V1", "C1")
    assert sorted(b.type for b in g.blocks) == [
        "device:capacitor", "device:diode", "device:inductor", "device:resistor", "device:vsource"]
    _check_partition(netlist, g)


def test_empty_netlist() -> None:
    g = decompose_blocks(Netlist())
    assert g.blocks == () and g.edges == () and g.coverage() == 1.0


def test_bjt_analogue_of_the_ota() -> None:
    netlist, g = _decompose(
        "bjt ota\nQ1 x inp e npn\nQ2 out inn e npn\nQ3 x x vcc pnp\nQ4 out x vcc pnp\nQ5 e vb 0 npn\n.end\n")
    assert _blocks(g) == {
        ("diff_pair", frozenset({"Q1", "Q2"})),
        ("current_mirror", frozenset({"Q3", "Q4"})),
        ("current_source", frozenset({"Q5"})),
    }


def test_output_stages_and_switches() -> None:
    netlist, g = _decompose(
        "outs\nM1 o1 in 0 0 nmos\nM2 o1 in vdd vdd pmos\n"
        "Mn o2 g1 0 0 nmos\nMp o2 g2 vdd vdd pmos\n"
        "M5 p clk1 q 0 nmos\nM6 p clk1b q vdd pmos\n"
        "Q1 vdd d1 e npn\nQ2 0 d2 e pnp\n"
        "M7 s phi1 t 0 nmos\n.end\n")
    assert _blocks(g) == {
        ("inverter", frozenset({"M1", "M2"})),
        ("push_pull", frozenset({"Mn", "Mp"})),
        ("push_pull", frozenset({"Q1", "Q2"})),
        ("transmission_gate", frozenset({"M5", "M6"})),
        ("switch", frozenset({"M7"})),
    }
    _check_partition(netlist, g)


def test_single_device_stages_and_cascode_pair() -> None:
    netlist, g = _decompose(
        "stages\nM1 a sig 0 0 nmos\nM2 b vb2 vin2 0 nmos\nM3 vdd a c 0 nmos\n"
        "M4 m sig2 0 0 nmos\nM5 o2 vb3 m 0 nmos\nR1 vdd a 1k\nR2 vdd b 1k\nR3 c 0 1k\nR4 vdd o2 1k\n"
        "Ra vdd fb 1k\nRb fb 0 1k\nM6 z fb 0 0 nmos\nR6 vdd z 1k\nM7 w vb7 t 0 nmos\nR7 t 0 1k\n.end\n")
    assert _blocks(g) == {
        ("cs_stage", frozenset({"M1", "R1"})),  # its drain load joins it
        ("cg_stage", frozenset({"M2", "R2"})),
        ("current_source", frozenset({"M7", "R7"})),  # degenerated
        ("source_follower", frozenset({"M3", "R3"})),
        ("cascode_pair", frozenset({"M4", "M5", "R4"})),
        ("resistor_divider", frozenset({"Ra", "Rb"})),
        ("cs_stage", frozenset({"M6", "R6"})),
    }
    assert g.coverage() == 1.0
    _check_partition(netlist, g)


def test_loads_and_degeneration_join_their_stage() -> None:
    netlist, g = _decompose(
        "loads\nM1 d1 inp s 0 nmos\nRs s 0 1k\nRd vdd d1 10k\nCd d1 0 1p\n"
        "Q1 c1 vin1 e1 npn\nQ2 c2 vin2 e1 npn\nRc1 vcc c1 1k\nRc2 vcc c2 1k\nRe e1 vee 2k\n"
        "Ce c2 c1 1p\nM9 n2 n1 vdd vdd pmos\nM8 n2 n1 0 0 nmos\nIt vdd n1 1u\n.end\n")
    assert _blocks(g) == {
        ("cs_stage", frozenset({"M1", "Rs", "Rd", "Cd"})),
        ("diff_pair", frozenset({"Q1", "Q2", "Rc1", "Rc2", "Re"})),
        ("compensation_c", frozenset({"Ce"})),
        ("inverter", frozenset({"M8", "M9"})),
        ("current_source", frozenset({"It"})),
    }
    _check_partition(netlist, g)


def test_a_node_two_stages_drive_keeps_its_capacitor_apart() -> None:
    _, g = _decompose("shared\nM1 o a 0 0 nmos\nM2 o b 0 0 nmos\nRa vdd a 1k\nRb vdd b 1k\nCo o 0 1p\n.end\n")
    assert g.uncovered == ("Ra", "Rb", "Co")


def test_lc_tank_and_inductive_load() -> None:
    netlist, g = _decompose(
        "rf\nM1 d vin1 0 0 nmos\nL1 vdd d 1n\nC1 vdd d 1p\nR1 vdd d 1k\n"
        "M2 d2 vin2 0 0 nmos\nL2 vdd d2 1n\nCc d d2 1p\n.end\n")
    assert _blocks(g) == {
        ("lc_tank", frozenset({"L1", "C1", "R1"})),
        ("cs_stage", frozenset({"M1"})),
        ("cs_stage", frozenset({"M2", "L2"})),  # an RF choke joins its stage
        ("compensation_c", frozenset({"Cc"})),
    }
    _check_partition(netlist, g)


def test_current_starved_inverter() -> None:
    _, g = _decompose(
        "starved\nMp top vbp vdd vdd pmos\nMn bot vbn 0 0 nmos\nM1 y x bot 0 nmos\nM2 y x top vdd pmos\n.end\n")
    found = _blocks(g)
    assert ("inverter", frozenset({"M1", "M2"})) in found
    assert ("current_source", frozenset({"Mp"})) in found and ("current_source", frozenset({"Mn"})) in found


def test_cross_coupled_pair_before_diff_pair() -> None:
    _, g = _decompose("latch\nM1 a b t 0 nmos\nM2 b a t 0 nmos\nM3 t clk 0 0 nmos\n.end\n")
    assert ("cross_coupled_pair", frozenset({"M1", "M2"})) in _blocks(g)


def test_structure_not_names_decides() -> None:
    """Renaming every device and net (keeping supply and input roles) gives the same blocks."""
    rename = {"M1": "XA", "M2": "XB", "M3": "XC", "M4": "XD", "M5": "XE"}
    nets = {"x": "n7", "out": "n8", "tail": "n9"}
    lines = []
    for line in OTA5.splitlines()[1:-1]:
        name, *rest = line.split()
        lines.append(" ".join([rename[name].replace("X", "M", 1), *(nets.get(t, t) for t in rest)]))
    _, g1 = _decompose(OTA5)
    _, g2 = _decompose("renamed\n" + "\n".join(lines) + "\n.end\n")
    back = {v.replace("X", "M", 1): k for k, v in rename.items()}
    assert _blocks(g1) == {(t, frozenset(back[d] for d in ds)) for t, ds in _blocks(g2)}


def test_deterministic() -> None:
    text = MILLER.format(comp="Rz o1 z 1k\nCc z out 1p")
    assert decompose_blocks(parse_spice(text)) == decompose_blocks(parse_spice(text))


def test_caller_named_supplies_and_inputs() -> None:
    deck = "rails\nM1 o a rail rail nmos\nRg x a 1k\nRl x o 1k\n.end\n"
    _, plain = _decompose(deck)
    assert plain.coverage() == 0.0
    _, named = _decompose(deck, supplies=["rail"])
    assert ("cs_stage", frozenset({"M1"})) in _blocks(named)
    chain = "chain\nM2 out a 0 0 nmos\nR2 vdd out 1k\nM1 a x 0 0 nmos\nR1 vdd a 1k\n.end\n"
    assert [b.devices for b in _decompose(chain)[1].blocks] == [("M2", "R2"), ("M1", "R1")]
    assert [b.devices for b in _decompose(chain, inputs=["x"])[1].blocks] == [("M1", "R1"), ("M2", "R2")]


def test_rails_without_telling_names() -> None:
    """A rail held by a voltage source, and an unnamed rail under several like sources."""
    _, g = _decompose("anon\nV1 n7 GND 1.8\nM3 x x n7 n7 pmos\nM4 o x n7 n7 pmos\n"
                      "M1 x u1 n1 n1 nmos\nM2 o u2 n1 n1 nmos\nM5 n1 u3 n9 n9 nmos\nM6 q u4 n9 n9 nmos\n"
                      "Rq n7 q 1k\n.end\n")
    found = _blocks(g)
    assert ("current_mirror", frozenset({"M3", "M4"})) in found  # n7 is a supply: V1 holds it
    assert ("diff_pair", frozenset({"M1", "M2"})) in found
    assert ("cs_stage", frozenset({"M6", "Rq"})) in found  # n9: the n-devices' rail


def test_bfs_orientation_runs_input_to_output() -> None:
    # input -> CS -> CS -> CS chain written output first: the blocks still come out input first
    netlist, g = _decompose(
        "chain\nM3 out b 0 0 nmos\nR3 vdd out 1k\nM2 b a 0 0 nmos\nR2 vdd b 1k\nM1 a vin 0 0 nmos\nR1 vdd a 1k\n.end\n")
    stages = [b.devices for b in g.blocks if b.type == "cs_stage"]
    assert stages == [("M1", "R1"), ("M2", "R2"), ("M3", "R3")]
    _check_partition(netlist, g)


def test_two_level_tensors() -> None:
    netlist, g = _decompose(MILLER.format(comp="Cc o1 out 1p"))
    data = to_two_level_pyg(netlist, g, BLOCK_TYPES)
    assert data.block_type.tolist() == [BLOCK_TYPES.index(b.type) for b in g.blocks]
    assert data.block_edge_index.size(1) == len(g.edges)
    assert set(PATTERNS) < set(BLOCK_TYPES) and len(set(BLOCK_TYPES)) == len(BLOCK_TYPES)


DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "analoggenie" / "analoggenie-dataset.tar.gz"


@pytest.mark.skipif(not DATA.exists(), reason="shared AnalogGenie data absent")
def test_analoggenie_folded_cascode() -> None:
    """AnalogGenie 1800, a folded-cascode op-amp with its bias network, splits into its textbook blocks."""
    with tarfile.open(DATA) as tar:
        member = tar.extractfile("Dataset/1800/1800.cir")
        assert member is not None
        netlist = parse_spectre(member.read().decode())
    g = decompose_blocks(netlist)
    kinds = Counter(b.type for b in g.blocks)
    assert kinds["diff_pair"] == 1 and kinds["cascode_mirror"] == 2
    assert ("diff_pair", frozenset({"MM3", "MM4"})) in _blocks(g)
    _check_partition(netlist, g)


def test_device_order_does_not_change_the_blocks() -> None:
    lines = MILLER.format(comp="Rz o1 z 1k\nCc z out 1p\nCL out 0 2p").splitlines()
    body = [ln for ln in lines[1:] if ln and ln != ".end"]
    _, g1 = _decompose("\n".join([lines[0], *body, ".end"]))
    _, g2 = _decompose("\n".join([lines[0], *reversed(body), ".end"]))
    assert _blocks(g1) == _blocks(g2)


def test_polarity_from_model_cards() -> None:
    deck = "cards\nM1 o i 0 0 mylow\nM2 o i vdd vdd myhigh\n.model mylow nmos\n.model myhigh pmos\n.end\n"
    _, g = _decompose(deck)
    assert _blocks(g) == {("inverter", frozenset({"M1", "M2"}))}
    _, unknown = _decompose(deck.replace(".model mylow nmos\n.model myhigh pmos\n", ""))
    assert "inverter" not in {b.type for b in unknown.blocks}  # no polarity known: no complementary pair


def test_subcircuit_instances_stay_single() -> None:
    netlist, g = _decompose(
        "hier\n.subckt amp a b\nR1 a b 1k\n.ends\nX1 p q amp\nM1 q vin1 0 0 nmos\nR2 vdd q 1k\n.end\n")
    assert ("device:subckt", frozenset({"X1"})) in _blocks(g)
    assert g.uncovered == ("X1", "R2")  # R2's node also feeds X1, so R2 is no load of M1 alone
    _check_partition(netlist, g)
