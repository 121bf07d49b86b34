"""``ckt.linkpred.complete``: which pins are suspect, and how candidates are ranked (with fake scorers:
the model itself is tested with its training code)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from torch_geometric.data import Data

from ckt.errors import CktError, ExpressionError
from ckt.linkpred.complete import Completion, complete, suspicious_pins
from ckt.netlist.read import parse_netlist, read_netlist

DATA = Path(__file__).resolve().parents[1] / "data" / "complete"


def _read(name: str):
    return read_netlist(DATA / name)


def _flagged(netlist) -> list[tuple[str, str, str, str]]:
    return [(s.device, s.pin, s.net, s.reason) for s in suspicious_pins(netlist)]


class Oracle:
    """Knows the right net (scores it 0.9) and scores every other net lower, by netlist order; keeps
    what it was asked so tests can look at the graphs it saw."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.calls: list[tuple[Data, int, list[int]]] = []

    def score(self, graph: Data, pin: int, nets: Sequence[int]) -> list[float]:
        self.calls.append((graph, pin, list(nets)))
        first = len(graph.device_names) + len(graph.pin_names)
        names = [graph.net_names[n - first] for n in nets]
        return [0.9 if name == self.answer else 0.5 / (1 + i) for i, name in enumerate(names)]


class ByDegree:
    """Scores a net by how many pins the graph it is given joins to it (a rule, not a model)."""

    def score(self, graph: Data, pin: int, nets: Sequence[int]) -> list[float]:
        src, dst = graph.edge_index
        joined = dst[graph.edge_type == 1].tolist()
        return [joined.count(n) / 10 for n in nets]


# ------------------------------------------------------------------ suspicious pins


def test_floating_net_is_flagged():
    assert _flagged(_read("floating.cir")) == [("R1", "n", "n9", "floating")]


def test_kicad_unconnected_pin_is_flagged():
    found = suspicious_pins(_read("kicad.cir"))
    assert [(s.device, s.pin, s.net, s.reason) for s in found] == [("R2", "n", "unconnected-(R2-Pad2)", "unconnected")]
    assert found[0].loc is not None and found[0].loc.line == 7


def test_ltspice_nc_net_is_unconnected_and_its_b_source_output_is_not_floating():
    # B1 N004 0 V=V(N003)*2: N004 is a probe output (a voltage-setting source) and N003 is read by B1.
    assert _flagged(_read("ltspice.cir")) == [("C2", "p", "NC_01", "unconnected")]


def test_shorted_devices_flag_their_pins():
    assert _flagged(_read("shorted.cir")) == [
        ("C1", "p", "mid", "shorted"), ("C1", "n", "mid", "shorted"),
        ("M1", "d", "mid", "shorted"), ("M1", "g", "mid", "shorted"), ("M1", "s", "mid", "shorted"),
    ]


def test_varactor_and_dummy_are_not_flagged():
    # M2 ties drain, source and bulk (a MOS varactor), M3 sits wholly on ground (a layout dummy).
    devices = {s.device for s in suspicious_pins(_read("shorted.cir"))}
    assert "M2" not in devices and "M3" not in devices


def test_clean_opamp_has_nothing_flagged():
    assert suspicious_pins(_read("opamp.cir")) == []


def test_ground_supply_and_port_nets_are_never_floating():
    netlist = parse_netlist("rails\nR1 vdd a 1k\nR2 a 0 1k\nR3 a vout 1k\nR4 a vss 1k\nR5 a gnd 1k\n.end\n")
    assert suspicious_pins(netlist) == []


def test_an_unnamed_net_with_one_pin_floats_where_a_port_name_would_not():
    netlist = parse_netlist("t\nV1 vdd 0 1\nR1 vdd a 1k\nR2 a 0 1k\nR3 a n7 1k\nR4 a vbias 1k\n.end\n")
    assert _flagged(netlist) == [("R3", "n", "n7", "floating")]


def test_hierarchy_is_flattened_first():
    # X1's ports are driven from outside; the resistor inside X2 ends on a net nothing else touches.
    assert _flagged(_read("hier.cir")) == [("X2.R1", "n", "X2.x", "floating")]


def test_definitions_only_file_checks_each_definition_with_its_ports_exempt():
    found = suspicious_pins(_read("cell.cir"))
    assert [(s.subckt, s.device, s.pin, s.net, s.reason) for s in found] == [
        ("leaky", "C1", "n", "dangling", "floating")
    ]


