from __future__ import annotations

import json
from pathlib import Path

import pytest

from ckt.cli import run
from tests.conftest import requires_ngspice

ROOT = Path(__file__).resolve().parents[2]
AUTOCKT = ROOT / "netlists" / "autockt_two_stage.cir"

SPEC = """\
variables:
  mp1: {min: 1, max: 100, step: 1}
  mn1: {min: 1, max: 100, step: 1}
  mp3: {min: 1, max: 100, step: 1}
  mn5: {min: 1, max: 100, step: 1}
  cc: {min: 0.1p, max: 10p, step: 0.1p}
targets:
  gain: {min: 200}
  ugbw: {min: 1e6}
  pm: {min: 60}
  supply_current: {max: 1e-2}
"""


def test_spec_error_is_one_line_with_file_and_line(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.replace("pm: {min: 60}", "pm: {mni: 60}"))
    net = tmp_path / "n.cir"
    net.write_text("* t\n.param cc=1p\nR1 a 0 1k\n.end\n")
    assert run(["size", str(net), "--spec", str(spec), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:10: targets.pm.mni: unknown key" in err


@requires_ngspice
@pytest.mark.ngspice
def test_variable_missing_from_netlist(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.replace("mn5:", "zz9:"))
    assert run(["size", str(AUTOCKT), "--spec", str(spec), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "zz9 are not global .param values" in capsys.readouterr().err


@requires_ngspice
@pytest.mark.ngspice
def test_size_autockt_two_stage_with_ngspice(tmp_path, capsys):
    if not AUTOCKT.exists():
        pytest.skip("netlists/autockt_two_stage.cir is not in this checkout")
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    code = run(["size", str(AUTOCKT), "--spec", str(spec), "--budget", "8", "--batch", "4", "--workers", "2",
                "--out", str(out), "--quiet"])
    assert code == 0
    data = json.loads((out / "result.json").read_text())
    assert data["n_sims"] == 8 and data["method"] == "turbo"
    assert set(data["best"]["metrics"]) >= {"gain", "ugbw", "pm", "supply_current"}
    assert data["n_failed"] < 8
    best = (out / "best.cir").read_text().lower()
    for name, value in data["best"]["params"].items():
        assert f"{name}=" in best.replace(" = ", "=")
    assert (out / "report.md").exists() and (out / "history.sqlite").exists()
    # resume with a larger budget continues the same run
    code = run(["size", str(AUTOCKT), "--spec", str(spec), "--budget", "12", "--batch", "4", "--workers", "2",
                "--out", str(out), "--quiet", "--resume"])
    assert code == 0
    assert json.loads((out / "result.json").read_text())["n_sims"] == 12


MILLER = ROOT / "netlists" / "two_stage_miller.cir"
MILLER_SPEC = """\
testbench: {kind: opamp, dut: miller_opamp, vdd: 1.2, cload: 1p}
variables:
  w12: {min: 0.5u, max: 20u, scale: log}
  cc: {min: 0.1p, max: 5p, scale: log}
  ibias: {min: 2u, max: 50u, scale: log}
targets:
  gain_db: {min: 40}
  pm_deg: {min: 45}
objective: {minimize: power_w}
"""


@requires_ngspice
@pytest.mark.ngspice
def test_size_with_the_opamp_testbench(tmp_path):
    if not MILLER.exists():
        pytest.skip("netlists/two_stage_miller.cir is not in this checkout")
    spec = tmp_path / "s.yaml"
    spec.write_text(MILLER_SPEC)
    out = tmp_path / "out"
    assert run(["size", str(MILLER), "--spec", str(spec), "--budget", "4", "--batch", "4", "--out", str(out),
                "--quiet"]) == 0
    data = json.loads((out / "result.json").read_text())
    assert set(data["best"]["metrics"]) >= {"gain_db", "pm_deg", "power_w"}
    assert data["best"]["metrics"]["power_w"] > 0
    assert "bode" in data["files"] and (out / "bode.png").stat().st_size > 1000
    assert "step" in data["files"] and (out / "step.png").stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert "![open loop (Bode)](bode.png) | ![unity-gain follower step](step.png)" in report
    assert data["targets"]["stable"]["implied_by"] == "pm_deg" and "stable (implied by pm_deg" in report


@pytest.mark.ngspice
def test_size_finds_includes_on_the_include_path(tmp_path):
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "rdiv.lib").write_text(".subckt rdiv a b c\nr1 a b 1k\nr2 b c 1k\n.ends\n")
    deck = tmp_path / "deck.cir"
    deck.write_text('divider\n.include "rdiv.lib"\n.param rl=1k\nv1 in 0 1\nx1 in mid 0 rdiv\nrl mid 0 {rl}\n'
                    ".dc v1 0 1 0.5\n.meas dc vmid find v(mid) at=1\n.end\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text("variables:\n  rl: {min: 100, max: 10k, scale: log}\ntargets:\n  vmid: {min: 0.3}\n")
    args = ["size", str(deck), "--spec", str(spec), "--budget", "4", "--quiet"]
    assert run([*args, "--out", str(tmp_path / "a")]) == 2  # rdiv.lib is not next to the deck
    assert run([*args, "--out", str(tmp_path / "b"), "--include-path", str(vendor)]) == 0
    assert json.loads((tmp_path / "b" / "result.json").read_text())["feasible"]
