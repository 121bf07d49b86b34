"""``ckt simulate``: JSON schema, --set, the op-amp testbench, --plot, and one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ckt.cli import run
from tests.conftest import requires_ngspice

pytestmark = [pytest.mark.ngspice, requires_ngspice]

DIVIDER = """divider
.param r1=1k r2=1k
v1 in 0 dc 1
ra in mid {r1}
rb mid 0 {r2}
.dc v1 0 1 0.5
.meas dc vmid find v(mid) at=1
.meas dc nothing find v(mid) at=5
.end
"""

AMP = """* behavioural single-pole op-amp with a bias port
.param gm=1m r=1meg c=1p
.subckt amp gnda vdda vinn vinp vout ibn
gp gnda vout vinp vinn {gm}
r1 vout gnda {r}
c1 vout gnda {c}
rb ibn gnda 10k
.ends amp
.end
"""


@pytest.fixture()
def divider(tmp_path: Path) -> Path:
    path = tmp_path / "divider.cir"
    path.write_text(DIVIDER)
    return path


@pytest.fixture()
def amp(tmp_path: Path) -> Path:
    path = tmp_path / "amp.cir"
    path.write_text(AMP)
    return path


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err and "\n" not in err, captured.err
    assert "Traceback" not in err
    return err


def test_deck_json_schema_and_set(divider: Path, capsys):
    assert run(["simulate", str(divider), "--json"]) == 0
    out = _json(capsys)
    assert set(out) >= {"measurements", "metrics", "missing", "status", "elapsed_s"}
    assert out["status"] == "ok" and out["metrics"] is None
    assert out["measurements"]["vmid"] == pytest.approx(0.5)
    assert out["measurements"]["nothing"] is None
    assert run(["simulate", str(divider), "--json", "--set", "r2=3k", "--set", "R1=1000"]) == 0
    assert _json(capsys)["measurements"]["vmid"] == pytest.approx(0.75)


def test_deck_table(divider: Path, capsys):
    assert run(["simulate", str(divider)]) == 0
    out = capsys.readouterr().out
    assert ": ok in " in out and "vmid" in out and "failed" in out


def test_deck_plot_vector(tmp_path: Path, capsys):
    rc_deck = tmp_path / "rc.cir"
    rc_deck.write_text("rc\nv1 in 0 dc 0 ac 1\nr1 in out 1k\nc1 out 0 1u\n.ac dec 20 1 1meg\n.end\n")
    png = tmp_path / "rc.png"
    assert run(["simulate", str(rc_deck), "--plot", str(png)]) == 0
    assert png.is_file() and png.stat().st_size > 1000
    assert run(["simulate", str(rc_deck), "--plot", str(png), "--plot-vector", "v(nope)"]) == 2
    assert "--plot-vector" in _one_line_error(capsys)


def test_bad_param_lists_params(divider: Path, capsys):
    assert run(["simulate", str(divider), "--set", "cc=2p"]) == 2
    err = _one_line_error(capsys)
    assert "no .param named 'cc'" in err and "r1, r2" in err
    assert run(["simulate", str(divider), "--set", "r1"]) == 2
    assert "NAME=VALUE" in _one_line_error(capsys)


def test_missing_file(tmp_path: Path, capsys):
    assert run(["simulate", str(tmp_path / "absent.cir")]) == 2
    assert "no such file" in _one_line_error(capsys)


def test_failed_simulation_json_has_message(tmp_path: Path, capsys):
    bad = tmp_path / "bad.cir"
    bad.write_text("broken\nv1 in 0 dc 1\nm1 in in 0 0 nosuchmodel\n.op\n.end\n")
    assert run(["simulate", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["status"] == "error" and out["message"]
    err = captured.err.strip()
    assert "simulation error" in err and "\n" not in err and "Traceback" not in err


def test_testbench_json_ports_bias_and_plot(amp: Path, tmp_path: Path, capsys):
    png = tmp_path / "bode.png"
    argv = ["simulate", str(amp), "--testbench", "opamp", "--dut", "amp", "--ports",
            "vss=gnda vdd=vdda inn=vinn inp=vinp", "--port", "out=vout", "--port", "ibn=ibn", "--bias", "ibn=5u",
            "--vdd", "1.8", "--cload", "1p", "--json", "--plot", str(png)]
    assert run(argv) == 0
    out = _json(capsys)
    assert out["status"] == "ok" and out["measurements"] == {}
    assert set(out["metrics"]) == {"gain_db", "ugbw", "pm_deg", "gbw", "power_w", "stable"}  # pm_deg brings stable
    assert out["metrics"]["gain_db"] == pytest.approx(60.0, abs=1e-3)
    assert out["metrics"]["power_w"] == pytest.approx(1.8 * 5e-6, rel=1e-6)  # the bias current from vdd
    assert png.is_file() and png.stat().st_size > 1000
    assert run([*argv[:-2], "--set", "c=3p"]) == 0
    slower = _json(capsys)
    assert slower["metrics"]["ugbw"] < 0.6 * out["metrics"]["ugbw"]


def test_testbench_missing_metric_reason(amp: Path, capsys):
    argv = ["simulate", str(amp), "--testbench", "opamp", "--dut", "amp", "--ports",
            "vss=gnda vdd=vdda inn=vinn inp=vinp out=vout ibn=ibn", "--bias", "ibn=1u", "--vdd", "1.8",
            "--metrics", "gain_db,ugbw", "--set", "r=100", "--json"]
    assert run(argv) == 0
    out = _json(capsys)
    assert "ugbw" in out["missing"] and "ugbw" not in out["metrics"]


def test_testbench_errors(amp: Path, divider: Path, capsys):
    assert run(["simulate", str(amp), "--testbench", "opamp", "--dut", "nope"]) == 2
    assert "no subcircuit 'nope'" in _one_line_error(capsys)
    assert run(["simulate", str(amp), "--testbench", "opamp", "--dut", "amp", "--vdd", "1.8"]) == 2
    assert "no port for role" in _one_line_error(capsys)
    assert run(["simulate", str(amp), "--testbench", "opamp", "--dut", "amp", "--vdd", "1.8", "--ports",
                "vss=gnda vdd=vdda inn=vinn inp=vinp out=vout ibn=ibn"]) == 2
    assert "needs a current" in _one_line_error(capsys)
    assert run(["simulate", str(divider), "--dut", "amp"]) == 2
    assert "need --testbench" in _one_line_error(capsys)
    assert run(["simulate", str(amp), "--testbench", "opamp", "--dut", "amp", "--metrics", "bogus"]) == 2
    assert "unknown metric" in _one_line_error(capsys)


@requires_ngspice
def test_simulate_finds_includes_on_the_include_path(tmp_path, capsys):
    lib = tmp_path / "vendor"
    lib.mkdir()
    (lib / "diode.lib").write_text(".model dmod d is=1e-14\n")
    deck = tmp_path / "deck" / "top.cir"
    deck.parent.mkdir()
    deck.write_text('top\n.include "diode.lib"\nd1 a 0 dmod\nv1 a 0 0.6\n.dc v1 0.5 0.7 0.1\n'
                    '.meas dc id find i(v1) at=0.6\n.end\n')
    assert run(["simulate", str(deck), "--json"]) == 2  # not found next to the deck
    capsys.readouterr()
    assert run(["simulate", str(deck), "--include-path", str(lib), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"
