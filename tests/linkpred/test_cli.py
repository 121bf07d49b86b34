"""``ckt train linkpred`` and ``ckt eval linkpred`` on a folder dataset written here (seconds)."""

from __future__ import annotations

import json

from ckt.cli import run
from tests.linkpred.circuits import write_folder


def _train_args(tmp_path, model: str, *extra: str) -> list[str]:
    """``ckt train linkpred`` on a 10-circuit folder dataset written under ``tmp_path``, into ``tmp_path/run``."""
    src = tmp_path / "nets"
    write_folder(src, 10)
    return ["train", "linkpred", "--dataset", "folder", "--source", str(src), "--root", str(tmp_path / "cache"),
            "--model", model, "--out", str(tmp_path / "run"), "--layers", "2", "--threads", "1", *extra]


def test_train_then_eval_both_protocols(tmp_path, capsys):
    out = tmp_path / "run"
    args = _train_args(tmp_path, "gnn", "--epochs", "2", "--hidden", "16", "--seed", "1")
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


def test_anchored_trains_on_every_negative_by_default(tmp_path, capsys):
    out = tmp_path / "run"
    args = _train_args(tmp_path, "anchored", "--epochs", "1", "--hidden", "8", "--name-dropout", "0.25",
                       "--loss", "listwise", "--lr-patience", "2")
    assert run(args) == 0
    saved = json.loads((out / "model.json").read_text())
    assert saved["request"]["negatives"] is None and saved["config"]["name_dropout"] == 0.25
    assert saved["request"]["loss"] == "listwise" and saved["request"]["lr_patience"] == 2
    assert saved["sizes"]["train_pairs"] > 2 * saved["sizes"]["train_queries"]


def test_bad_negatives_and_misplaced_name_dropout_are_one_line_errors(tmp_path, capsys):
    base = ["train", "linkpred", "--dataset", "folder", "--source", str(tmp_path), "--out", str(tmp_path / "r")]
    assert run([*base, "--negatives", "many"]) == 2
    assert "neither a count nor 'all'" in capsys.readouterr().err
    assert run([*base, "--model", "seal", "--name-dropout", "0.5"]) == 2
    assert "name_dropout applies to the anchored model only" in capsys.readouterr().err
    # refused in the request, before the (empty) folder is read
    assert run([*base, "--model", "anchored", "--name-dropout", "1.5"]) == 2
    assert "name_dropout must be in [0, 1], got 1.5" in capsys.readouterr().err
