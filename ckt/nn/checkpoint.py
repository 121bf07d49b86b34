"""Model checkpoints: weights, the config that rebuilds the model, and the schema version.

A checkpoint is a dict of tensors and builtins written by ``torch.save`` and read back with
``torch.load(weights_only=True)``, so opening one never runs code from the file. It records:

- ``format`` (``FORMAT``) and ``schema_version`` (``SCHEMA_VERSION``): a file of another kind or
  version is refused with a ``CheckpointError`` that says which;
- ``config``: ``CircuitModel.config`` (``ckt.nn.model.build_model`` rebuilds the model from it);
- ``targets`` (regression target or class names) and ``normalisation`` (per-target mean/std in raw
  units; the same numbers are buffers in ``state_dict``);
- ``state_dict``; and for the trainer's ``last.pt`` a ``training`` section (optimizer and random
  number generator states, epoch, history, best weights) that ``ckt.nn.train.fit`` resumes from.

Files are written to a temporary name and renamed, so a run killed while saving keeps the previous
checkpoint whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ckt.errors import CheckpointError, ModelConfigError
from ckt.nn.heads import ClassificationHead, RegressionHead
from ckt.nn.model import CircuitModel, build_model

FORMAT = "ckt.nn.checkpoint"
SCHEMA_VERSION = 2
"""Bumped whenever the checkpoint layout, an encoder's parameter layout or the graph features a model
reads change (version 2: the net-role columns)."""


def checkpoint_payload(model: CircuitModel, training: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dict ``save_checkpoint`` writes (weights copied to the CPU)."""
    head = model.head
    targets: list[str] = []
    normalisation: dict[str, dict[str, float]] = {}
    if isinstance(head, RegressionHead):
        targets, normalisation = list(head.targets), head.normalisation()
    elif isinstance(head, ClassificationHead):
        targets = list(head.classes)
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "config": model.config,
        "task": head.task,
        "targets": targets,
        "normalisation": normalisation,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "training": training or {},
    }


def write_payload(path: str | Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint dict (tensors and builtins) to ``path`` atomically: other model families
    (the generator in ``ckt.gen``) write their own payloads, with their own ``format``, through it."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def save_checkpoint(path: str | Path, model: CircuitModel, training: dict[str, Any] | None = None) -> None:
    """Write ``model`` (and an optional trainer state) to ``path`` atomically."""
    write_payload(path, checkpoint_payload(model, training))


def read_checkpoint(path: str | Path, fmt: str = FORMAT, schema_version: int = SCHEMA_VERSION) -> dict[str, Any]:
    """The checkpoint dict at ``path``, loaded with ``weights_only=True`` onto the CPU.

    Args:
        path: the file.
        fmt: the ``format`` it must record (another model family passes its own).
        schema_version: the version of that format this ckt reads.

    Raises:
        CheckpointError: not a ckt model checkpoint of ``fmt``, or one of another schema version.
        OSError: the file cannot be read.
    """
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError or zipfile errors
        raise CheckpointError(f"{path}: not a ckt model checkpoint (it does not load as tensors and plain data "
                              f"with weights_only=True; {type(exc).__name__})") from exc
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path}: not a ckt model checkpoint (format {found!r}, expected {fmt!r})")
    if obj.get("schema_version") != schema_version:
        raise CheckpointError(f"{path}: checkpoint schema version {obj.get('schema_version')!r}, this ckt reads "
                              f"version {schema_version}; retrain or use the ckt version that wrote it")
    return obj


def config_differences(saved: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    """``"key: saved != current"`` for every (nested) config entry that differs."""
    out = []
    for key in sorted(set(saved) | set(current), key=str):
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} != {b!r}")
    return out


def check_matches(checkpoint: dict[str, Any], model: CircuitModel, path: str | Path) -> None:
    """Refuse a checkpoint written for another model than ``model``.

    Raises:
        CheckpointError: naming the config entries that differ (checkpoint value first).
    """
    diffs = config_differences(checkpoint["config"], model.config)
    if diffs:
        raise CheckpointError(f"{path}: checkpoint is for another model ({'; '.join(diffs)})")


def restore(model: CircuitModel, checkpoint: dict[str, Any], path: str | Path) -> None:
    """Load ``checkpoint``'s weights into ``model`` after ``check_matches``."""
    check_matches(checkpoint, model, path)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the model: {exc}") from exc


def load_model(path: str | Path) -> CircuitModel:
    """The model saved at ``path``, rebuilt from its config, in eval mode on the CPU.

    Raises:
        CheckpointError: see ``read_checkpoint``, or weights that do not fit the config.
    """
    checkpoint = read_checkpoint(path)
    try:
        model = build_model(checkpoint["config"])
    except ModelConfigError as exc:
        raise CheckpointError(f"{path}: the checkpoint's model cannot be built here: {exc}") from exc
    restore(model, checkpoint, path)
    return model.eval()
