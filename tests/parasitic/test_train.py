"""Both models train (loss drops), checkpoints resume exactly, and bad requests are refused."""

from __future__ import annotations

import json

import pytest
import torch

from ckt.errors import CheckpointError, ModelConfigError
from ckt.parasitic.train import TrainRequest, _sides_data, _supervised_step, evaluate_checkpoint, fit, problem

FAST = {"hidden": 16, "layers": 2, "steps_per_epoch": 2, "region_size": 40, "batch_links": 128,
        "pretrain_epochs": 2, "progress": False}


@pytest.mark.parametrize(("model", "loss"), [("gnn", "mse"), ("gcl", "balanced")])
def test_training_lowers_the_loss(small_graph, model, loss):
    result = fit(TrainRequest(model=model, loss=loss, epochs=8, patience=50, **FAST), small_graph)
    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == 8
    assert losses[-1] < losses[0]
    assert set(result.test) == {"ground", "coupling"}
    assert result.split["inductive"] and result.split["dropped_links"] >= 0


def test_resume_continues_as_if_never_stopped(small_graph, tmp_path):
    straight = fit(TrainRequest(out=str(tmp_path / "a"), epochs=4, patience=50, **FAST), small_graph)
    fit(TrainRequest(out=str(tmp_path / "b"), epochs=2, patience=50, **FAST), small_graph)
    resumed = fit(TrainRequest(out=str(tmp_path / "b"), epochs=4, patience=50, resume=True, **FAST), small_graph)
    assert [h["train_loss"] for h in resumed.history] == pytest.approx([h["train_loss"] for h in straight.history])
    saved = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert saved["epochs_run"] == 4
    again = evaluate_checkpoint(tmp_path / "b", small_graph)
    assert again["ground"]["r2_log10"] == pytest.approx(resumed.test["ground"]["r2_log10"], abs=1e-5)


def test_resume_with_another_request_is_refused(small_graph, tmp_path):
    fit(TrainRequest(out=str(tmp_path), epochs=1, patience=50, **FAST), small_graph)
    with pytest.raises(CheckpointError, match="loss"):
        fit(TrainRequest(out=str(tmp_path), epochs=2, loss="balanced", resume=True, patience=50, **FAST), small_graph)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        fit(TrainRequest(out=str(tmp_path / "none"), epochs=1, resume=True, **FAST), small_graph)


def test_early_stopping_on_validation(small_graph):
    result = fit(TrainRequest(epochs=40, patience=1, lr=1e-12, **FAST), small_graph)
    assert result.stopped_early and result.epochs_run < 40


def test_bad_requests_are_refused():
    with pytest.raises(ModelConfigError, match="model"):
        TrainRequest(model="transformer")
    with pytest.raises(ModelConfigError, match="positive"):
        TrainRequest(epochs=0)


def test_one_step_uses_only_training_side(small_graph):
    request = TrainRequest(**FAST)
    prob = problem(small_graph, request)
    d = _sides_data(prob, "train", torch.device("cpu"))
    test_nodes = set(torch.nonzero(prob.split.node_side == 2).flatten().tolist())
    assert not (set(d["edge_index"].flatten().tolist()) & test_nodes)
    assert not (set(d["nets"].tolist()) & test_nodes)
    from ckt.parasitic.model import ParasiticModel
    from ckt.parasitic.tasks import N_BUCKETS, bucket_edges

    model = ParasiticModel(request.config)
    model.set_statistics(d["net_y"], d["link_y"], bucket_edges(d["net_y"]))
    loss = _supervised_step(model, d, prob.inputs.x, request, torch.Generator().manual_seed(0),
                            torch.full((N_BUCKETS,), 1 / N_BUCKETS))
    assert torch.isfinite(loss)


def test_a_checkpoint_of_other_features_is_refused(small_graph, tmp_path):
    from ckt.nn.checkpoint import write_payload
    from ckt.parasitic.train import load_model

    fit(TrainRequest(out=str(tmp_path), epochs=1, patience=50, **FAST), small_graph)
    model, payload = load_model(tmp_path)
    write_payload(tmp_path / "old.pt", {**payload, "features": payload["features"][:-1]})
    with pytest.raises(CheckpointError, match="other input features"):
        load_model(tmp_path / "old.pt")


def test_circuitgcl_buckets_are_fixed_decade_bins_and_travel_in_the_checkpoint(small_graph, tmp_path):
    from ckt.cli.parasitic import _BUCKETS
    from ckt.parasitic.train import load_model
    from ckt.parasitic.tasks import BUCKET_SCHEMES, bucket_edges, bucket_of

    assert _BUCKETS == BUCKET_SCHEMES
    edges = bucket_edges(torch.tensor([-17.0, -16.9]), "circuitgcl")  # whatever the labels
    # CircuitGCL's label log10(C * 1e20) / 6 cut at 0.2 .. 0.8: 1e-18 F is class 1, 1e-17 F class 2
    assert torch.equal(bucket_of(torch.tensor([-19.5, -18.0, -17.0, -16.0, -15.0]), edges),
                       torch.tensor([0, 1, 2, 3, 4]))
    with pytest.raises(ModelConfigError, match="bucket scheme"):
        bucket_edges(torch.zeros(10), "deciles")
    with pytest.raises(ModelConfigError, match="unknown buckets"):
        TrainRequest(buckets="deciles")
    fit(TrainRequest(out=str(tmp_path), epochs=1, buckets="circuitgcl", **FAST), small_graph)
    model, _ = load_model(tmp_path / "best.pt")
    assert torch.allclose(model.edges, edges)
