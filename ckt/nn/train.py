"""Training and evaluation of a ``CircuitModel`` on lists (or Datasets) of PyG ``Data`` with ``y``.

``fit`` follows what a careful experiment needs: seeded, a progress line per epoch, a checkpoint
each epoch (``OUT/last.pt`` with optimizer and random-number states, ``OUT/best.pt`` the best model,
``OUT/history.json`` the per-epoch losses),
``resume=True`` continuing from ``last.pt`` exactly as if never stopped, and early stopping and
model selection on the validation split only (the test split never enters ``fit``). It runs on the
CPU unless CUDA is there (``device`` overrides).

``evaluate`` reports, for regression, RMSE and Pearson r per target in raw units (the head undoes
the standardisation), and for classification accuracy, macro-F1 and the confusion matrix.
"""

from __future__ import annotations

import copy
import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from ckt.errors import CheckpointError, ModelConfigError
from ckt.nn.checkpoint import check_matches, config_differences, read_checkpoint, save_checkpoint
from ckt.nn.heads import ClassificationHead, RegressionHead
from ckt.nn.model import CircuitModel

DEFAULTS: dict[str, Any] = {
    "epochs": 100,
    "batch_size": 32,
    "lr": 1e-3,
    "weight_decay": 0.0,
    "seed": 0,
    "patience": 20,
    "lr_patience": 0,
    "out": None,
    "resume": False,
    "device": None,
    "progress": True,
}
"""``fit`` options: ``patience`` epochs without a better validation loss stop training;
``lr_patience`` N > 0 halves the learning rate after N such epochs (0: a constant rate); ``out`` is
the checkpoint folder (None: no checkpoints); ``device`` None picks CUDA when available."""

_RUN_KEYS = ("epochs", "out", "resume", "device", "progress")
"""Options a resumed run may change; the rest must match the checkpoint."""


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run repeats."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def loader(data: Sequence[Data], batch_size: int, shuffle: bool = False,
           generator: torch.Generator | None = None) -> DataLoader:
    """A PyG ``DataLoader`` that also batches two-level graphs (``follow_batch=["block_type"]``)."""
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      follow_batch=["block_type"])


