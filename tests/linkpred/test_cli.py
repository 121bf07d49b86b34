"""``ckt train linkpred`` and ``ckt eval linkpred`` on a folder dataset written here (seconds)."""

from __future__ import annotations

import json

from ckt.cli import run
from tests.linkpred.circuits import write_folder


def test_train_then_eval_both_protocols(tmp_path, capsys):
    src = tmp_path / "nets"
    write_folder(src, 10)
    out = tmp_path / "run"
    args = ["train", "linkpred", "--dataset", "folder", "--source", str(src), "--root", str(tmp_path / "cache"),
            "--model", "gnn", "--out", str(out), "--epochs", "2", "--hidden", "16", "--layers", "2",
            "--threads", "1", "--seed", "1"]
    assert run(args) == 0
    captured = capsys.readouterr()
    assert "link model in" in captured.out and "completion top-1" in captured.out and "epoch 2/2" in captured.err
    assert run(["eval", "linkpred", str(out), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "model.json").read_text())["test"]
    assert metrics["protocol"] == "hard" and metrics["trained_on"] == metrics["dataset"] == "folder"
    assert metrics["accuracy"] == saved["accuracy"] and metrics["completion"] == saved["completion"]
    assert run(["eval", "linkpred", str(out), "--protocol", "aclp"]) == 0
    assert capsys.readouterr().out.startswith("folder (aclp): accuracy ")


def test_eval_of_a_folder_without_a_model_is_a_one_line_error(tmp_path, capsys):
    assert run(["eval", "linkpred", str(tmp_path)]) == 2
    assert "not a trained link-prediction folder" in capsys.readouterr().err
