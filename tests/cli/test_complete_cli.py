"""``ckt complete``: the JSON contract, the text blocks, no suspects, and errors (the model is replaced
by a rule-based scorer: the command's wiring is what is under test)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from torch_geometric.data import Data

from ckt.cli import run
from ckt.linkpred.predictor import DEFAULT_MODEL

DATA = Path(__file__).resolve().parents[1] / "data" / "complete"


class Prefers:
    """Scores ``answer`` 0.8 and the other nets 0.4, 0.2, 0.1... in netlist order."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def score(self, graph: Data, pin: int, nets: Sequence[int]) -> list[float]:
        first = len(graph.device_names) + len(graph.pin_names)
        names = [graph.net_names[n - first] for n in nets]
        return [0.8 if n == self.answer else 0.4 / 2**i for i, n in enumerate(names)]


@pytest.fixture
def scorer(monkeypatch) -> dict:
    """Replaces the shipped model by ``Prefers(scorer["answer"])`` (``vdd`` unless a test sets it);
    ``scorer["asked"]`` collects the --checkpoint values."""
    state: dict = {"answer": "vdd", "asked": []}

    def load(folder):
        state["asked"].append(folder)
        return Prefers(state["answer"])

    monkeypatch.setattr("ckt.cli.complete.load_predictor", load)
    return state


def test_json_contract(scorer, capsys):
    assert run(["complete", str(DATA / "floating.cir"), "--json", "--top", "2"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert isinstance(records, list) and len(records) == 1
    [r] = records
    assert {"device", "pin", "net", "candidates"} <= set(r)
    assert (r["device"], r["pin"], r["net"], r["reason"]) == ("R1", "n", "n9", "floating")
    assert [c["net"] for c in r["candidates"]] == ["vdd", "0"]  # then netlist order
    assert r["candidates"][0]["score"] == pytest.approx(0.8)
    assert set(r["candidates"][0]) == {"net", "score"}
    assert scorer["asked"] == [DEFAULT_MODEL]


def test_json_for_several_suspects_keeps_netlist_order(scorer, capsys):
    assert run(["complete", str(DATA / "shorted.cir"), "--json", "--top", "1"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["device"], r["pin"]) for r in records] == [
        ("C1", "p"), ("C1", "n"), ("M1", "d"), ("M1", "g"), ("M1", "s")
    ]
    assert all(len(r["candidates"]) == 1 and r["candidates"][0]["net"] == "vdd" for r in records)


def test_text_blocks(scorer, capsys):
    scorer["answer"] = "/out"
    assert run(["complete", str(DATA / "kicad.cir"), "--checkpoint", "some/model"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("R2 pin n on net unconnected-(R2-Pad2) (")
    assert out[0].endswith("kicad.cir:7): unconnected: pin left unconnected (net 'unconnected-(R2-Pad2)')")
    assert [line.split() for line in out[1:]] == [["1.", "/out", "0.800"], ["2.", "/vdd", "0.400"],
                                                  ["3.", "GND", "0.200"]]
    assert scorer["asked"] == [Path("some/model")]


def test_no_suspects_exits_0_without_loading_the_model(monkeypatch, capsys):
    def refuse(checkpoint):
        raise AssertionError("the model should not be loaded")

    monkeypatch.setattr("ckt.cli.complete.load_predictor", refuse)
    path = str(DATA / "opamp.cir")
    assert run(["complete", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert run(["complete", path]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: no dangling or suspicious pins"


def test_bad_netlist_is_a_located_error(tmp_path, capsys):
    bad = tmp_path / "bad.cir"
    bad.write_text("bad deck\nR1 a 0 1k\nM1 a b\n.end\n")
    assert run(["complete", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3" in err and "Traceback" not in err


def test_missing_checkpoint_is_a_checkpoint_error(tmp_path, capsys):
    assert run(["complete", str(DATA / "floating.cir"), "--checkpoint", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "no link-prediction model there; train one with `ckt train linkpred" in err and "Traceback" not in err


def test_top_must_be_positive(capsys):
    assert run(["complete", str(DATA / "floating.cir"), "--top", "0"]) == 2
    assert "--top" in capsys.readouterr().err


def test_the_shipped_model_completes_out_of_the_box(capsys):
    """No stand-in: the shipped checkpoint scores every candidate of the dangling pin."""
    assert run(["complete", str(DATA / "floating.cir"), "--json", "--top", "3"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    scores = [c["score"] for c in record["candidates"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True) and all(0.0 <= v <= 1.0 for v in scores)
