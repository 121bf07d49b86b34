"""``decompose_ocb``: OCB behavioural op-amp netlists back into typed blocks from structure alone
(the generator's circuits, renamed, shuffled, re-oriented, written out and read back, and decks
written by hand), and a clear refusal, naming the devices, for anything outside the family."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from ckt.data.ocb_gen import generate
from ckt.errors import NotDecomposableError
from ckt.graph.ocb_basis import OCB_BLOCK_TYPES, SHAPES, OcbPart, decompose_ocb, part_devices
from ckt.graph.two_level import TwoLevelGraph, to_two_level_pyg
from ckt.netlist.ir import Device, DeviceKind, Netlist
from ckt.netlist.parse_spice import parse_spice
from ckt.netlist.read import read_netlist
from ckt.netlist.write import write_spice

EXAMPLE = Path(__file__).resolve().parents[2] / "netlists" / "ocb_two_stage.cir"
SIGNAL = {"in", "out", "n1", "n2"}


def signature(g: TwoLevelGraph) -> tuple[Counter, Counter]:
    """Blocks as (type, values) and edges between such blocks, as multisets: what a decomposition
    says, without device or net names and without the order of blocks."""
    keys = [(b.type, tuple((k, f"{v:.9e}") for k, v in b.values)) for b in g.blocks]
    return Counter(keys), Counter((keys[i], keys[j]) for i, j in g.edges)


def electrical(netlist: Netlist) -> Counter:
    """The circuit as a multiset of elements on signal nets (a series R-C's private net abstracted),
    so two netlists compare equal exactly when they are the same circuit."""
    out: Counter = Counter()
    private: dict[str, list[Device]] = {}
    for d in netlist.devices:
        nets = d.nets
        if d.kind is DeviceKind.VCCS:
            out[("G", nets[2], nets[0], f"{d.value:.9e}")] += 1
        elif "0" in nets:
            out[(d.kind.value, "load", next(n for n in nets if n != "0"), f"{d.value:.9e}")] += 1
        elif set(nets) <= SIGNAL:
            out[(d.kind.value, frozenset(nets), f"{d.value:.9e}")] += 1
        else:
            mid = next(n for n in nets if n not in SIGNAL)
            private.setdefault(mid, []).append(d)
    for pair in private.values():
        r, c = sorted(pair, key=lambda d: d.kind.value, reverse=True)
        ends = frozenset(n for d in pair for n in d.nets if n in SIGNAL)
        out[("R-C", ends, f"{r.value:.9e}", f"{c.value:.9e}")] += 1
    return out


def rebuild(g: TwoLevelGraph) -> Netlist:
    """A netlist made from the decomposition's blocks alone (types, nets, values)."""
    devices = []
    for i, b in enumerate(g.blocks):
        if b.type not in ("In", "Out"):
            devices += part_devices(OcbPart(b.type, b.nets[0], b.nets[1], b.values), f"x{i}")
    return Netlist(devices=tuple(devices))


def shared_span(parts: tuple[OcbPart, ...]) -> bool:
    """Two blocks across the same two nets: then other groupings of their devices are the same circuit."""
    spans = [frozenset((p.src, p.dst)) for p in parts if p.role not in ("in", "out")]
    return len(spans) != len(set(spans))


def test_the_vocabulary_is_upstreams_26_types_in_its_order():
    assert len(OCB_BLOCK_TYPES) == len(set(OCB_BLOCK_TYPES)) == 26
    assert OCB_BLOCK_TYPES[:10] == ("In", "Out", "R", "C", "R-C", "R||C", "+gm+", "-gm+", "+gm-", "-gm-")
    assert OCB_BLOCK_TYPES[10] == "C||+gm+" and OCB_BLOCK_TYPES[14] == "R||+gm+"
    assert OCB_BLOCK_TYPES[18] == "R||C||+gm+" and OCB_BLOCK_TYPES[25] == "R-C||-gm-"
    assert SHAPES["R-C||-gm-"].value_names == ("r", "c", "gm") and SHAPES["R-C||-gm-"].feedback
    assert SHAPES["C||+gm+"].value_names == ("c", "gm") and not SHAPES["C||+gm+"].feedback


def test_500_generated_circuits_decompose_to_the_generators_blocks():
    exact = unambiguous = 0
    for c in generate(500, seed=11):
        netlist = c.netlist()
        g = decompose_ocb(netlist)
        assert g.basis == "ocb" and g.uncovered == () and g.coverage() == 1.0
        names = [n for b in g.blocks for n in b.devices]
        assert sorted(names) == sorted(d.name for d in netlist.devices)  # every device exactly once
        assert all(i < j for i, j in g.edges)  # topological order
        assert g.blocks[0].type == "In" and g.blocks[-1].type == "Out"
        assert electrical(rebuild(g)) == electrical(netlist)  # the same circuit, always
        same = signature(g) == signature(c.two_level())
        exact += same
        if not shared_span(c.parts):
            unambiguous += 1
            assert same, (c.index, c.types)  # one reading only: it must be the generator's
    # a C||gm stage with a bridging R beside it is also a gm stage beside an R||C bridge, and so on
    assert unambiguous >= 120 and exact >= 330  # measured: 160 and 367 of 500


def test_both_views_of_a_generated_circuit_turn_into_two_level_tensors():
    for c in generate(40, seed=13):
        netlist = c.netlist()
        for g in (c.two_level(), decompose_ocb(netlist)):
            data = to_two_level_pyg(netlist, g, OCB_BLOCK_TYPES)
            assert data.block_type.tolist() == [OCB_BLOCK_TYPES.index(b.type) for b in g.blocks]
            assert sorted(set(data.inner_block.tolist())) == list(range(len(g.blocks)))
            assert data.block_edge_index.size(1) == len(g.edges)


def test_a_canonical_reading_is_a_fixed_point():
    for c in generate(200, seed=5):
        g = decompose_ocb(c.netlist())
        assert signature(decompose_ocb(rebuild(g))) == signature(g)


def _disguise(netlist: Netlist, rng: random.Random) -> Netlist:
    """The same circuit with new device and internal net names, shuffled order, swapped R/C ends
    and G elements written the other way round (sign flipped to match)."""
    nets = {"n1": "stage_a", "n2": "x9"}
    devices = []
    for k, d in enumerate(netlist.devices):
        terms = tuple((p, nets.get(n, n if n in SIGNAL | {"0"} else f"mid{n}")) for p, n in d.terminals)
        value = d.value
        if d.kind is DeviceKind.VCCS:
            (p, a), (n, b), (cp, sa), (cn, sb) = terms
            if rng.random() < 0.5:
                terms, value = ((p, b), (n, a), (cp, sa), (cn, sb)), -value
            if rng.random() < 0.5:
                terms, value = (terms[0], terms[1], (cp, terms[3][1]), (cn, terms[2][1])), -value
        elif rng.random() < 0.5:
            terms = (("p", terms[1][1]), ("n", terms[0][1]))
        devices.append(replace(d, name=f"{d.kind.value}q{k}", terminals=terms, value=value))
    rng.shuffle(devices)
    return Netlist(title="disguised", devices=tuple(devices))


def test_names_order_and_orientation_do_not_matter():
    rng = random.Random(3)
    for c in generate(120, seed=8):
        netlist = c.netlist()
        assert signature(decompose_ocb(_disguise(netlist, rng))) == signature(decompose_ocb(netlist))


def test_written_out_and_read_back_it_decomposes_the_same():
    for c in generate(60, seed=2):
        text = write_spice(c.netlist()).replace(".end", "Vin in 0 dc 0 ac 1\n.ac dec 100 1 100g\n.end")
        g = decompose_ocb(parse_spice(text))
        assert signature(g) == signature(decompose_ocb(c.netlist()))
        assert g.blocks[0].devices == ("Vin",)


def test_the_hand_written_example_deck():
    g = decompose_ocb(read_netlist(EXAMPLE))
    assert [b.type for b in g.blocks] == ["In", "+gm+", "C||+gm+", "Out"]
    assert g.blocks[0].devices == ("Vin",)
    assert g.blocks[1].devices == ("Gm1", "Ro1", "Co1") and dict(g.blocks[1].values) == {"gm": 2e-3}
    assert set(g.blocks[2].devices) == {"Gm2", "Ro2", "Co2", "Cc"}
    assert dict(g.blocks[2].values) == pytest.approx({"c": 1e-12, "gm": 8e-3})
    assert g.edges == ((0, 1), (1, 2), (2, 3))
    data = to_two_level_pyg(read_netlist(EXAMPLE), g, OCB_BLOCK_TYPES)
    assert data.block_type.tolist() == [OCB_BLOCK_TYPES.index(b.type) for b in g.blocks]
    assert data.block_edge_index.t().tolist() == [[0, 1], [1, 2], [2, 3]]


THREE_STAGE = """three-stage with a feedback stage and a series R-C from n1 to out
V1 inp 0 dc 0 ac 1
Ga a 0 inp 0 1m
Ra a 0 1meg
Ca a 0 50f
Gb 0 b a 0 2m
Rb b 0 1meg
Cb 0 b 50f
Gc out 0 b 0 3m
Rc out 0 1meg
Cc out 0 50f
Gf a 0 0 out 4m
Rf 0 a 1meg
Cf a 0 50f
Rz a z 200k
Cz z out 300f
.end
"""


def test_a_three_stage_deck_with_feedback_and_a_series_rc():
    # the input is found by its source; Gb written with its output pins swapped injects current into
    # b (non-inverting: -gm); Gf senses out through its negative control pin (-gm) and drives a
    # (feedback); the series R-C across the same two nets joins it as one block (fewest blocks)
    g = decompose_ocb(parse_spice(THREE_STAGE))
    types = [b.type for b in g.blocks]
    assert types == ["In", "+gm+", "-gm+", "+gm+", "R-C||-gm-", "Out"]
    assert [dict(b.values)["gm"] for b in g.blocks[1:4]] == pytest.approx([1e-3, -2e-3, 3e-3])
    fb = g.blocks[4]
    assert set(fb.devices) == {"Gf", "Rf", "Cf", "Rz", "Cz"}
    assert dict(fb.values) == pytest.approx({"r": 2e5, "c": 3e-13, "gm": -4e-3})
    assert fb.nets[:2] == ("a", "out")
    assert g.edges == ((0, 1), (1, 2), (1, 4), (2, 3), (3, 5), (4, 5))


def _refused(text: str) -> NotDecomposableError:
    with pytest.raises(NotDecomposableError) as info:
        decompose_ocb(parse_spice(text))
    return info.value


BASE = """two stages
Vin in 0 dc 0 ac 1
G1 n1 0 in 0 2m
RL1 n1 0 1meg
CL1 n1 0 50f
G2 out 0 n1 0 8m
RL2 out 0 1meg
CL2 out 0 50f
"""


def test_the_base_deck_is_accepted():
    assert [b.type for b in decompose_ocb(parse_spice(BASE + ".end\n")).blocks] == ["In", "+gm+", "+gm+", "Out"]


@pytest.mark.parametrize(("extra", "named", "reason"), [
    ("M1 out n1 0 0 nch\n.model nch nmos level=1\n", ("M1",), "G stage"),
    ("R9 out 0 2meg\n", ("R9",), "load"),
    ("G9 out n1 n1 0 1m\nR9 out 0 1meg\nC9 out 0 50f\n", ("G9",), "G stage"),
    ("C9 n1 0 50f\n", ("G1", "RL1", "CL1", "C9"), "exactly one"),
    ("R9 n1 dangling 1k\n", ("R9",), "nothing else touches"),
])
def test_devices_outside_the_family_are_named(extra, named, reason):
    err = _refused(BASE + extra + ".end\n")
    assert set(named) <= set(err.devices)
    assert reason in str(err) and str(err).startswith("not decomposable: ")


def test_a_stage_without_its_load_is_named():
    err = _refused(BASE.replace("RL2 out 0 1meg\n", "") + ".end\n")
    assert "G2" in err.devices and "CL2" in err.devices


def test_four_stages_are_too_many():
    four = BASE.replace("G2 out 0 n1 0 8m\nRL2 out 0 1meg\nCL2 out 0 50f\n",
                        "".join(f"G{k} n{k} 0 n{k - 1} 0 1m\nR{k} n{k} 0 1meg\nC{k} n{k} 0 50f\n" for k in (2, 3))
                        + "G4 out 0 n3 0 1m\nR4 out 0 1meg\nC4 out 0 50f\n")
    err = _refused(four + ".end\n")
    assert "this one has 3 (n1, n2, n3)" in str(err) and "G2" in err.devices


def test_a_stage_chain_that_does_not_reach_out_has_no_reading():
    reverse = BASE.replace("G2 out 0 n1 0 8m", "G2 out 0 n1 0 8m\nG3 in 0 out 0 1m\nR3 in 0 1meg\nC3 in 0 50f")
    reverse = reverse.replace("G1 n1 0 in 0 2m", "G1 n1 0 out 0 2m")  # n1 fed from out only
    err = _refused(reverse + ".end\n")
    assert "no reading" in str(err) and "G1" in err.devices


def test_an_unnamed_output_is_found_by_structure():
    g = decompose_ocb(parse_spice(BASE.replace("out", "y") + ".end\n"))
    assert [b.type for b in g.blocks] == ["In", "+gm+", "+gm+", "Out"] and g.blocks[-1].nets == ("y",)
    # when every candidate fails the same way, that failure (with its devices) is the answer
    err = _refused(BASE.replace("out", "y") + "M1 y n1 0 0 nch\n.model nch nmos level=1\n.end\n")
    assert err.devices == ("M1",)
    err = _refused("no gain stage\nVin in 0 dc 0 ac 1\nR1 in y 1k\nR2 y 0 1meg\n.end\n")
    assert "no net a G element drives" in str(err)


def test_the_error_survives_pickling():
    import pickle

    err = _refused(BASE + "R9 out 0 2meg\n.end\n")
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and back.devices == err.devices


def test_parameter_expressions_are_evaluated_first():
    deck = BASE.replace("G1 n1 0 in 0 2m", ".param gm1=2m\nG1 n1 0 in 0 {gm1}").replace(
        "G2 out 0 n1 0 8m", "G2 out 0 n1 0 {4*gm1}")
    g = decompose_ocb(parse_spice(deck + ".end\n"))
    assert [dict(b.values).get("gm") for b in g.blocks[1:3]] == pytest.approx([2e-3, 8e-3])
    err = _refused(BASE.replace("G2 out 0 n1 0 8m", "G2 out 0 n1 0 {nowhere}") + ".end\n")
    assert err.devices == ("G2",) and "evaluate" in str(err)


def test_many_parts_across_two_nets_are_refused_quickly():
    import time

    lines = [f"G{k} n1 0 in 0 {k + 1}m\nRL{k} n1 0 1meg\nCL{k} n1 0 50f" for k in range(3)]
    lines += [f"R{k} in n1 {k + 1}00k\nC{k} in n1 {k + 1}00f" for k in range(4)]
    start = time.perf_counter()
    err = _refused(BASE.replace("G1 n1 0 in 0 2m\nRL1 n1 0 1meg\nCL1 n1 0 50f\n", "\n".join(lines) + "\n") + ".end\n")
    assert time.perf_counter() - start < 5
    assert "no reading" in str(err) and {"G0", "R3", "C3"} <= set(err.devices)


SPECTRE = """// behavioural op-amp written the way upstream's netlister writes one: a subckt per block
subckt stage_a GND OUT IN
    G0 (OUT GND IN GND) vccs gm=-1.0m
    R0 (OUT GND) resistor r=1M
    C0 (OUT GND) capacitor c=50.0f
ends stage_a
subckt stage_b GND OUT IN
    G0 (OUT GND IN GND) vccs gm=0.8m
    R0 (OUT GND) resistor r=1M
    C0 (OUT GND) capacitor c=50.0f
ends stage_b
subckt rser IN OUT
    R0 (IN net1) resistor r=0.4M
    C0 (net1 OUT) capacitor c=300f
ends rser
I0 (0 net3 net2) stage_a
I1 (0 OUT net3) stage_b
I3 (net3 OUT) rser
V0 (net2 0) vsource dc=0 mag=1m
"""


def test_a_flattened_spectre_deck_with_a_subckt_per_block():
    from ckt.netlist.flatten import flatten
    from ckt.netlist.parse_spectre import parse_spectre

    g = decompose_ocb(flatten(parse_spectre(SPECTRE)))
    assert [b.type for b in g.blocks] == ["In", "-gm+", "+gm+", "R-C", "Out"]
    assert g.blocks[0].devices == ("V0",) and set(g.blocks[3].devices) == {"I3.R0", "I3.C0"}
    assert dict(g.blocks[3].values) == pytest.approx({"r": 4e5, "c": 3e-13})
    assert g.edges == ((0, 1), (1, 2), (1, 3), (2, 4), (3, 4))
