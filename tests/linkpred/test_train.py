"""Both link models train on a tiny dataset made here; a resumed run repeats an uninterrupted one;
bad checkpoints are refused with the reason."""

from __future__ import annotations

import json

import pytest
import torch

from ckt.errors import CheckpointError, ModelConfigError
from ckt.linkpred.model import load_model, read_model, save_model
from ckt.linkpred.train import LinkTrainRequest, _listwise, train_linkpred
from tests.linkpred.circuits import tiny_circuits


def _request(tmp_path, model: str, **kw) -> LinkTrainRequest:
    base = dict(dataset="tiny", model=model, out=str(tmp_path / model), pins_per_circuit=8, eval_pins=4,
                epochs=8, batch_size=16, lr=3e-3, patience=0, hidden=16, layers=2, hops=2, threads=1, progress=False)
    return LinkTrainRequest(**{**base, **kw})


@pytest.mark.parametrize("model", ["seal", "anchored", "gnn"])
def test_training_lowers_the_loss_and_writes_a_run_folder(tmp_path, model):
    record = train_linkpred(_request(tmp_path, model, epochs=12), tiny_circuits())
    losses = [row["train_loss"] for row in record["history"]]
    assert len(losses) == 12 and min(losses[-3:]) < 0.9 * losses[0]
    folder = tmp_path / model
    assert {p.name for p in folder.iterdir()} >= {"best.pt", "last.pt", "history.json", "model.json"}
    saved = json.loads((folder / "model.json").read_text())
    assert saved["config"]["kind"] == model and saved["test"]["protocol"] == "hard"
    assert 0.0 <= saved["test"]["completion"]["top1"] <= 1.0 and saved["test"]["n"] > 0
    assert saved["best_epoch"] == 1 + min(range(12), key=lambda i: record["history"][i]["val_loss"])


@pytest.mark.parametrize("model", ["seal", "anchored", "gnn"])
def test_resume_repeats_the_uninterrupted_run(tmp_path, model):
    circuits = tiny_circuits(9)
    whole = train_linkpred(_request(tmp_path / "a", model, epochs=3), circuits)
    train_linkpred(_request(tmp_path / "b", model, epochs=1), circuits)
    resumed = train_linkpred(_request(tmp_path / "b", model, epochs=3, resume=True), circuits)
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in whole["history"]]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in resumed["history"]] == strip
    a = read_model(tmp_path / "a" / model / "last.pt")["state_dict"]
    b = read_model(tmp_path / "b" / model / "last.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(CheckpointError, match="lr"):
        train_linkpred(_request(tmp_path / "b", model, epochs=5, lr=0.5, resume=True), circuits)


def test_listwise_term_is_the_cross_entropy_of_each_querys_positive():
    logits = torch.tensor([2.0, 0.5, -1.0, 0.0, 3.0])
    labels = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0])
    query = torch.tensor([7, 7, 7, 9, 9])
    expected = (-torch.log_softmax(logits[:3], 0)[0] - torch.log_softmax(logits[3:], 0)[0]) / 2
    assert torch.allclose(_listwise(logits, labels, query), expected)
    big = _listwise(logits * 100, labels, query)  # no overflow: the softmax is shifted by each query's max
    assert torch.isfinite(big) and big > 100


def test_listwise_loss_and_lr_schedule_train_and_resume_exactly(tmp_path):
    circuits = tiny_circuits(9)
    kw = dict(loss="listwise", lr_patience=1, lr=0.2)  # a high rate, so validation stalls and the rate halves
    whole = train_linkpred(_request(tmp_path / "a", "anchored", epochs=4, **kw), circuits)
    rates = [row["lr"] for row in whole["history"]]
    assert rates[0] == 0.2 and rates == sorted(rates, reverse=True) and rates[-1] < 0.2
    assert whole["history"][0]["train_loss"] > whole["history"][0]["val_loss"]  # the softmax term is in the loss
    train_linkpred(_request(tmp_path / "b", "anchored", epochs=2, **kw), circuits)
    resumed = train_linkpred(_request(tmp_path / "b", "anchored", epochs=4, resume=True, **kw), circuits)
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in whole["history"]]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in resumed["history"]] == strip


def test_aclp_protocol_trains_and_reports_cross_circuit_negatives(tmp_path):
    record = train_linkpred(_request(tmp_path, "gnn", protocol="aclp", epochs=3), tiny_circuits())
    assert record["test"]["protocol"] == "aclp" and record["test"]["cross_circuit_negatives"] > 0


def test_bad_checkpoints_raise_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such"):
        load_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="weights_only"):
        load_model(tmp_path / "junk.pt")
    torch.save({"format": "ckt.linkpred.checkpoint", "schema_version": 0}, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="schema version 0"):
        load_model(tmp_path / "old.pt")
    from ckt.linkpred.model import build_model

    model = build_model({"kind": "gnn", "hidden": 8, "layers": 1})
    save_model(tmp_path / "ok.pt", model)
    payload = torch.load(tmp_path / "ok.pt", weights_only=True)
    payload["config"]["hidden"] = 12
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="cannot be rebuilt"):
        load_model(tmp_path / "other.pt")


def test_bad_requests_are_refused():
    with pytest.raises(ModelConfigError, match="unknown link model"):
        LinkTrainRequest(model="mlp")
    with pytest.raises(ModelConfigError, match="protocol"):
        LinkTrainRequest(protocol="easy")
    with pytest.raises(ModelConfigError, match="unknown linkpred loss"):
        LinkTrainRequest(loss="hinge")
    with pytest.raises(ModelConfigError, match="lr_patience"):
        LinkTrainRequest(lr_patience=-1)
    with pytest.raises(ModelConfigError, match="resume needs out"):
        LinkTrainRequest(resume=True)
