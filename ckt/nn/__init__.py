"""Graph encoders, heads, training and checkpoints for circuit graphs (``ckt.graph`` views).

Every encoder maps a PyG ``Data`` (or a batch) to ``Tensor[num_graphs, out_dim]``; a
``CircuitModel`` joins one to a regression or classification head and is built from a plain
config dict (``build_model``); ``fit`` trains it with checkpoints and exact resume, ``evaluate``
reports metrics in raw units, ``load_model`` reads a checkpoint back (``weights_only=True``).
"""

from __future__ import annotations

from ckt.nn.checkpoint import SCHEMA_VERSION, load_model, read_checkpoint, save_checkpoint
from ckt.nn.dag import DAGNN, flat_orientation, input_net_mask, topological_levels
from ckt.nn.encoders import GAT, GCN, GIN, Encoder
from ckt.nn.gps import GPS, positional_encoding
from ckt.nn.heads import ClassificationHead, Head, RegressionHead
from ckt.nn.model import ENCODERS, HEADS, CircuitModel, build_encoder, build_model, register_encoder
from ckt.nn.train import evaluate, fit, loader, predict, seed_everything
from ckt.nn.two_level import TwoLevelEncoder

__all__ = [
    "DAGNN", "ENCODERS", "GAT", "GCN", "GIN", "GPS", "HEADS", "SCHEMA_VERSION", "CircuitModel",
    "ClassificationHead", "Encoder", "Head", "RegressionHead", "TwoLevelEncoder", "build_encoder",
    "build_model", "evaluate", "fit", "flat_orientation", "input_net_mask", "load_model", "loader",
    "positional_encoding", "predict", "read_checkpoint", "register_encoder", "save_checkpoint", "seed_everything",
    "topological_levels",
]
