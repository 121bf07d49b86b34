"""The classification head's class-balanced loss: weights from training counts, in the loss, in checkpoints."""

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
