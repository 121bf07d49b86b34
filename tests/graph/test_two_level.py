"""The two-level view: blocks as data, tensors that batch with their indices shifted."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.loader import DataLoader

from ckt.errors import NetlistError
from ckt.graph.two_level import Block, TwoLevelGraph, to_two_level_pyg
from ckt.netlist import parse_spice

DECK = """two gm stages
G1 0 n1 in 0 9.8m
R1 n1 0 1meg
C1 n1 0 50f
G2 0 out n1 0 8.9m
R2 out 0 1meg
C2 out 0 50f
.end
"""
TYPES = ("In", "Out", "+gm+")


def _graph() -> TwoLevelGraph:
    return TwoLevelGraph(
        "ocb",
        (Block("In", (), ("in",)), Block("+gm+", ("G1", "R1", "C1"), ("in", "n1")),
         Block("+gm+", ("G2", "R2", "C2"), ("n1", "out")), Block("Out", (), ("out",))),
        ((0, 1), (1, 2), (2, 3)),
    )


def test_inner_nodes_are_each_blocks_devices_then_its_nets() -> None:
    netlist = parse_spice(DECK)
    data = to_two_level_pyg(netlist, _graph(), TYPES)
    assert data.block_type.tolist() == [0, 2, 2, 1]
    n_dev = 6
    nets = ["0", "n1", "in", "out"]  # first-seen order
    net_index = {n: n_dev + i for i, n in enumerate(nets)}
    # In: net in; gm1: G1 R1 C1 then in, n1; gm2: G2 R2 C2 then n1, out; Out: net out.
    expected = [net_index["in"], 0, 1, 2, net_index["in"], net_index["n1"], 3, 4, 5, net_index["n1"],
                net_index["out"], net_index["out"]]
    assert data.inner_node.tolist() == expected
    assert data.inner_block.tolist() == [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3]
    # Inner edges stay inside one block and come in both directions.
    src, dst = data.inner_edge_index
    assert torch.equal(data.inner_block[src], data.inner_block[dst])
    pairs = set(zip(src.tolist(), dst.tolist()))
    assert all((b, a) in pairs for a, b in pairs)


def test_batching_shifts_every_index() -> None:
    data = to_two_level_pyg(parse_spice(DECK), _graph(), TYPES)
    batch = next(iter(DataLoader([data, data], batch_size=2, follow_batch=["block_type"])))
    assert batch.block_type_batch.tolist() == [0] * 4 + [1] * 4
    assert batch.block_edge_index[:, 3:].tolist() == (data.block_edge_index + 4).tolist()
    assert batch.inner_node[12:].tolist() == (data.inner_node + data.num_nodes).tolist()
    assert batch.inner_block[12:].tolist() == (data.inner_block + 4).tolist()
    assert batch.inner_edge_index[:, data.inner_edge_index.size(1):].tolist() == (data.inner_edge_index + 12).tolist()


def test_bad_blocks_are_named() -> None:
    netlist = parse_spice(DECK)
    with pytest.raises(NetlistError, match="no device 'G9'"):
        to_two_level_pyg(netlist, TwoLevelGraph("ocb", (Block("+gm+", ("G9",), ()),), ()), TYPES)
    with pytest.raises(NetlistError, match="not in the basis"):
        to_two_level_pyg(netlist, TwoLevelGraph("ocb", (Block("??", (), ("in",)),), ()), TYPES)
    with pytest.raises(NetlistError, match="does not exist"):
        to_two_level_pyg(netlist, TwoLevelGraph("ocb", (Block("In", (), ("in",)),), ((0, 3),)), TYPES)


def test_coverage_and_json() -> None:
    g = TwoLevelGraph("blocks", (Block("diff_pair", ("M1", "M2"), ("a", "b")),), (), uncovered=("R1", "C1"))
    assert g.coverage() == 0.5
    assert g.to_json()["blocks"][0] == {"index": 0, "type": "diff_pair", "devices": ["M1", "M2"],
                                        "nets": ["a", "b"], "values": {}}
