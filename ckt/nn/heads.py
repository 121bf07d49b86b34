"""Prediction heads on graph embeddings: regression with per-target standardisation, classification.

A head owns its loss and the map from its outputs back to the user's units, so the trainer and
``evaluate`` treat both tasks alike. The regression head keeps each target's training mean and
standard deviation as buffers: they travel in the state dict, so a checkpoint predicts in raw
units (hertz, decibels) without the training set.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ckt.errors import ModelConfigError
from ckt.nn.encoders import mlp


class Head(nn.Module, ABC):
    """Base of the heads: ``forward(z) -> outputs``, ``loss(outputs, y)``, ``predict(outputs)``."""

    task: str = ""
    config: dict[str, Any]

    @abstractmethod
    def target(self, y: Tensor, n: int) -> Tensor:
        """The batch's ``y`` shaped for ``loss``."""

    @abstractmethod
    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        """The training loss of outputs ``out`` against targets ``y``."""

    @abstractmethod
    def predict(self, out: Tensor) -> Tensor:
        """Outputs in the user's terms (raw units or class indices)."""


class RegressionHead(Head):
    """An MLP to one output per target, trained on standardised targets, predicting raw units.

    Args:
        in_dim: embedding width.
        targets: target names, the columns of ``y`` in order.
        hidden: MLP width.
        log_targets: targets regressed as log10 (positive quantities spanning decades).
        circular_targets: angles in degrees regressed as the unit vector (cos, sin) and predicted
            back in (-180, 180]: a phase margin of 179 degrees and one of -179 are neighbours, which a
            straight regression of the folded number cannot learn.
        positive_targets: quantities that cannot be negative (a bandwidth in hertz, a figure of merit)
            regressed in raw units above a smooth floor at zero: identity well above it, so the fit
            is a linear regression where ``log_targets`` would weight every decade alike, but never a
            negative prediction.
    """

    task = "regression"

    def __init__(self, in_dim: int, targets: Sequence[str], hidden: int = 64, log_targets: Sequence[str] = (),
                 circular_targets: Sequence[str] = (), positive_targets: Sequence[str] = ()) -> None:
        super().__init__()
        if not targets:
            raise ModelConfigError("a regression head needs at least one target name")
        options = {"log": log_targets, "circular": circular_targets, "positive": positive_targets}
        for option, names in options.items():
            unknown = sorted(set(names) - set(targets))
            if unknown:
                raise ModelConfigError(f"{option}_targets {unknown} are not among the targets {list(targets)}")
        for a, b in (("log", "circular"), ("log", "positive"), ("circular", "positive")):
            both = sorted(set(options[a]) & set(options[b]))
            if both:
                raise ModelConfigError(f"{both} cannot be both {a} and {b} targets")
        self.targets = list(targets)
        self.log_targets = [t for t in self.targets if t in set(log_targets)]
        self.circular_targets = [t for t in self.targets if t in set(circular_targets)]
        self.positive_targets = [t for t in self.targets if t in set(positive_targets)]
        self.config = dict(task=self.task, targets=self.targets, hidden=hidden, log_targets=self.log_targets)
        if self.circular_targets:  # only then: earlier checkpoints keep their config
            self.config["circular_targets"] = self.circular_targets
        if self.positive_targets:
            self.config["positive_targets"] = self.positive_targets
        # outputs: one column per target (the cosine for a circular one), then one sine per circular target
        self.net = mlp([in_dim, hidden, len(self.targets) + len(self.circular_targets)])
        self.logged: Tensor
        self.register_buffer("logged", torch.tensor([t in self.log_targets for t in self.targets]), persistent=False)
        self.positive: Tensor
        self.register_buffer("positive", torch.tensor([t in self.positive_targets for t in self.targets]),
                             persistent=False)
        self.circular: Tensor
        self.register_buffer("circular", torch.tensor([t in self.circular_targets for t in self.targets]),
                             persistent=False)
        self.mean: Tensor
        self.std: Tensor
        self.register_buffer("mean", torch.zeros(len(self.targets)))
        self.register_buffer("std", torch.ones(len(self.targets)))

    def set_normalisation(self, y: Tensor) -> None:
        """Standardise by the mean and standard deviation of ``y [N, targets]`` (a constant target keeps 1;
        a circular target is already on the unit circle and keeps 0 and 1)."""
        y = self.scaled(self.target(y, -1).double().to(self.mean.device))
        std = y.std(0, unbiased=False) if y.size(0) > 1 else torch.ones_like(y[0])
        std = torch.where((std > 0) & ~self.circular, std, torch.ones_like(std))
        self.mean.copy_(torch.where(self.circular, torch.zeros_like(std), y.mean(0)).float())
        self.std.copy_(std.float())

    def scaled(self, y: Tensor) -> Tensor:
        """``y`` with the ``log_targets`` columns as log10: what the network regresses. A quantity
        spanning decades (bandwidth in hertz) is learnt on its log, and predicted back in raw units."""
        if not self.log_targets:
            return y
        if bool((y[:, self.logged] <= 0).any()):
            raise ModelConfigError(f"log_targets {self.log_targets} need positive values")
        return torch.where(self.logged, y.clamp(min=1e-300).log10(), y)

    def normalisation(self) -> dict[str, dict[str, float]]:
        """Per-target ``{"mean", "std"}`` of what the network regresses (log10 for ``log_targets``),
        for a checkpoint's metadata."""
        return {t: {"mean": float(m), "std": float(s)} for t, m, s in zip(self.targets, self.mean, self.std)}

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)

    def target(self, y: Tensor, n: int) -> Tensor:
        """``y`` as ``[n, targets]`` floats (``n = -1`` infers it); per-graph ``y`` of shape
        ``[targets]`` or ``[1, targets]`` both batch to this."""
        return y.reshape(n, len(self.targets)).float()

    def standardised(self, out: Tensor) -> Tensor:
        """The outputs as standardised predictions: the ``positive_targets`` columns floored, smoothly,
        at the standardised zero ``-mean / std`` (``floor + softplus(out - floor)``)."""
        if not self.positive_targets:
            return out
        k = len(self.targets)
        floor = -self.mean / self.std
        floored = torch.where(self.positive, floor + nn.functional.softplus(out[:, :k] - floor), out[:, :k])
        return torch.cat([floored, out[:, k:]], 1)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        out = self.standardised(out)
        z = (self.scaled(self.target(y, out.size(0))) - self.mean) / self.std
        if not self.circular_targets:
            return nn.functional.mse_loss(out, z)
        angle = torch.deg2rad(z)
        truth = torch.cat([torch.where(self.circular, angle.cos(), z), angle[:, self.circular].sin()], 1)
        return nn.functional.mse_loss(out, truth)

    def predict(self, out: Tensor) -> Tensor:
        """Raw-unit predictions ``[n, targets]``."""
        k = len(self.targets)
        out = self.standardised(out)
        z = out[:, :k] * self.std + self.mean
        if self.log_targets:
            z = torch.where(self.logged, torch.pow(10.0, z), z)
        if self.circular_targets:
            angle = torch.rad2deg(torch.atan2(out[:, k:], out[:, :k][:, self.circular]))
            z = z.clone()
            z[:, self.circular] = torch.where(angle <= -180.0, angle + 360.0, angle)
        return z