def test_bad_expression_is_a_located_error():
    netlist = parse_netlist("t\nR1 a 0 {undefined_r}\nR2 a b 1k\n.end\n", path="bad.cir")
    with pytest.raises(ExpressionError, match="bad.cir:2"):
        suspicious_pins(netlist)


# ------------------------------------------------------------------ completion


def test_oracle_answer_ranks_first_and_dangling_net_is_no_candidate():
    oracle = Oracle("vdd")
    [c] = complete(_read("floating.cir"), oracle, top=3)
    assert isinstance(c, Completion)
    assert (c.suspect.device, c.suspect.pin, c.suspect.net) == ("R1", "n", "n9")
    assert c.candidates[0].net == "vdd" and c.candidates[0].score == pytest.approx(0.9)
    assert len(c.candidates) == 3
    assert [x.score for x in c.candidates] == sorted((x.score for x in c.candidates), reverse=True)
    graph, pin, nets = oracle.calls[0]
    first = len(graph.device_names) + len(graph.pin_names)
    assert sorted(graph.net_names[n - first] for n in nets) == ["0", "out", "vdd", "vin"]  # not n9


def test_the_pins_net_edges_are_removed_from_the_graph_scored_only():
    oracle = Oracle("vdd")
    netlist = _read("floating.cir")
    complete(netlist, oracle)
    graph, pin, _ = oracle.calls[0]
    src, dst = graph.edge_index
    assert not ((graph.edge_type == 1) & (src == pin)).any()
    assert not ((graph.edge_type == 3) & (dst == pin)).any()
    assert ((graph.edge_type == 0) & (dst == pin)).sum() == 1  # still attached to its device
    assert graph.edge_index.shape[1] == 4 * len(graph.pin_names) - 2  # only those two edges went


def test_each_suspect_is_scored_on_a_graph_missing_only_its_own_edges():
    oracle = Oracle("vdd")
    complete(_read("shorted.cir"), oracle)
    assert len(oracle.calls) == 5
    for graph, pin, _ in oracle.calls:
        src, dst = graph.edge_index
        assert graph.edge_index.shape[1] == 4 * len(graph.pin_names) - 2
        assert not ((graph.edge_type == 1) & (src == pin)).any()


def test_shorted_pin_keeps_its_current_net_as_a_candidate():
    found = complete(_read("shorted.cir"), ByDegree(), top=10)
    c1p = next(c for c in found if (c.suspect.device, c.suspect.pin) == ("C1", "p"))
    names = [x.net for x in c1p.candidates]
    assert "mid" in names
    assert names[0] == "mid"  # mid joins the most pins even without C1.p
    assert sorted(names) == sorted(["vdd", "mid", "0", "ctl"])


def test_unconnected_placeholder_nets_are_never_candidates():
    netlist = parse_netlist(
        "t\nV1 vdd 0 1\nR1 vdd a 1k\nR2 a 0 1k\nR3 a NC_01 1k\nR4 a NC_02 1k\n.end\n"
    )
    found = complete(netlist, Oracle("vdd"), top=10)
    assert [(c.suspect.device, c.suspect.pin) for c in found] == [("R3", "n"), ("R4", "n")]
    for c in found:
        assert {x.net for x in c.candidates} == {"vdd", "a", "0"}
        assert c.candidates[0].net == "vdd"


def test_top_limits_and_is_checked():
    [c] = complete(_read("floating.cir"), Oracle("out"), top=1)
    assert [x.net for x in c.candidates] == ["out"]
    with pytest.raises(CktError, match="top"):
        complete(_read("floating.cir"), Oracle("out"), top=0)


def test_definition_suspects_use_local_names_in_their_graph():
    [c] = complete(_read("cell.cir"), Oracle("a"), top=5)
    assert c.suspect.subckt == "leaky"
    assert [x.net for x in c.candidates] == ["a", "b"]


def test_scorer_returning_the_wrong_count_is_an_error():
    class Short:
        def score(self, graph: Data, pin: int, nets: Sequence[int]) -> list[float]:
            return [0.5]

    with pytest.raises(CktError, match="scores for"):
        complete(_read("floating.cir"), Short())


def test_no_suspects_no_scoring():
    oracle = Oracle("vdd")
    assert complete(_read("opamp.cir"), oracle) == []
    assert oracle.calls == []


def test_json_record():
    [c] = complete(_read("floating.cir"), Oracle("vdd"), top=2)
    record = c.to_json()
    assert record["device"] == "R1" and record["pin"] == "n" and record["net"] == "n9"
    assert record["reason"] == "floating"
    assert record["candidates"][0] == {"net": "vdd", "score": pytest.approx(0.9)}