def pick_device(name: str | None) -> torch.device:
    """``name`` as a torch device, or CUDA when it is there and nothing is asked.

    Raises:
        ModelConfigError: an unknown device, or CUDA asked for where there is none.
    """
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ModelConfigError(f"device {name!r}: {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelConfigError(f"device {name!r} asked for, but CUDA is not available here")
    return device


def _options(config: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ModelConfigError(f"unknown training options {unknown}; known: {sorted(DEFAULTS)}")
    return {**DEFAULTS, **config}


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """torch's global random state, CUDA's when present, and ``generator``'s (the one that orders
    batches), for a checkpoint that resumes exactly; ``set_rng_state`` puts them back."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "loader": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["loader"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def plateau_scheduler(optimizer: torch.optim.Optimizer,
                      patience: int) -> torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    """Halves the rate after ``patience`` epochs without a better validation loss (None for 0:
    a constant rate); every trainer of the package uses this one rule."""
    if patience <= 0:
        return None
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=patience)


@torch.no_grad()
def _mean_loss(model: CircuitModel, data: Sequence[Data], batch_size: int, device: torch.device) -> float:
    model.eval()
    total, n = 0.0, 0
    for batch in loader(data, batch_size):
        batch = batch.to(device)
        out = model(batch)
        total += float(model.head.loss(out, batch.y)) * out.size(0)
        n += out.size(0)
    return total / n


def fit(model: CircuitModel, train: Sequence[Data], val: Sequence[Data], config: dict[str, Any] | None = None,
        log: Callable[[str], None] | None = None) -> list[dict[str, float]]:
    """Train ``model`` on ``train``, select and stop on ``val``; return one history row per epoch.

    Leaves ``model`` holding the weights of its best validation epoch. A regression head is
    standardised on ``train``'s targets, a balanced classification head weighted by ``train``'s
    class counts (once; a resumed run takes them from the checkpoint).

    Args:
        model: the model to train (its head decides the loss).
        train: training graphs, each with ``y``.
        val: validation graphs; the only split that decides early stopping and the returned model.
        config: options over ``DEFAULTS``.
        log: where progress lines go (default: stderr when ``progress`` is on).

    Raises:
        ModelConfigError: an unknown option or an empty split.
        CheckpointError: ``resume`` from a checkpoint of another model or other training options.
    """
    opts = _options(config or {})
    if opts["resume"] and opts["out"] is None:
        raise ModelConfigError("resume=True needs out= (the folder holding last.pt)")
    if len(train) == 0 or len(val) == 0:
        raise ModelConfigError(f"fit needs non-empty train and validation splits (got {len(train)} and {len(val)})")
    if log is None:
        log = (lambda line: print(line, file=sys.stderr, flush=True)) if opts["progress"] else (lambda line: None)
    device = pick_device(opts["device"])
    out = Path(opts["out"]) if opts["out"] is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    training_options = {k: v for k, v in opts.items() if k not in _RUN_KEYS}

    seed_everything(int(opts["seed"]))
    generator = torch.Generator().manual_seed(int(opts["seed"]))
    model.encoder.set_input_normalisation(torch.cat([d.x for d in train]))
    if isinstance(model.head, RegressionHead):
        model.head.set_normalisation(torch.cat([model.head.target(d.y, -1) for d in train]))
    elif isinstance(model.head, ClassificationHead) and model.head.balanced:
        model.head.set_class_weights(torch.cat([model.head.target(d.y, -1) for d in train]))
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=opts["lr"], weight_decay=opts["weight_decay"])
    scheduler = plateau_scheduler(optimizer, int(opts["lr_patience"]))
    state: dict[str, Any] = {"epoch": 0, "history": [], "best_val_loss": math.inf, "best_epoch": 0,
                             "best_state": None, "bad_epochs": 0}
    last = out / "last.pt" if out is not None else None
    if opts["resume"] and last is not None and last.exists():
        checkpoint = read_checkpoint(last)
        check_matches(checkpoint, model, last)
        saved = checkpoint["training"]
        diffs = config_differences(saved.get("options", {}), training_options)
        if diffs:
            raise CheckpointError(f"{last}: training options differ from the run being resumed ({'; '.join(diffs)})")
        model.load_state_dict(checkpoint["state_dict"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        set_rng_state(saved["rng"], generator)
        state = {k: saved[k] for k in state}
        log(f"resumed from {last} after epoch {state['epoch']}")
    elif opts["resume"]:
        log(f"no checkpoint at {last}: starting a new run")

    epochs = int(opts["epochs"])
    for epoch in range(state["epoch"] + 1, epochs + 1):
        if state["bad_epochs"] >= opts["patience"]:
            log(f"early stop: no better validation loss for {opts['patience']} epochs")
            break
        start = time.perf_counter()
        model.train()
        total, n = 0.0, 0
        for batch in loader(train, opts["batch_size"], shuffle=True, generator=generator):
            batch = batch.to(device)
            optimizer.zero_grad()
            out_t = model(batch)
            loss = model.head.loss(out_t, batch.y)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * out_t.size(0)
            n += out_t.size(0)
        val_loss = _mean_loss(model, val, opts["batch_size"], device)
        lr = optimizer.param_groups[0]["lr"]
        if scheduler is not None:
            scheduler.step(val_loss)
        improved = val_loss < state["best_val_loss"]
        if improved:
            state.update(best_val_loss=val_loss, best_epoch=epoch, bad_epochs=0,
                         best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        else:
            state["bad_epochs"] += 1
        row = {"epoch": epoch, "train_loss": total / n, "val_loss": val_loss,
               "best_val_loss": state["best_val_loss"], "lr": lr, "seconds": time.perf_counter() - start}
        state["history"].append(row)
        state["epoch"] = epoch
        log(f"epoch {epoch}/{epochs}  train {row['train_loss']:.4g}  val {val_loss:.4g}  "
            f"best {state['best_val_loss']:.4g} (epoch {state['best_epoch']})"
            + (f"  lr {lr:.3g}" if scheduler is not None else "") + f"  {row['seconds']:.1f}s")
        if out is not None:
            training = {**copy.copy(state), "options": training_options, "optimizer": optimizer.state_dict(),
                        "rng": rng_state(generator),
                        **({"scheduler": scheduler.state_dict()} if scheduler is not None else {})}
            save_checkpoint(out / "last.pt", model, training)
            if improved:
                save_checkpoint(out / "best.pt", model, {"epoch": epoch, "val_loss": val_loss})
            (out / "history.json").write_text(json.dumps(state["history"], indent=1) + "\n")
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    return list(state["history"])


@torch.no_grad()
def predict(model: CircuitModel, data: Sequence[Data], batch_size: int = 64,
            device: str | None = None) -> Tensor:
    """Predictions for ``data`` in order: raw-unit targets ``[N, T]`` or class indices ``[N]``.

    Raises:
        ModelConfigError: ``data`` is empty.
    """
    if len(data) == 0:
        raise ModelConfigError("nothing to predict: the graph list is empty")
    dev = pick_device(device)
    model.to(dev).eval()
    return torch.cat([model.head.predict(model(b.to(dev))).cpu() for b in loader(data, batch_size)])


def _pearson(a: Tensor, b: Tensor) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = float(a.norm() * b.norm())
    return float((a * b).sum()) / denom if denom > 0 else math.nan


def evaluate(model: CircuitModel, data: Sequence[Data], batch_size: int = 64,
             device: str | None = None) -> dict[str, Any]:
    """Metrics of ``model`` on ``data`` (graphs with ``y``).

    Regression: ``{"task", "n", "targets": {name: {"rmse", "pearson"}}}`` in raw units (Pearson is
    NaN for a constant target or prediction), and for a circular target also ``circular_mae``, the
    mean absolute angle error in degrees. Classification: ``{"task", "n", "accuracy",
    "macro_f1", "confusion", "classes"}``; ``confusion[i][j]`` counts class ``i`` predicted as
    ``j``; macro-F1 averages over the classes that occur in the truth or the predictions.
    """
    pred = predict(model, data, batch_size, device).double()
    head = model.head
    y = torch.cat([head.target(d.y, -1) for d in data]).double() if isinstance(head, RegressionHead) \
        else torch.cat([head.target(d.y, -1) for d in data])
    if isinstance(head, RegressionHead):
        targets: dict[str, dict[str, float]] = {}
        for i, t in enumerate(head.targets):
            targets[t] = {"rmse": float(((pred[:, i] - y[:, i]) ** 2).mean().sqrt()),
                          "pearson": _pearson(pred[:, i], y[:, i])}
            if t in head.circular_targets:  # the error round the circle: 179 against -179 is 2 degrees off
                targets[t]["circular_mae"] = float(((pred[:, i] - y[:, i] + 180.0) % 360.0 - 180.0).abs().mean())
        return {"task": head.task, "n": len(data), "targets": targets}
    assert isinstance(head, ClassificationHead)
    k = len(head.classes)
    confusion = torch.zeros(k, k, dtype=torch.long)
    confusion.index_put_((y, pred.long()), torch.ones_like(y), accumulate=True)
    tp = confusion.diag().double()
    support, predicted = confusion.sum(1).double(), confusion.sum(0).double()
    seen = (support + predicted) > 0
    f1 = 2 * tp / (support + predicted).clamp(min=1)
    return {"task": head.task, "n": len(data), "accuracy": float(tp.sum() / max(len(data), 1)),
            "macro_f1": float(f1[seen].mean()) if bool(seen.any()) else math.nan,
            "confusion": confusion.tolist(), "classes": list(head.classes)}
