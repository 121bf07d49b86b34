"""Deep nesting: thousands of nested definitions or instance levels flatten, serialise and write
without reaching Python's recursion limit (each step once used one Python frame per level)."""

from __future__ import annotations

import sys

import pytest

from ckt.errors import NetlistError
from ckt.netlist.flatten import MAX_HIERARCHY, flatten
from ckt.netlist.ir import Device, DeviceKind, Expr, Netlist, Param, Subckt
from ckt.netlist.serialize import dumps, from_dict, loads, to_dict
from ckt.netlist.units import format_number
from ckt.netlist.write import write_spice
from ckt.netlist.write_spectre import write_spectre

DEPTHS = [500, 2000]


def _r(name: str, value: float) -> Device:
    return Device(name, DeviceKind.RESISTOR, (("p", "a"), ("n", "b")), value=value)


def nested_definitions(depth: int) -> Netlist:
    """``.subckt s0`` holding ``.subckt s1`` holding ... ``s{depth-1}``, each with one resistor."""
    inner: Subckt | None = None
    for i in reversed(range(depth)):
        inner = Subckt(f"s{i}", ("a", "b"), (_r(f"R{i}", float(i + 1)),), subckts=(inner,) if inner else ())
    return Netlist(title="nested", subckts=(inner,))


def hierarchy(depth: int) -> Netlist:
    """``h0`` instantiates ``h1`` ... down to ``h{depth-1}``; every level adds one resistor."""
    subs = [Subckt(f"h{i}", ("a", "b"), (Device(f"X{i}", DeviceKind.SUBCKT, (("1", "a"), ("2", "b")), model=f"h{i + 1}"),
                                         _r(f"R{i}", 1.0)), ) for i in range(depth - 1)]
    subs.append(Subckt(f"h{depth - 1}", ("a", "b"), (_r("RL", 2.0),)))
    top = Device("X0", DeviceKind.SUBCKT, (("1", "in"), ("2", "0")), model="h0")
    return Netlist(title="deep", devices=(top,), subckts=tuple(subs))


def _names(n: Netlist) -> list[str]:
    """Every definition name, outer first (walked with a stack: IR equality itself recurses)."""
    out, stack = [], list(reversed(n.subckts))
    while stack:
        s = stack.pop()
        out.append(s.name)
        stack.extend(reversed(s.subckts))
    return out


@pytest.mark.parametrize("depth", DEPTHS)
def test_nested_definitions_write_and_serialise(depth: int):
    n = nested_definitions(depth)
    assert depth * 2 > sys.getrecursionlimit() // 2  # deep enough that one frame per level would fail
    text = write_spice(n)
    lines = text.splitlines()
    assert lines[1] == ".subckt s0 a b" and lines[2] == ".subckt s1 a b"
    # the innermost definition closes first, each one's device after its nested definitions
    tail = lines[-(2 * depth + 1):-1]
    assert tail[:2] == [f"R{depth - 1} a b {format_number(depth)}", f".ends s{depth - 1}"]
    assert tail[-2:] == ["R0 a b 1", ".ends s0"]
    spectre = write_spectre(n)
    assert spectre.count("\nsubckt ") + spectre.count(" subckt ") >= 1 and spectre.count("ends s") == depth
    assert spectre.rstrip().endswith("ends s0")
    for back in (from_dict(to_dict(n)), loads(dumps(n)), loads(dumps(n, indent=None))):
        assert _names(back) == [f"s{i}" for i in range(depth)]
        assert write_spice(back) == text


@pytest.mark.parametrize("depth", DEPTHS)
def test_deep_hierarchy_flattens(depth: int):
    n = hierarchy(depth)
    for evaluate in (True, False):
        flat = flatten(n, evaluate=evaluate)
        assert len(flat.devices) == depth
        leaf = flat.devices[0]  # depth first: each X comes before its level's resistor
        assert leaf.name == "X0." + ".".join(f"X{i}" for i in range(depth - 1)) + ".RL"
        assert leaf.nets == ("in", "0") and float(leaf.value) == 2.0
        assert flat.devices[-1].name == "X0.R0"
    assert write_spice(n).count(".subckt") == depth
    assert loads(dumps(n)).subckt(f"h{depth - 1}") is not None


def test_deep_hierarchy_passes_parameters_without_nesting_parentheses():
    # each level passes w=w down: symbolic flattening once wrapped it in one more "(...)" per level,
    # which the expression parser's nesting bound then refused
    depth = 500
    x = [Device(f"X{i}", DeviceKind.SUBCKT, (("1", "a"), ("2", "b")), model=f"h{i + 1}", params=(("w", Expr("w")),))
         for i in range(depth - 1)]
    leaf = Device("RL", DeviceKind.RESISTOR, (("p", "a"), ("n", "b")), value=Expr("w"))
    subs = [Subckt(f"h{i}", ("a", "b"), (dev,), params=(Param("w", 1.0),)) for i, dev in enumerate([*x, leaf])]
    top = Device("X0", DeviceKind.SUBCKT, (("1", "in"), ("2", "0")), model="h0", params=(("w", Expr("wg")),))
    n = Netlist(devices=(top,), subckts=tuple(subs), params=(Param("wg", 3.0),))
    assert flatten(n).devices[0].value == 3.0
    assert flatten(n, evaluate=False).devices[0].value == Expr("wg")


def test_hierarchy_beyond_the_bound_is_a_typed_error(monkeypatch):
    import ckt.netlist.flatten as module

    assert MAX_HIERARCHY >= 2000
    monkeypatch.setattr(module, "MAX_HIERARCHY", 300)  # the bound's logic, without 5000 levels of names
    flatten(hierarchy(300))
    with pytest.raises(NetlistError, match="deeper than 300 levels"):
        flatten(hierarchy(302))


def _spectre_nested(depth: int) -> str:
    lines = ["simulator lang=spectre"]
    lines += [f"subckt s{i} a b\nr{i} (a b) resistor r={i + 1}" for i in range(depth)]
    lines += [f"ends s{i}" for i in reversed(range(depth))]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("depth", DEPTHS)
def test_spectre_reads_deeply_nested_definitions(depth: int):
    from ckt.netlist.parse_spectre import parse_spectre

    net = parse_spectre(_spectre_nested(depth))
    assert _names(net) == [f"s{i}" for i in range(depth)]
    s = net.subckts[0]
    for i in range(depth):
        assert [d.name for d in s.devices] == [f"r{i}"] and s.devices[0].value == float(i + 1)
        s = s.subckts[0] if s.subckts else s
    assert parse_spectre(_spectre_nested(depth)) == net  # two reads, compared level by level


@pytest.mark.parametrize("depth", DEPTHS)
def test_deep_subckt_equality_does_not_recurse(depth: int):
    a, b = nested_definitions(depth), nested_definitions(depth)
    assert a == b and a.subckts[0] == b.subckts[0]
    # one value changed at the innermost level is seen
    inner = Subckt(f"s{depth - 1}", ("a", "b"), (_r(f"R{depth - 1}", -1.0),))
    for i in reversed(range(depth - 1)):
        inner = Subckt(f"s{i}", ("a", "b"), (_r(f"R{i}", float(i + 1)),), subckts=(inner,))
    assert a != Netlist(title="nested", subckts=(inner,))
    assert a.subckts[0] != inner and not (a.subckts[0] == "s0")
