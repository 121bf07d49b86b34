"""``CircuitModel``: an encoder and a head, built from (and saved as) a plain config dict.

The config is JSON-like data (dicts, lists, strings, numbers) so it rides in a checkpoint that
loads with ``weights_only=True`` and names everything needed to rebuild the model::

    {"encoder": {"name": "two_level", "hidden": 64, ...},
     "head": {"task": "regression", "targets": ["gain_db", "pm_deg"], "hidden": 64}}

Encoder names: ``ENCODERS`` (``"two_level"``, ``"gin"``, ``"gcn"``, ``"gat"``, ``"dagnn"``,
``"gps"``; ``register_encoder`` adds more); missing encoder keys take the class defaults, and
``CircuitModel.config`` lists them all.
"""

from __future__ import annotations

import copy
from typing import Any

from torch import Tensor, nn
from torch_geometric.data import Data

from ckt.errors import ModelConfigError
from ckt.nn.dag import DAGNN
from ckt.nn.encoders import GAT, GCN, GIN, Encoder
from ckt.nn.gps import GPS
from ckt.nn.heads import ClassificationHead, Head, RegressionHead
from ckt.nn.two_level import TwoLevelEncoder

ENCODERS: dict[str, type[Encoder]] = {
    cls.name: cls for cls in (TwoLevelEncoder, GIN, GCN, GAT, DAGNN, GPS)
}
"""Encoder classes by config name."""

def register_encoder(cls: type[Encoder]) -> type[Encoder]:
    """Add an encoder class to ``ENCODERS`` under its ``name`` (usable as a class decorator).

    Raises:
        ModelConfigError: the name is empty or taken by another class.
    """
    if not cls.name or ENCODERS.get(cls.name, cls) is not cls:
        raise ModelConfigError(f"encoder name {cls.name!r} is empty or already registered")
    ENCODERS[cls.name] = cls
    return cls


HEADS: dict[str, type[Head]] = {"regression": RegressionHead, "classification": ClassificationHead}
"""Head classes by task."""


class CircuitModel(nn.Module):
    """``head(encoder(data))``; ``config`` rebuilds it with ``build_model``."""

    def __init__(self, encoder: Encoder, head: Head) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    @property
    def config(self) -> dict[str, Any]:
        """The full config (every encoder and head option) this model was built with."""
        return {"encoder": {"name": self.encoder.name, **self.encoder.config}, "head": dict(self.head.config)}

    def forward(self, data: Data) -> Tensor:
        return self.head(self.encoder(data))


def build_encoder(config: dict[str, Any]) -> Encoder:
    """An encoder from ``{"name": NAME, **options}``.

    Raises:
        ModelConfigError: unknown name or option.
    """
    options = dict(config)
    name = options.pop("name", None)
    if name not in ENCODERS:
        raise ModelConfigError(f"unknown encoder {name!r}; choose one of {sorted(ENCODERS)}")
    try:
        return ENCODERS[name](**options)
    except TypeError as exc:
        raise ModelConfigError(f"encoder {name!r}: {exc}") from exc


def build_model(config: dict[str, Any]) -> CircuitModel:
    """A ``CircuitModel`` from a config dict (layout in the module docstring).

    Raises:
        ModelConfigError: a missing section, unknown encoder or task, or an option they do not take.
    """
    config = copy.deepcopy(config)
    for section in ("encoder", "head"):
        if not isinstance(config.get(section), dict):
            raise ModelConfigError(f"model config needs an {section!r} section (a dict)")
    encoder = build_encoder(config["encoder"])
    head_options = config["head"]
    task = head_options.pop("task", None)
    if task not in HEADS:
        raise ModelConfigError(f"unknown head task {task!r}; choose one of {sorted(HEADS)}")
    try:
        head = HEADS[task](encoder.out_dim, **head_options)
    except TypeError as exc:
        raise ModelConfigError(f"{task} head: {exc}") from exc
    return CircuitModel(encoder, head)
