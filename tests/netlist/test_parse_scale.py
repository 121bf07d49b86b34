"""The SPICE reader on inputs whose size or depth used to break it: a line continued a hundred
thousand times, and definitions nested far deeper than Python's recursion limit. Correctness only;
speed lives in ``benchmarks/bench_parse_scaling.py``."""

from __future__ import annotations

import sys

from ckt.netlist.parse_spice import parse_spice


def test_a_line_continued_100k_times_reads_whole():
    pieces = [f"{i}n {i % 7}" for i in range(100_000)]
    text = "t\nV1 a 0 PWL(\n" + "".join(f"+ {p}\n" for p in pieces) + "* a comment between pieces\n+ )\nR1 a 0 1k\n"
    n = parse_spice(text)
    v = n.device("V1")
    assert v.spec == "PWL( " + " ".join(pieces) + " )"
    assert n.device("R1").loc.line == len(pieces) + 5


def test_continuations_join_with_single_spaces_and_skip_empty_pieces():
    n = parse_spice("t\nR1 a\n+\n+ b\n+   1k   \n* c\n\n+ tc1=1\n")
    r = n.device("R1")
    assert (r.nets, r.value, r.params) == (("a", "b"), 1e3, (("tc1", 1.0),))


def _nested(depth: int) -> str:
    lines = ["deep"]
    for i in range(depth):
        lines.append(f".subckt s{i} a b")
        lines.append(f"R{i} a b 1")
    lines += [f".ends s{i}" for i in reversed(range(depth))]
    lines.append("X1 in 0 s0")
    return "\n".join(lines) + "\n"


def test_nesting_far_past_the_recursion_limit_reads():
    depth = sys.getrecursionlimit() * 3
    n = parse_spice(_nested(depth))
    s, seen = n.subckts[0], 0
    while True:
        assert s.name == f"s{seen}" and s.devices[0].name == f"R{seen}"
        seen += 1
        if not s.subckts:
            break
        (s,) = s.subckts
    assert seen == depth
    assert n.device("X1").model == "s0"


def test_500_nested_definitions_with_instances_bind_each_level():
    depth = 500
    lines = ["deep"]
    for i in range(depth):
        lines += [f".subckt c{i} p n", f"X{i} p n c{i + 1}" if i + 1 < depth else f"R{i} p n 1"]
    lines += [".ends"] * depth
    lines.append("X1 a 0 c0")
    n = parse_spice("\n".join(lines) + "\n")
    assert sum(1 for _ in n.all_subckts()) == depth
    assert not [d for d in n.diagnostics if d.code == "subckt-unknown"]
