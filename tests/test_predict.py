"""``ckt predict``: the shipped OCB model predicts a netlist a user wrote, and refuses what it cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ckt.cli import run
from ckt.learn import DEFAULT_MODEL, predict_netlists, read_model_record
from tests.conftest import have_ngspice

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "netlists" / "ocb_two_stage.cir"


def test_the_shipped_model_is_small_and_says_what_it_was_trained_on() -> None:
    record = read_model_record(DEFAULT_MODEL)
    assert record["dataset"] == "ocb" and record["basis"] == "ocb" and record["split"] == "group"
    assert record["targets"] == ["gain_db", "ugbw", "pm_deg", "fom"]
    assert sum(p.stat().st_size for p in DEFAULT_MODEL.iterdir()) < 20e6
    assert record["test"]["targets"]["gain_db"]["pearson"] > 0.9


@pytest.mark.ngspice
@pytest.mark.skipif(not have_ngspice(), reason="needs ngspice")
def test_prediction_of_a_hand_written_op_amp_is_near_its_simulation() -> None:
    from dataclasses import replace

    from ckt.data.ocb_label import label_netlists
    from ckt.netlist.ir import DeviceKind
    from ckt.netlist.read import read_netlist

    [row] = predict_netlists([EXAMPLE])
    deck = read_netlist(EXAMPLE)
    amplifier = replace(deck, devices=tuple(d for d in deck.devices if d.kind is not DeviceKind.VSOURCE))
    [truth] = label_netlists([amplifier], workers=1, progress=None)
    assert truth.valid
    assert abs(row["gain_db"] - truth.gain_db) < 30
    assert 1 / 4 < row["ugbw"] / truth.ugbw_hz < 4
    assert abs(row["fom"] - truth.fom) < 60


def test_cli_json_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "cs.cir"
    other.write_text("common source\nM1 out in 0 0 nmos w=1u l=1u\nR1 vdd out 10k\nV1 vdd 0 1.8\nV2 in 0 0.9\n.end\n")
    broken = tmp_path / "broken.cir"
    broken.write_text("t\nR1 a\n.end\n")
    assert run(["predict", str(EXAMPLE), str(other), str(broken), "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [r["netlist"] for r in rows] == [str(EXAMPLE), str(other), str(broken)]
    assert set(rows[0]) == {"netlist", "gain_db", "ugbw", "pm_deg", "fom"}
    assert rows[1]["error"].startswith("not decomposable")
    assert "broken.cir" in rows[2]["error"]
    assert run(["predict", str(EXAMPLE)]) == 0
    assert "gain_db" in capsys.readouterr().out


def test_a_folder_without_a_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["predict", str(EXAMPLE), "--model", str(tmp_path)]) == 2
    assert "not a trained model folder" in capsys.readouterr().err
