"""``ckt graph FILE --kind subgraphs``: OCB blocks for a behavioural op-amp (text, JSON, .pt), and
the device-level basis, or a clear error, for anything else."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ckt.cli import run
from ckt.graph import load_graph
from ckt.graph.ocb_basis import OCB_BLOCK_TYPES

EXAMPLE = Path(__file__).resolve().parents[2] / "netlists" / "ocb_two_stage.cir"
HAVE_BLOCKS = importlib.util.find_spec("ckt.graph.blocks") is not None

AMP = """common source
Vin in 0 dc 0.6 ac 1
M1 out in 0 0 nch w=1u l=0.1u
R1 vdd out 10k
Vdd vdd 0 1.2
.model nch nmos level=1
.end
"""


def test_each_block_with_its_type_and_devices(capsys):
    assert run(["graph", str(EXAMPLE), "--kind", "subgraphs"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "basis ocb: 4 blocks, 3 edges, coverage 100%",
        "[0] In       Vin",
        "[1] +gm+     Gm1 Ro1 Co1  gm=2m",
        "[2] C||+gm+  Gm2 Ro2 Co2 Cc  c=1p gm=8m",
        "[3] Out      -",
        "edges: 0->1 1->2 2->3",
    ]


def test_json_is_the_two_level_graph(capsys):
    assert run(["graph", str(EXAMPLE), "--kind", "subgraphs", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["basis"] == "ocb" and data["coverage"] == 1.0 and data["uncovered"] == []
    assert [b["type"] for b in data["blocks"]] == ["In", "+gm+", "C||+gm+", "Out"]
    assert data["blocks"][1] == {"index": 1, "type": "+gm+", "devices": ["Gm1", "Ro1", "Co1"],
                                 "nets": ["in", "x1", "0"], "values": {"gm": 0.002}}
    assert data["edges"] == [[0, 1], [1, 2], [2, 3]]


def test_out_saves_the_two_level_tensors(tmp_path):
    out = tmp_path / "g.pt"
    assert run(["graph", str(EXAMPLE), "--kind", "subgraphs", "--out", str(out)]) == 0
    data = load_graph(out)
    assert data.block_type.tolist() == [OCB_BLOCK_TYPES.index(t) for t in ("In", "+gm+", "C||+gm+", "Out")]
    assert data.block_edge_index.tolist() == [[0, 1, 2], [1, 2, 3]]
    assert int(data.inner_block.max()) == 3


@pytest.mark.skipif(HAVE_BLOCKS, reason="device-level blocks are available: the fallback is used instead")
def test_without_device_level_blocks_a_non_ocb_netlist_is_a_clear_error(tmp_path, capsys):
    deck = tmp_path / "cs.cir"
    deck.write_text(AMP)
    assert run(["graph", str(deck), "--kind", "subgraphs"]) == 2
    err = capsys.readouterr().err
    assert "not decomposable: M1, Vdd" in err and "ckt.graph.blocks" in err


@pytest.mark.skipif(not HAVE_BLOCKS, reason="ckt.graph.blocks is not part of this checkout")
def test_a_non_ocb_netlist_falls_back_to_device_level_blocks(tmp_path, capsys):
    deck = tmp_path / "cs.cir"
    deck.write_text(AMP)
    assert run(["graph", str(deck), "--kind", "subgraphs", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["basis"] == "blocks"
    assert "not decomposable: M1, Vdd" in captured.err
