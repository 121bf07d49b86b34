"""The link models behind one interface, and their checkpoints.

A link model turns candidate links (``samples.Pair``) into logits in two steps: ``prepare(pairs)``
makes whatever the model reads per pair (SEAL: its enclosing subgraph; the GNN: the pair itself),
once, so training can reuse it every epoch; ``forward(items)`` scores a batch of them. ``build_model``
rebuilds any of them from its ``config``. The three: SEAL (``seal``), the pin-anchored GNN
(``anchored``), and the plain node-embedding GNN below.

The GNN baseline embeds every node of the observed circuit graph with a GIN encoder of ``ckt.nn``
(``GIN.node_embeddings``: the same layers and per-kind feature standardisation the circuit encoders
use) and scores ``MLP([h_pin, h_net, h_pin * h_net])``. It sees the whole circuit, but only as two
node states: what the pin's neighbourhood and the net's neighbourhood look like, not how the two
relate, which is what SEAL's labels add.

Checkpoints are ``ckt.nn.checkpoint`` payloads of their own ``format`` (``FORMAT``), read with
``weights_only=True``; a file of another kind or schema version raises ``CheckpointError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from ckt.errors import CheckpointError, ModelConfigError
from ckt.graph.features import PIN_NODE_COLUMNS
from ckt.graph.pins import PYG_EDGE_TYPES
from ckt.linkpred.anchored import AnchoredGNN
from ckt.linkpred.samples import Pair, distinct
from ckt.linkpred.seal import SEAL
from ckt.nn.checkpoint import read_checkpoint, write_payload
from ckt.nn.encoders import GIN, mlp

FORMAT = "ckt.linkpred.checkpoint"
SCHEMA_VERSION = 1
"""Bumped whenever the payload layout, a model's parameters or the pin features change."""
KINDS = ("seal", "anchored", "gnn")


class NodeGNN(nn.Module):
    """GIN node embeddings of the observed graph, a pair scored from its pin's and net's states."""

    kind = "gnn"

    def __init__(self, hidden: int = 32, layers: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        self.config: dict[str, Any] = dict(hidden=hidden, layers=layers, dropout=dropout)
        self.encoder = GIN(in_dim=len(PIN_NODE_COLUMNS), hidden=hidden, out_dim=hidden, layers=layers,
                           dropout=dropout, num_edge_types=len(PYG_EDGE_TYPES))
        self.score = mlp([3 * hidden, hidden, 1])

    def set_input_normalisation(self, x: Tensor) -> None:
        self.encoder.set_input_normalisation(x)

    def prepare(self, pairs: list[Pair]) -> list[Pair]:
        return list(pairs)

    def forward(self, items: list[Pair]) -> Tensor:
        device = next(self.parameters()).device
        graphs, slot = distinct(g for p in items for g in (p.pin_graph, p.net_graph))
        batch = Batch.from_data_list([_tensors(g) for g in graphs]).to(device)
        h = self.encoder.node_embeddings(batch)
        ptr = batch.ptr
        pins = torch.tensor([int(ptr[slot[id(p.pin_graph)]]) + p.pin for p in items], device=device)
        nets = torch.tensor([int(ptr[slot[id(p.net_graph)]]) + p.net for p in items], device=device)
        a, b = h[pins], h[nets]
        return self.score(torch.cat([a, b, a * b], 1)).flatten()


def _tensors(g: Data) -> Data:
    """Only what the encoder reads, so batching ignores the bookkeeping lists a graph may carry."""
    return Data(x=g.x, edge_index=g.edge_index, edge_type=g.edge_type, num_nodes=g.num_nodes)


LinkModel = SEAL | AnchoredGNN | NodeGNN


def build_model(config: dict[str, Any]) -> LinkModel:
    """The model ``config`` (``{"kind": one of KINDS, **its arguments}``) describes.

    Raises:
        ModelConfigError: an unknown kind or argument.
    """
    kind = config.get("kind")
    args = {k: v for k, v in config.items() if k != "kind"}
    cls = {"seal": SEAL, "anchored": AnchoredGNN, "gnn": NodeGNN}.get(str(kind))
    if cls is None:
        raise ModelConfigError(f"unknown link model {kind!r}; choose one of {', '.join(KINDS)}")
    try:
        return cls(**args)
    except TypeError as exc:
        raise ModelConfigError(f"link model {kind}: {exc}") from exc


def model_config(model: LinkModel) -> dict[str, Any]:
    return {"kind": model.kind, **model.config}


def save_model(path: str | Path, model: LinkModel, training: dict[str, Any] | None = None) -> None:
    """Write ``model`` (weights on the CPU, its config) and an optional trainer state atomically."""
    write_payload(path, {
        "format": FORMAT, "schema_version": SCHEMA_VERSION, "config": model_config(model),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "training": training or {},
    })


def read_model(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict at ``path`` (``weights_only=True``).

    Raises:
        CheckpointError: missing, not a link-prediction checkpoint, or another schema version.
    """
    if not Path(path).is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    return read_checkpoint(path, fmt=FORMAT, schema_version=SCHEMA_VERSION)


def load_model(path: str | Path) -> LinkModel:
    """The model saved at ``path``, in eval mode on the CPU.

    Raises:
        CheckpointError: see ``read_model``, or a config or weights that do not fit.
    """
    checkpoint = read_model(path)
    try:
        model = build_model(checkpoint["config"])
        model.load_state_dict(checkpoint["state_dict"])
    except (ModelConfigError, RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's model cannot be rebuilt here: {exc}") from exc
    return model.eval()
