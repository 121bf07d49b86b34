"""Heads: the classification head's class-balanced loss; the regression head's circular and positive targets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from ckt.errors import ModelConfigError
from ckt.nn.checkpoint import load_model
from ckt.nn.heads import ClassificationHead
from ckt.nn.model import build_model
from ckt.nn.train import fit
from tests.nn.test_train import flat_task


def test_weights_are_inverse_training_frequency() -> None:
    head = ClassificationHead(4, ["a", "b", "c"], balanced=True)
    head.set_class_weights(torch.tensor([0, 0, 0, 1]))  # c absent: weight 1, unused by the training loss
    assert head.class_weight.tolist() == pytest.approx([4 / 6, 2.0, 1.0])
    out, y = torch.randn(4, 3), torch.tensor([0, 0, 0, 1])
    per_sample = nn.functional.cross_entropy(out, y, reduction="none")
    weight = torch.tensor([4 / 6, 4 / 6, 4 / 6, 2.0])
    assert float(head.loss(out, y)) == pytest.approx(float((weight * per_sample).sum() / weight.sum()), rel=1e-6)
    plain = ClassificationHead(4, ["a", "b", "c"])
    plain.net = head.net
    assert float(plain.loss(out, y)) == pytest.approx(float(per_sample.mean()), rel=1e-6)
    assert float(plain.loss(out, y)) != pytest.approx(float(head.loss(out, y)))


def test_an_unbalanced_head_keeps_its_layout_and_refuses_weights() -> None:
    plain = ClassificationHead(4, ["a", "b"])
    assert "balanced" not in plain.config and "class_weight" not in plain.state_dict()
    with pytest.raises(ModelConfigError, match="balanced=True"):
        plain.set_class_weights(torch.tensor([0, 1]))


def test_fit_sets_the_weights_and_the_checkpoint_keeps_them(tmp_path: Path) -> None:
    graphs = flat_task(8, 3)
    for i, d in enumerate(graphs):
        d.y = torch.tensor([0 if i < 6 else 1])
    m = build_model({"encoder": {"name": "gcn", "hidden": 8, "out_dim": 8},
                     "head": {"task": "classification", "classes": ["common", "rare"], "balanced": True}})
    fit(m, graphs, graphs[:2], {"epochs": 1, "progress": False, "out": str(tmp_path)})
    assert m.head.class_weight.tolist() == pytest.approx([8 / 12, 2.0])
    loaded = load_model(tmp_path / "best.pt")
    assert loaded.config["head"]["balanced"] is True
    assert loaded.head.class_weight.tolist() == pytest.approx([8 / 12, 2.0])


def test_a_circular_target_is_regressed_on_the_unit_circle_and_predicted_in_degrees() -> None:
    from ckt.nn.heads import RegressionHead

    head = RegressionHead(4, ["gain", "pm"], circular_targets=["pm"])
    assert head.config["circular_targets"] == ["pm"]
    assert head.net[-1].out_features == 3  # gain, cos(pm), sin(pm)
    y = torch.tensor([[10.0, 179.0], [20.0, -179.0], [30.0, 90.0]])
    head.set_normalisation(y)
    assert head.mean.tolist() == pytest.approx([20.0, 0.0]) and float(head.std[1]) == 1.0
    # outputs that are exactly the truth's (standardised gain, cos, sin) cost nothing
    angle = torch.deg2rad(y[:, 1])
    perfect = torch.stack([(y[:, 0] - 20.0) / head.std[0], angle.cos(), angle.sin()], 1)
    assert float(head.loss(perfect, y)) == pytest.approx(0.0, abs=1e-10)
    back = head.predict(perfect)
    assert back[:, 0].tolist() == pytest.approx([10.0, 20.0, 30.0], rel=1e-5)
    assert back[:, 1].tolist() == pytest.approx([179.0, -179.0, 90.0], abs=1e-3)
    # 179 and -179 are neighbours: a prediction of 179 for -179 costs what 2 degrees cost
    near = perfect.clone()
    near[1, 1:] = perfect[0, 1:]
    far = perfect.clone()
    far[1, 1:] = perfect[2, 1:]
    assert float(head.loss(near, y)) < float(head.loss(far, y)) / 100
    assert head.predict(torch.tensor([[0.0, -1.0, 0.0]]))[0, 1] == pytest.approx(180.0)  # -180 folds to 180


def test_circular_targets_are_checked_and_old_configs_keep_their_layout() -> None:
    from ckt.nn.heads import RegressionHead

    assert "circular_targets" not in RegressionHead(4, ["a"]).config
    with pytest.raises(ModelConfigError, match="not among the targets"):
        RegressionHead(4, ["a"], circular_targets=["b"])
    with pytest.raises(ModelConfigError, match="both log and circular"):
        RegressionHead(4, ["a"], log_targets=["a"], circular_targets=["a"])


def test_evaluate_reports_the_error_round_the_circle() -> None:
    from ckt.nn.train import evaluate

    train = flat_task(8, 0)
    for k, d in enumerate(train):
        d.y = torch.tensor([[170.0 + 5 * k - (360.0 if 170.0 + 5 * k > 180 else 0.0)]])
    m = build_model({"encoder": {"name": "gin", "hidden": 8, "out_dim": 8},
                     "head": {"task": "regression", "targets": ["pm"], "hidden": 8, "circular_targets": ["pm"]}})
    report = evaluate(m, train)["targets"]["pm"]
    assert 0.0 <= report["circular_mae"] <= 180.0 and report["circular_mae"] <= report["rmse"] + 1e-9


def test_a_positive_target_is_linear_above_its_floor_and_never_predicted_negative(tmp_path: Path) -> None:
    from ckt.nn.heads import RegressionHead

    head = RegressionHead(4, ["gain", "bw"], positive_targets=["bw"])
    assert head.config["positive_targets"] == ["bw"]
    assert "positive_targets" not in RegressionHead(4, ["gain", "bw"]).config
    y = torch.tensor([[-10.0, 1e9], [20.0, 3e9], [50.0, 5e9]])
    head.set_normalisation(y)
    out = torch.tensor([[-40.0, -40.0], [0.0, 8.0], [1.0, 0.0]])  # standardised outputs, far below and above 0 Hz
    back = head.predict(out)
    assert float(back[0, 0]) < -100.0  # an unfloored target goes where its output says
    assert 0.0 <= float(back[0, 1]) < 1.0  # the floored one stops at 0 Hz
    assert float(back[1, 1]) == pytest.approx(3e9 + 8 * float(head.std[1]), rel=1e-4)  # identity well above it
    assert 0.0 <= float(back[0, 1]) < float(back[2, 1]) < float(back[1, 1])  # monotone in between
    # the loss sees the floored prediction: an output below the floor costs what the floor costs
    lower = out[:1] - torch.tensor([[0.0, 100.0]])
    assert float(head.loss(lower, y[:1])) == pytest.approx(float(head.loss(out[:1], y[:1])), rel=1e-6)
    with pytest.raises(ModelConfigError, match="both log and positive"):
        RegressionHead(4, ["a"], log_targets=["a"], positive_targets=["a"])
    with pytest.raises(ModelConfigError, match="positive_targets .* not among"):
        RegressionHead(4, ["a"], positive_targets=["b"])

    train = flat_task(8, 1)
    for k, d in enumerate(train):
        d.y = torch.tensor([[1e6 * (k + 1)]])
    m = build_model({"encoder": {"name": "gin", "hidden": 8, "out_dim": 8},
                     "head": {"task": "regression", "targets": ["bw"], "hidden": 8, "positive_targets": ["bw"]}})
    fit(m, train, train[:2], {"epochs": 2, "progress": False, "out": str(tmp_path)})
    loaded = load_model(tmp_path / "best.pt")
    assert loaded.config["head"]["positive_targets"] == ["bw"]
    from ckt.nn.train import predict

    assert torch.equal(predict(loaded, train), predict(m, train)) and bool((predict(m, train) >= 0).all())
