"""``ckt graph``: summary line, node-link JSON, saved .pt files, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ckt.cli import run
from ckt.graph import from_bipartite_nx, from_pins_pyg, graph_from_json, load_graph
from ckt.netlist.read import read_netlist

MIRROR = """current mirror
M1 ref ref 0 0 nch w=1u l=0.1u
M2 out ref 0 0 nch w=2u l=0.1u
R1 vdd ref 10k
V1 vdd 0 1.2
.model nch nmos level=1
.end
"""


@pytest.fixture
def mirror(tmp_path) -> Path:
    path = tmp_path / "mirror.cir"
    path.write_text(MIRROR)
    return path


def test_summary_line(mirror, capsys):
    assert run(["graph", str(mirror)]) == 0
    out = capsys.readouterr().out.strip()
    assert out == (
        "4 devices, 4 nets, 9 edges, edge types: mosfet:d=1, mosfet:g=1, mosfet:d+g=1, mosfet:s+b=2, "
        "resistor:p=1, resistor:n=1, vsource:p=1, vsource:n=1"
    )


def test_pin_summary_line(mirror, capsys):
    assert run(["graph", str(mirror), "--kind", "pins"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == "4 devices, 12 pins, 4 nets, 24 edges, edge types: device-pin=12, pin-net=12"


def test_json_is_node_link_data_that_rebuilds_the_netlist(mirror, capsys):
    assert run(["graph", str(mirror), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"nodes", "edges", "graph"} <= set(data)
    assert len(data["nodes"]) == 8 and len(data["edges"]) == 9
    assert from_bipartite_nx(graph_from_json(data)) == read_netlist(mirror)


def test_out_saves_a_weights_only_graph(mirror, tmp_path, capsys):
    out = tmp_path / "g.pt"
    assert run(["graph", str(mirror), "--kind", "pins", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("4 devices, 12 pins")
    torch.load(out, weights_only=True)
    assert from_pins_pyg(load_graph(out)) == read_netlist(mirror)


def test_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert run(["graph", str(tmp_path / "nope.cir")]) == 2
    err = capsys.readouterr().err
    assert "nope.cir" in err and "Traceback" not in err


def test_bad_netlist_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.cir"
    bad.write_text("title\nM1 a b\n.end\n")
    assert run(["graph", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.cir:2" in err and "Traceback" not in err


def test_flatten_expands_instances_first(tmp_path, capsys):
    path = tmp_path / "hier.cir"
    path.write_text(
        "two inverters\n.subckt inv a y vdd\nMP y a vdd vdd pch\nMN y a 0 0 nch\n.ends\n"
        "X1 in mid vdd inv\nX2 mid out vdd inv\nV1 vdd 0 1\n.end\n"
    )
    assert run(["graph", str(path)]) == 0
    summary = capsys.readouterr().out.strip()
    assert summary == "3 devices, 5 nets, 8 edges, edge types: vsource:p=1, vsource:n=1, other=6"
    assert run(["graph", str(path), "--flatten", "--json"]) == 0
    g = graph_from_json(json.loads(capsys.readouterr().out))
    names = [a["name"] for _, a in g.nodes(data=True) if a["type"] == "device"]
    assert names == ["X1.MP", "X1.MN", "X2.MP", "X2.MN", "V1"]
