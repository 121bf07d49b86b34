"""Tiny circuits of our own for the encoder tests: SPICE decks as flat graphs, OCB-like behavioural
op-amps as hand-built two-level graphs."""

from __future__ import annotations

from torch_geometric.data import Data

from ckt.graph.to_pyg import to_bipartite_pyg
from ckt.graph.two_level import Block, TwoLevelData, TwoLevelGraph, to_two_level_pyg
from ckt.netlist import parse_spice

BLOCK_TYPES = ("gm+", "gm-", "r", "c")
"""A small block vocabulary for the hand-built two-level graphs."""


def rc_ladder(r: float, c: float, stages: int) -> Data:
    """A bipartite graph of an RC ladder driven from net ``in``."""
    lines = ["* rc ladder", "V1 in 0 DC 1"]
    prev = "in"
    for i in range(stages):
        lines += [f"R{i} {prev} n{i} {r:g}", f"C{i} n{i} 0 {c:g}"]
        prev = f"n{i}"
    return to_bipartite_pyg(parse_spice("\n".join(lines) + "\n.end\n"))


def cs_amp(w: float) -> Data:
    """A bipartite graph of a resistively loaded common-source stage with gate width ``w``."""
    deck = f"""* cs stage
V1 vdd 0 DC 1.8
V2 in 0 DC 0.7
R1 vdd out 10k
M1 out in 0 0 nmos w={w:g} l=0.18u
.model nmos nmos level=1
.end
"""
    return to_bipartite_pyg(parse_spice(deck))


def ocb_like(gm1: float, gm2: float, cc: float | None = None) -> tuple[TwoLevelData, object, TwoLevelGraph]:
    """A two-stage behavioural amplifier (VCCS stages with R-C loads, optional Miller C) as
    ``TwoLevelData``, with its netlist and hand-built decomposition."""
    lines = [
        "* two-stage behavioural amp",
        f"G1 0 n1 in 0 {gm1:g}", "R1 n1 0 1meg", "C1 n1 0 50f",
        f"G2 0 out n1 0 {gm2:g}", "R2 out 0 1meg", "C2 out 0 50f",
    ]
    blocks = [
        Block("gm+", ("G1", "R1", "C1"), ("in", "n1", "0")),
        Block("gm+", ("G2", "R2", "C2"), ("n1", "out", "0")),
    ]
    edges = [(0, 1)]
    if cc is not None:
        lines.append(f"CC n1 out {cc:g}")
        blocks.append(Block("c", ("CC",), ("n1", "out")))
        edges += [(0, 2), (2, 1)]
    netlist = parse_spice("\n".join(lines) + "\n.end\n")
    graph = TwoLevelGraph("ocb", tuple(blocks), tuple(edges))
    return to_two_level_pyg(netlist, graph, BLOCK_TYPES), netlist, graph