class ClassificationHead(Head):
    """An MLP to one logit per class, cross-entropy loss, ``predict`` gives class indices.

    Args:
        in_dim: embedding width.
        classes: class names, in label-index order.
        hidden: MLP width.
        balanced: weight the loss of each class by its inverse training frequency
            (``set_class_weights``), so a rare type counts as much as a common one; the weights
            travel in the state dict.
    """

    task = "classification"

    def __init__(self, in_dim: int, classes: Sequence[str], hidden: int = 64, balanced: bool = False) -> None:
        super().__init__()
        if len(classes) < 2:
            raise ModelConfigError(f"a classification head needs at least two classes, got {list(classes)}")
        self.classes = list(classes)
        self.balanced = balanced
        self.config = dict(task=self.task, classes=self.classes, hidden=hidden)
        if balanced:  # only then: unweighted checkpoints keep their layout
            self.config["balanced"] = True
            self.class_weight: Tensor
            self.register_buffer("class_weight", torch.ones(len(self.classes)))
        self.net = mlp([in_dim, hidden, len(self.classes)])

    def set_class_weights(self, y: Tensor) -> None:
        """Weights ``N / (K * count)`` from the training labels ``y [N]`` (K: the classes present),
        so they average 1 over the training samples; a class absent from ``y`` keeps weight 1.

        Raises:
            ModelConfigError: the head is not ``balanced``.
        """
        if not self.balanced:
            raise ModelConfigError("class weights need a head built with balanced=True")
        counts = torch.bincount(self.target(y, -1).cpu(), minlength=len(self.classes)).double()
        present = counts > 0
        weight = torch.ones_like(counts)
        weight[present] = counts.sum() / (int(present.sum()) * counts[present])
        self.class_weight.copy_(weight.float())

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)

    def target(self, y: Tensor, n: int) -> Tensor:
        """``y`` as ``[n]`` class indices."""
        return y.reshape(n).long()

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        weight = self.class_weight if self.balanced else None
        return nn.functional.cross_entropy(out, self.target(y, out.size(0)), weight=weight)

    def predict(self, out: Tensor) -> Tensor:
        return out.argmax(1)
