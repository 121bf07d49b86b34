"""The ``ckt parse / check / convert`` contract: JSON shape, exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ckt.cli import run
from ckt.netlist import parse_spice, read_netlist
from ckt.netlist.serialize import loads

DATA = Path(__file__).resolve().parents[1] / "data"
AMP = DATA / "spice" / "ngspice_amp.cir"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = run([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_parse_json_contract(capsys):
    code, out, err = cli(capsys, "parse", AMP, "--json")
    info = json.loads(out)
    assert code == 0
    assert info["devices"] == 4 and info["subckts"] == ["ota"]
    assert info["nets"] == len(read_netlist(AMP).nets)
    assert info["params"] == {"vdd": 1.8, "ibias": 1e-05, "wn": 1e-06, "wp": "2*wn"}
    assert isinstance(info["warnings"], list)


def test_parse_flatten_expands_instances(capsys):
    code, out, _ = cli(capsys, "parse", AMP, "--json", "--flatten")
    info = json.loads(out)
    assert code == 0 and info["devices"] == 3 + 4 and "subckt" not in info["kinds"]


def test_parse_text_summary(capsys):
    code, out, _ = cli(capsys, "parse", AMP)
    assert code == 0 and "4 devices" in out and "subckts: ota" in out


@pytest.mark.parametrize("text, where", [
    ("t\nR1 a b 1k\nM1 a b c\n", ":3: error: M1: too few nodes"),
    ("t\n.subckt foo a b\nR1 a b 1k\n", ":2: error: missing .ends"),
])
def test_malformed_file_exits_2_with_path_and_line(tmp_path, capsys, text, where):
    bad = tmp_path / "bad.cir"
    bad.write_text(text)
    code, out, err = cli(capsys, "parse", bad)
    assert code == 2 and out == ""
    assert f"{bad}{where}" in err and "Traceback" not in err


def test_every_problem_is_reported_not_just_the_first(tmp_path, capsys):
    bad = tmp_path / "bad.cir"
    bad.write_text("t\nM1 a b c\nQ1 x\n.ends\n")
    code, _, err = cli(capsys, "parse", bad)
    assert code == 2 and len([ln for ln in err.splitlines() if ": error:" in ln]) >= 3


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02garbage\xff" * 50])
def test_empty_and_binary_files_are_clear_errors(tmp_path, capsys, content):
    bad = tmp_path / "x.cir"
    bad.write_bytes(content)
    code, _, err = cli(capsys, "parse", bad)
    assert code == 2 and str(bad) in err and "Traceback" not in err


def test_missing_file(capsys, tmp_path):
    code, _, err = cli(capsys, "parse", tmp_path / "nope.cir")
    assert code == 2 and "nope.cir" in err and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.cir"
    bad.write_text("t\nM1 a b c\n")
    with pytest.raises(Exception):
        run(["--debug", "parse", str(bad)])


def test_check_clean_and_failing(tmp_path, capsys):
    good = tmp_path / "good.cir"
    good.write_text("rc\nV1 in 0 1\nR1 in out 1k\nC1 out 0 1p\n.end\n")
    code, _, err = cli(capsys, "check", good)
    assert code == 0 and "0 error(s)" in err
    bad = tmp_path / "bad.cir"
    bad.write_text("bad\nV1 in 0 1\nR1 in out 1k\nX1 out 0 nosuch\n")
    code, out, _ = cli(capsys, "check", bad, "--json")
    findings = json.loads(out)
    assert code == 1
    undefined = [f for f in findings if f["code"] == "undefined-subckt"]
    assert undefined and undefined[0]["line"] == 4 and undefined[0]["severity"] == "error"


def test_check_strict_fails_on_warnings(tmp_path, capsys):
    deck = tmp_path / "float.cir"
    deck.write_text("f\nV1 in 0 1\nR1 in out 1k\nR2 in 0 1k\n")
    assert cli(capsys, "check", deck)[0] == 0
    code, out, _ = cli(capsys, "check", deck, "--strict")
    assert code == 1 and "floating" in out


@pytest.mark.parametrize("target", ["spice", "spectre", "json"])
def test_convert_round_trips(tmp_path, capsys, target):
    out_file = tmp_path / f"amp.{ {'spice': 'cir', 'spectre': 'scs', 'json': 'json'}[target] }"
    code, _, _ = cli(capsys, "convert", AMP, "--to", target, "-o", out_file)
    assert code == 0
    original = read_netlist(AMP)
    if target == "json":
        loaded = loads(out_file.read_text())
        assert loaded.devices == original.devices and loaded.subckts == original.subckts
        assert (out_file.parent / loaded.includes[0].path).resolve() == AMP.parent / "lib" / "amp_models.inc"
    else:
        again = read_netlist(out_file)
        assert [d.kind for d in again.devices] == [d.kind for d in original.devices]
        assert len(again.subckts) == 1


def test_convert_to_stdout_is_parseable(capsys):
    code, out, _ = cli(capsys, "convert", AMP, "--to", "spice")
    assert code == 0
    assert parse_spice(out, path=AMP) == read_netlist(AMP)
