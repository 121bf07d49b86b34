"""CLI contracts: ckt parasitics, ckt train/eval parasitic, ckt size --with-parasitics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ckt.cli import run
from ckt.errors import CktError
from ckt.netlist.ir import DeviceKind
from ckt.netlist.read import read_netlist
from ckt.parasitic.annotate import DEFAULT_CHECKPOINT, estimate_ground_caps, with_parasitic_caps
from ckt.parasitic.train import TrainRequest, fit

ROOT = Path(__file__).resolve().parents[2]
DECK = """* inverter chain and a tiny OTA
.param wn=1u
m1 mid in 0 0 nmos w={wn} l=0.1u
m2 mid in vdd vdd pmos w=2u l=0.1u
m3 out mid 0 0 nmos w=0.5u l=0.1u
m4 out mid vdd vdd pmos w=1u l=0.1u
r1 out load 1k
.subckt amp a b o vdd vss
m1 o a t vss nmos w=4u l=1u
m2 x b t vss nmos w=4u l=1u
m3 x x vdd vdd pmos w=2u l=1u
m4 o x vdd vdd pmos w=2u l=1u
.ends amp
.end
"""


@pytest.fixture(scope="module")
def tiny_model(small_graph, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    fit(TrainRequest(out=str(out), epochs=2, steps_per_epoch=1, hidden=8, layers=1, region_size=40,
                     batch_links=64, progress=False), small_graph)
    return out / "best.pt"


@pytest.fixture()
def deck(tmp_path):
    path = tmp_path / "deck.cir"
    path.write_text(DECK)
    return path


def test_parasitics_json_contract(deck, tiny_model, capsys):
    assert run(["parasitics", str(deck), "--model", str(tiny_model), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    top = {r["net"] for r in rows if r["scope"] == ""}
    amp = {r["net"] for r in rows if r["scope"] == "amp"}
    assert top == {"in", "mid", "out", "load"}  # rails 0 and vdd get no estimate
    assert amp == {"a", "b", "o", "t", "x"}
    assert all(r["farads"] > 0 and set(r) == {"scope", "net", "farads", "bucket", "fanout"} for r in rows)
    assert next(r for r in rows if r["net"] == "mid")["fanout"] == 4


def test_parasitics_text_with_the_shipped_model(deck, capsys):
    assert DEFAULT_CHECKPOINT.is_file(), "the shipped parasitic checkpoint is missing"
    assert DEFAULT_CHECKPOINT.stat().st_size <= 5 * 2**20
    assert run(["parasitics", str(deck)]) == 0
    out = capsys.readouterr().out
    assert "mid" in out and "amp" in out


def test_parasitics_bad_checkpoint_is_a_clean_error(deck, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert run(["parasitics", str(deck), "--model", str(bad)]) == 2
    assert "not a ckt model checkpoint" in capsys.readouterr().err


def test_caps_land_in_their_scope(deck, tiny_model):
    net = read_netlist(deck)
    estimates = estimate_ground_caps(net, tiny_model, scope="amp")
    assert {e.scope for e in estimates} == {"amp"}
    annotated = with_parasitic_caps(net, estimates)
    amp = next(s for s in annotated.subckts if s.name == "amp")
    caps = [d for d in amp.devices if d.kind is DeviceKind.CAPACITOR]
    assert len(caps) == len(estimates) and all(dict(c.terminals)["n"] == "0" for c in caps)
    assert len(annotated.devices) == len(net.devices)
    with pytest.raises(CktError, match="no subcircuit"):
        estimate_ground_caps(net, tiny_model, scope="nope")


def test_size_with_parasitics_sizes_the_annotated_dut(monkeypatch, tmp_path, capsys):
    seen = {}

    class Stop(CktError):
        pass

    class Capture:
        def __init__(self, netlist, spec, executor, **kwargs):
            seen["netlist"] = netlist
            raise Stop("captured")

    monkeypatch.setattr("ckt.opt.evaluator.SimEvaluator", Capture)
    args = ["size", str(ROOT / "netlists" / "ota_5t.cir"), "--spec", str(ROOT / "netlists" / "ota_5t.yaml"),
            "--out", str(tmp_path), "--workers", "1", "--batch", "1"]
    assert run(args + ["--with-parasitics"]) == 2
    assert "added" in capsys.readouterr().err
    dut = next(s for s in seen["netlist"].subckts if s.name == "ota5t")
    caps = {dict(d.terminals)["p"] for d in dut.devices if d.kind is DeviceKind.CAPACITOR}
    assert caps == {"d1", "out", "tail", "inp", "inn", "ibias"}
    top_caps = [d for d in seen["netlist"].devices if d.name.upper().startswith("CPAR_")]
    assert not top_caps  # the testbench is left alone
    assert run(args) == 2
    plain = next(s for s in seen["netlist"].subckts if s.name == "ota5t")
    assert not [d for d in plain.devices if d.kind is DeviceKind.CAPACITOR]


def test_train_and_eval_parasitic_cli(digtime_file, tmp_path, capsys):
    root = tmp_path / "data"
    out = tmp_path / "run"
    assert run(["train", "parasitic", "--out", str(out), "--root", str(root), "--source", str(digtime_file),
                "--model", "gcl", "--loss", "balanced", "--epochs", "1", "--steps", "1", "--pretrain-epochs", "1",
                "--hidden", "8", "--layers", "1", "--quiet", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["split"]["inductive"] and metrics["test"]["ground"]["n"] > 0
    assert run(["eval", "parasitic", str(out), "--root", str(root), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["coupling"]["r2_log10"] == pytest.approx(metrics["test"]["coupling"]["r2_log10"], abs=1e-5)
