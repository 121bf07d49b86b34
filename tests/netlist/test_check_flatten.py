"""``ckt check`` reports what evaluating and flattening the deck rejects, at file:line, and the
non-finite values readers and writers meet: diagnostics on reading, no exception on writing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ckt.cli import run
from ckt.errors import NetlistParseError
from ckt.netlist.check import check
from ckt.netlist.ir import Device, DeviceKind, Expr, Model, Netlist, Param
from ckt.netlist.parse_spice import parse_spice
from ckt.netlist.serialize import dumps, loads
from ckt.netlist.write import write_spice
from ckt.netlist.write_spectre import write_spectre

BROKEN = """evaluation and flattening problems
.param a=1e308 b={a*10} c={b+1}
.param p={q+1} q={p+1}
.param big={2**2**2**2**2**2}
.param ok=1k
.subckt loop x y
xa x y loop2
.ends
.subckt loop2 x y
xb x y loop
.ends
.subckt s a b w=1
r1 a b {w}
.ends
x1 1 0 loop
x2 1 0 s w={nope}
v1 1 0 1
r9 1 0 {ok}
.end
"""


def _errors(path: Path) -> list:
    return [d for d in check(parse_spice(path.read_text(), path=path)) if d.severity == "error"]


def test_check_reports_each_rejection_at_its_line(tmp_path: Path):
    deck = tmp_path / "broken.cir"
    deck.write_text(BROKEN)
    found = {(d.line, d.code): d.message for d in _errors(deck)}
    assert set(found) == {(3, "expression"), (2, "expression"), (4, "expression"), (10, "hierarchy"),
                          (16, "expression")}
    assert "parameter cycle: p -> q -> p" in found[3, "expression"]
    assert "parameter 'b'" in found[2, "expression"] and "not finite" in found[2, "expression"]
    assert "numeric overflow" in found[4, "expression"]
    assert "recursive subcircuit instantiation: loop -> loop2 -> loop" in found[10, "hierarchy"]
    assert "undefined parameter 'nope'" in found[16, "expression"]
    assert all(d.file == str(deck) for d in _errors(deck))


def test_cli_check_is_not_zero_errors(tmp_path: Path, capsys):
    deck = tmp_path / "broken.cir"
    deck.write_text(BROKEN)
    assert run(["check", str(deck), "--json"]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert sum(f["severity"] == "error" for f in findings) == 5


def test_check_of_a_sound_deck_has_no_evaluation_findings(tmp_path: Path):
    deck = tmp_path / "ok.cir"
    deck.write_text(".param w=2 r={w*1k}\n.subckt s a b w=1\nr1 a b {w*r}\n.ends\nx1 1 0 s w={w}\nv1 1 0 1\n.end\n"
                    .replace(".param", "ok\n.param", 1))
    assert [d for d in check(parse_spice(deck.read_text(), path=deck)) if d.code in ("expression", "hierarchy")] == []


@pytest.mark.parametrize("p0, severity", [(1, "warning"), (2, "error")])
def test_expression_bomb_is_a_finding_not_a_hang(tmp_path: Path, p0: int, severity: str):
    # each parameter uses the one before twice: as text it doubles per line (check once hung here);
    # its value stays 1 for p0=1 (only the symbolic form is refused) and overflows for p0=2
    lines = ["bomb", f".subckt s a b p0={p0}"]
    lines += [f".param p{i}={{p{i - 1}*p{i - 1}}}" for i in range(1, 40)]
    lines += ["r1 a b {p39}", ".ends", "x1 1 0 s", "v1 1 0 1", ".end"]
    deck = tmp_path / "bomb.cir"
    deck.write_text("\n".join(lines) + "\n")
    found = [d for d in check(parse_spice(deck.read_text(), path=deck)) if d.code in ("expression", "flatten")]
    assert found and {d.severity for d in found} == {severity}
    assert all(d.line is not None for d in found)
    if severity == "warning":
        assert "expression grows beyond" in found[0].message
    else:
        assert "not finite" in found[0].message


def test_long_expression_is_evaluated(tmp_path: Path):
    deck = tmp_path / "long.cir"
    deck.write_text("long\n.param x={" + "+".join(["1"] * 20000) + "}\nr1 1 0 {x}\nv1 1 0 1\n.end\n")
    assert [d for d in check(parse_spice(deck.read_text(), path=deck)) if d.severity == "error"] == []


@pytest.mark.parametrize("token", ["1e999", "-1e400", "1" * 400, "9" * 400 + "k"])
def test_non_finite_number_is_a_diagnostic_with_line(tmp_path: Path, token: str):
    deck = tmp_path / "inf.cir"
    deck.write_text(f"inf\nv1 1 0 1\nr1 1 0 {token}\nm1 1 1 0 0 nch w={token}\n.model nch nmos\n.end\n")
    with pytest.raises(NetlistParseError) as info:
        parse_spice(deck.read_text(), path=deck)
    lines = {d.line for d in info.value.diagnostics if d.severity == "error"}
    assert lines == {3, 4} and all("out of range" in d.message for d in info.value.diagnostics)
    assert info.value.file == str(deck)


def test_non_finite_is_written_not_raised():
    values = (math.inf, -math.inf, math.nan)
    n = Netlist(
        title="non-finite",
        params=(Param("x", math.inf),),
        models=(Model("d1", "d", (("is", math.nan),)),),
        devices=tuple(Device(f"R{i}", DeviceKind.RESISTOR, (("p", "a"), ("n", "0")), value=v)
                      for i, v in enumerate(values)) + (Device("R9", DeviceKind.RESISTOR, (("p", "a"), ("n", "0")),
                                                                value=Expr("x")),),
    )
    spice = write_spice(n)
    assert "R0 a 0 1e999" in spice and "R1 a 0 -1e999" in spice and "is=nan" in spice
    spectre = write_spectre(n)
    assert "r=1e999" in spectre and "r=-1e999" in spectre
    back = loads(dumps(n))
    assert back.devices[0].value == math.inf and math.isnan(back.models[0].params[0][1])
    with pytest.raises(NetlistParseError):  # and the reader says so when it meets one
        parse_spice(spice)
