"""Training: the loss falls on a tiny learnable task for every encoder, resume equals an
uninterrupted run, selection and stopping follow the validation split, metrics, checkpoints."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

from ckt.errors import CheckpointError, ModelConfigError
from ckt.graph.to_pyg import save_graph
from ckt.nn.checkpoint import SCHEMA_VERSION, load_model, read_checkpoint, save_checkpoint
from ckt.nn.model import ENCODERS, CircuitModel, build_model
from ckt.nn.train import _mean_loss, evaluate, fit, predict
from tests.nn.circuits import BLOCK_TYPES, ocb_like, rc_ladder


def flat_task(n: int, seed: int) -> list[Data]:
    """RC ladders whose targets are log10 R and the number of sections: both readable from the graph."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        r, stages = 10 ** rng.uniform(2, 5), rng.randint(1, 3)
        data = rc_ladder(r, 1e-12, stages)
        data.y = torch.tensor([[math.log10(r), float(stages)]])
        out.append(data)
    return out


def two_level_task(n: int, seed: int) -> list[Data]:
    """Two-stage amplifiers whose target is log10 of the product of the stage gm values."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        gm1, gm2 = 10 ** rng.uniform(-4, -2), 10 ** rng.uniform(-4, -2)
        data = ocb_like(gm1, gm2, 1e-12 if i % 2 else None)[0]
        data.y = torch.tensor([[math.log10(gm1 * gm2)]])
        out.append(data)
    return out


def model(name: str, targets: list[str], **encoder: object) -> CircuitModel:
    options = {"name": name, "hidden": 16, "out_dim": 16, **encoder}
    if name in ("two_level", "dagnn"):
        options["num_block_types"] = len(BLOCK_TYPES)
    torch.manual_seed(0)
    return build_model({"encoder": options, "head": {"task": "regression", "targets": targets, "hidden": 16}})


def task(name: str, n: int, seed: int) -> tuple[list[Data], list[str]]:
    if name in ("two_level", "dagnn"):
        return two_level_task(n, seed), ["log_gm"]
    return flat_task(n, seed), ["log_r", "stages"]


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_loss_falls_on_a_tiny_learnable_task(name: str) -> None:
    train, targets = task(name, 12, 1)
    val, _ = task(name, 4, 2)
    m = model(name, targets)
    m.encoder.set_input_normalisation(torch.cat([d.x for d in train]))
    m.head.set_normalisation(torch.cat([d.y for d in train]))
    before = _mean_loss(m, train, 12, torch.device("cpu"))
    # The flat encoders' sum readouts are large on ladders: at 3e-3 GIN can collapse to the mean.
    lr = 3e-3 if name in ("two_level", "dagnn") else 1e-3
    history = fit(m, train, val, {"epochs": 40, "batch_size": 4, "lr": lr, "progress": False, "patience": 40})
    after = _mean_loss(m, train, 12, torch.device("cpu"))
    assert len(history) == 40
    assert after < 0.5 * before, (before, after, [round(h["train_loss"], 3) for h in history])


def test_resume_gives_the_same_run_as_an_uninterrupted_one(tmp_path: Path) -> None:
    train, targets = task("gin", 10, 3)
    val, _ = task("gin", 4, 4)
    config = {"batch_size": 3, "lr": 5e-3, "progress": False, "seed": 7}
    straight = model("gin", targets, dropout=0.3)
    full = fit(straight, train, val, {**config, "epochs": 4, "out": str(tmp_path / "a")})

    first = model("gin", targets, dropout=0.3)
    part = fit(first, train, val, {**config, "epochs": 2, "out": str(tmp_path / "b")})
    lines: list[str] = []
    resumed = model("gin", targets, dropout=0.3)
    rest = fit(resumed, train, val, {**config, "epochs": 4, "out": str(tmp_path / "b"), "resume": True},
               log=lines.append)
    assert any("resumed" in line and "epoch 2" in line for line in lines)
    keys = ("epoch", "train_loss", "val_loss", "best_val_loss")
    assert [[h[k] for k in keys] for h in part] == [[h[k] for k in keys] for h in full[:2]]
    assert [[h[k] for k in keys] for h in rest] == [[h[k] for k in keys] for h in full]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    # a different optimiser setting is another run, not a resume
    with pytest.raises(CheckpointError, match="lr: 0.005 != 0.001"):
        fit(model("gin", targets, dropout=0.3), train, val,
            {**config, "lr": 1e-3, "epochs": 5, "out": str(tmp_path / "b"), "resume": True})


def test_the_learning_rate_halves_on_a_validation_plateau_and_resumes_with_its_schedule(tmp_path: Path) -> None:
    train, targets = task("gin", 8, 5)
    val = [d.clone() for d in flat_task(4, 6)]
    for d in val:  # targets unrelated to the graphs: the validation loss soon stops improving
        d.y = torch.tensor([[9.0, -5.0]])
    config = {"batch_size": 4, "lr": 1e-2, "progress": False, "patience": 50, "lr_patience": 1, "seed": 3}
    full = fit(model("gin", targets), train, val, {**config, "epochs": 8, "out": str(tmp_path / "a")})
    rates = [h["lr"] for h in full]
    assert rates[0] == 1e-2 and min(rates) < 1e-2
    assert all(b in (a, a / 2) for a, b in zip(rates, rates[1:]))
    constant = fit(model("gin", targets), train, val, {**config, "lr_patience": 0, "epochs": 8})
    assert {h["lr"] for h in constant} == {1e-2}

    fit(model("gin", targets), train, val, {**config, "epochs": 4, "out": str(tmp_path / "b")})
    rest = fit(model("gin", targets), train, val, {**config, "epochs": 8, "out": str(tmp_path / "b"), "resume": True})
    assert [(h["lr"], h["val_loss"]) for h in rest] == [(h["lr"], h["val_loss"]) for h in full]


def test_early_stopping_and_selection_use_the_validation_split(tmp_path: Path) -> None:
    train, targets = task("gin", 8, 5)
    # validation targets unrelated to the graphs: the validation loss soon stops improving
    val = [d.clone() for d in flat_task(4, 6)]
    for d in val:
        d.y = torch.tensor([[9.0, -5.0]])
    m = model("gcn", targets)
    history = fit(m, train, val, {"epochs": 60, "batch_size": 4, "lr": 2e-2, "patience": 3, "progress": False,
                                  "out": str(tmp_path)})
    best = min(range(len(history)), key=lambda i: history[i]["val_loss"])
    assert len(history) == best + 1 + 3 < 60
    assert _mean_loss(m, val, 4, torch.device("cpu")) == pytest.approx(history[best]["val_loss"], rel=1e-6)
    saved = read_checkpoint(tmp_path / "best.pt")
    assert saved["training"]["epoch"] == best + 1
    assert json.loads((tmp_path / "history.json").read_text()) == history


def test_evaluate_reports_raw_units() -> None:
    train, targets = task("gin", 10, 8)
    m = model("gin", targets)
    fit(m, train, train[:4], {"epochs": 3, "progress": False})
    metrics = evaluate(m, train)
    pred = predict(m, train).double()
    y = torch.cat([d.y for d in train]).double()
    assert metrics["n"] == 10 and set(metrics["targets"]) == {"log_r", "stages"}
    for i, t in enumerate(targets):
        rmse = float(((pred[:, i] - y[:, i]) ** 2).mean().sqrt())
        r = float(torch.corrcoef(torch.stack([pred[:, i], y[:, i]]))[0, 1])
        assert metrics["targets"][t]["rmse"] == pytest.approx(rmse)
        assert metrics["targets"][t]["pearson"] == pytest.approx(r)
    # predictions come back in the targets' own units, not standardised ones
    assert 1.5 < float(pred[:, 0].mean()) < 5.5


def test_evaluate_classification_metrics() -> None:
    graphs = flat_task(9, 9)
    for i, d in enumerate(graphs):
        d.y = torch.tensor([i % 3])
    m = build_model({"encoder": {"name": "gin", "hidden": 16, "out_dim": 16},
                     "head": {"task": "classification", "classes": ["a", "b", "c"]}})
    fit(m, graphs, graphs[:3], {"epochs": 2, "progress": False})
    metrics = evaluate(m, graphs)
    pred = predict(m, graphs).tolist()
    truth = [i % 3 for i in range(9)]
    confusion = [[sum(1 for t, p in zip(truth, pred) if t == i and p == j) for j in range(3)] for i in range(3)]
    assert metrics["confusion"] == confusion and metrics["classes"] == ["a", "b", "c"]
    assert metrics["accuracy"] == pytest.approx(sum(t == p for t, p in zip(truth, pred)) / 9)
    f1s = []
    for c in range(3):
        tp = confusion[c][c]
        fp, fn = sum(confusion[r][c] for r in range(3)) - tp, sum(confusion[c]) - tp
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    assert metrics["macro_f1"] == pytest.approx(sum(f1s) / len(f1s))


def test_checkpoint_round_trip_and_refusals(tmp_path: Path) -> None:
    train, targets = task("gin", 6, 10)
    m = model("gin", targets)
    fit(m, train, train[:2], {"epochs": 2, "progress": False, "out": str(tmp_path)})
    loaded = load_model(tmp_path / "best.pt")
    assert torch.allclose(predict(loaded, train), predict(m, train))
    saved = read_checkpoint(tmp_path / "best.pt")
    assert saved["targets"] == targets and set(saved["normalisation"]) == set(targets)
    assert saved["normalisation"]["stages"]["mean"] == pytest.approx(
        float(torch.cat([d.y for d in train])[:, 1].mean()))

    # another model: resuming a GCN from the GIN run is refused, naming the difference
    with pytest.raises(CheckpointError, match="encoder.name: 'gin' != 'gcn'"):
        fit(model("gcn", targets), train, train[:2], {"epochs": 3, "progress": False, "out": str(tmp_path),
                                                     "resume": True})
    # another schema version
    payload = torch.load(tmp_path / "best.pt", weights_only=True)
    payload["schema_version"] = SCHEMA_VERSION + 1
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match=f"schema version {SCHEMA_VERSION + 1}"):
        load_model(tmp_path / "future.pt")
    # a graph file and a pickled object are not checkpoints
    save_graph(train[0], tmp_path / "graph.pt")
    with pytest.raises(CheckpointError, match="format 'ckt.graph'"):
        load_model(tmp_path / "graph.pt")
    torch.save({"format": "ckt.nn.checkpoint", "x": Path("/")}, tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match="not a ckt model checkpoint"):
        read_checkpoint(tmp_path / "pickled.pt")
    # weights that do not fit the config
    payload = torch.load(tmp_path / "best.pt", weights_only=True)
    payload["config"]["encoder"]["hidden"] = 32
    torch.save(payload, tmp_path / "resized.pt")
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_model(tmp_path / "resized.pt")
    save_checkpoint(tmp_path / "again.pt", loaded)
    assert read_checkpoint(tmp_path / "again.pt")["config"] == m.config


def test_fit_refuses_bad_options_and_empty_splits() -> None:
    train, targets = task("gin", 2, 11)
    with pytest.raises(ModelConfigError, match="unknown training options"):
        fit(model("gin", targets), train, train, {"epoch": 3})
    if not torch.cuda.is_available():
        with pytest.raises(ModelConfigError, match="CUDA is not available"):
            fit(model("gin", targets), train, train, {"device": "cuda"})
    with pytest.raises(ModelConfigError, match="non-empty"):
        fit(model("gin", targets), train, [], {"progress": False})
    with pytest.raises(ModelConfigError, match="empty"):
        evaluate(model("gin", targets), [])
    with pytest.raises(ModelConfigError, match="unknown head task"):
        build_model({"encoder": {"name": "gin"}, "head": {"task": "ranking"}})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_fit_on_cuda_and_load_on_the_cpu(name: str, tmp_path: Path) -> None:
    train, targets = task(name, 8, 12)
    m = model(name, targets)
    fit(m, train, train[:4], {"epochs": 2, "batch_size": 4, "device": "cuda", "progress": False,
                              "out": str(tmp_path)})
    assert next(m.parameters()).is_cuda
    on_gpu = predict(m, train, device="cuda")
    on_cpu = predict(load_model(tmp_path / "best.pt"), train, device="cpu")
    assert torch.allclose(on_gpu, on_cpu, atol=1e-4, rtol=1e-4)
    fit(model(name, targets), train, train[:4], {"epochs": 3, "batch_size": 4, "device": "cuda",
                                                 "progress": False, "out": str(tmp_path), "resume": True})


def test_resume_without_a_checkpoint_starts_fresh_and_needs_a_folder(tmp_path: Path) -> None:
    train, targets = task("gin", 4, 13)
    lines: list[str] = []
    history = fit(model("gin", targets), train, train, {"epochs": 1, "out": str(tmp_path), "resume": True},
                  log=lines.append)
    assert len(history) == 1 and "starting a new run" in lines[0] and (tmp_path / "last.pt").exists()
    with pytest.raises(ModelConfigError, match="needs out="):
        fit(model("gin", targets), train, train, {"resume": True})


def test_fit_takes_an_in_memory_dataset_of_two_level_graphs() -> None:
    from torch_geometric.data import InMemoryDataset

    class Graphs(InMemoryDataset):
        def __init__(self, graphs: list[Data]) -> None:
            super().__init__()
            self.data, self.slices = self.collate(graphs)

    graphs = two_level_task(8, 14)
    dataset = Graphs(graphs)
    assert torch.equal(dataset[3].inner_edge_index, graphs[3].inner_edge_index)
    config = {"epochs": 2, "batch_size": 4, "progress": False}
    from_list, from_dataset = model("two_level", ["log_gm"]), model("two_level", ["log_gm"])
    a = fit(from_list, graphs[:6], graphs[6:], config)
    b = fit(from_dataset, dataset[:6], dataset[6:], config)
    assert [h["val_loss"] for h in a] == pytest.approx([h["val_loss"] for h in b], rel=1e-6)


def test_log_targets_are_learnt_on_their_log_and_predicted_in_raw_units() -> None:
    train, _ = task("gin", 12, 1)
    for d in train:  # log_r -> r itself, a quantity spanning three decades
        d.y = torch.tensor([[10 ** float(d.y[0, 0]), float(d.y[0, 1])]])
    m = build_model({"encoder": {"name": "gin", "hidden": 16, "out_dim": 16},
                     "head": {"task": "regression", "targets": ["r", "stages"], "hidden": 16, "log_targets": ["r"]}})
    m.head.set_normalisation(torch.cat([d.y for d in train]))
    logs = torch.tensor([math.log10(float(d.y[0, 0])) for d in train], dtype=torch.float64)
    assert float(m.head.mean[0]) == pytest.approx(float(logs.mean()), rel=1e-5)
    raw = m.head.predict(torch.zeros(1, 2))
    assert float(raw[0, 0]) == pytest.approx(10 ** float(m.head.mean[0]), rel=1e-5)
    assert float(raw[0, 1]) == pytest.approx(float(m.head.mean[1]), rel=1e-5)
    with pytest.raises(ModelConfigError, match="not among the targets"):
        build_model({"encoder": {"name": "gin"}, "head": {"task": "regression", "targets": ["a"], "log_targets": ["b"]}})
