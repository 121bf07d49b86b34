"""The encoder interface and the flat message-passing encoders (GIN, GCN, GAT).

Every encoder maps a PyG ``Data`` (one graph or a batch) to one embedding per graph,
``forward(data) -> Tensor[num_graphs, out_dim]``, so a head, the trainer and later users
(generators, link prediction, sizing) never care which encoder they hold. Flat encoders read the
node features ``x`` and the edge types ``edge_type`` of the bipartite or pin-level view
(``ckt.graph.to_pyg``); a ``TwoLevelData`` keeps those tensors, so they run on it unchanged.

Edge features: each ``edge_type`` gets a learned embedding, which is the one-hot ``edge_attr`` of
the bipartite view times a weight matrix, computed without building the 135-column one-hot. GIN
uses it through ``GINEConv``, GAT through ``GATv2Conv(edge_dim=...)``; ``GCNConv`` accepts only a
scalar edge weight, so GCN ignores edge types.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import GATv2Conv, GCNConv, GINEConv, global_add_pool, global_max_pool, global_mean_pool

from ckt.errors import ModelConfigError
from ckt.graph.features import BIPARTITE_NODE_COLUMNS, EDGE_TYPES
from ckt.nn.normalise import FeatureNormaliser

IN_DIM = len(BIPARTITE_NODE_COLUMNS)
"""Node feature width of the bipartite view, the default input of every encoder."""
NUM_EDGE_TYPES = len(EDGE_TYPES)
"""Edge types of the bipartite view (the pin view uses 4, which fits inside)."""

_POOLS = {"sum": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}


def graph_batch(data: Data) -> Tensor:
    """The graph index of each node: ``data.batch`` for a batch, all zeros for a single graph."""
    batch = getattr(data, "batch", None)
    if batch is None:
        return torch.zeros(data.num_nodes, dtype=torch.long, device=data.x.device)
    return batch


def num_graphs(data: Data) -> int:
    """How many graphs ``data`` holds (1 for a plain ``Data``)."""
    return int(getattr(data, "num_graphs", 1) or 1)


def block_batch(data: Data) -> Tensor:
    """The graph index of each block of a ``TwoLevelData`` (``block_type_batch``; zeros for one graph).

    Raises:
        ModelConfigError: a batch made without ``follow_batch=["block_type"]``.
    """
    batch = getattr(data, "block_type_batch", None)
    if batch is not None:
        return batch
    if num_graphs(data) > 1:
        raise ModelConfigError('batch two-level graphs with follow_batch=["block_type"] '
                               "(ckt.nn.train.loader does) so blocks know their graph")
    return torch.zeros(data.block_type.size(0), dtype=torch.long, device=data.block_type.device)


def pool_check(kind: str) -> None:
    """Refuse a readout name ``pool`` does not know, when the encoder is built."""
    if kind not in _POOLS:
        raise ModelConfigError(f"unknown pooling {kind!r}; choose one of {sorted(_POOLS)}")


def pool(kind: str, h: Tensor, batch: Tensor, size: int) -> Tensor:
    """Graph readout: ``sum`` (keeps counts, as GIN argues), ``mean`` or ``max`` over each graph."""
    return _POOLS[kind](h, batch, size)


def mlp(dims: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Encoder(nn.Module, ABC):
    """Base of every encoder: ``forward(data) -> Tensor[num_graphs, out_dim]``.

    Subclasses store the keyword arguments they were built with in ``config`` so ``ckt.nn.model``
    can rebuild them from a checkpoint, and read node features through ``features``, which
    standardises the numeric columns per device kind (``ckt.nn.normalise``) with statistics of the
    training graphs (``set_input_normalisation``, called by ``fit``; saved in the state dict).
    """

    name: str = ""
    out_dim: int
    config: dict[str, Any]

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.normaliser = FeatureNormaliser(in_dim)

    def set_input_normalisation(self, x: Tensor) -> None:
        """Take the feature statistics from ``x [nodes, in_dim]``, the training graphs' nodes."""
        self.normaliser.fit(x)

    def features(self, x: Tensor) -> Tensor:
        """``x`` with its numeric columns standardised."""
        return self.normaliser(x)

    @abstractmethod
    def forward(self, data: Data) -> Tensor:
        """``[num_graphs, out_dim]`` graph embeddings of ``data``."""


class _FlatEncoder(Encoder):
    """Shared shape of the flat encoders: input projection, ``layers`` convolutions with residuals,
    graph pooling, output projection."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int, pool: str, dropout: float,
                 num_edge_types: int, edge_features: bool) -> None:
        super().__init__(in_dim)
        pool_check(pool)
        self.out_dim = out_dim
        self.pool_kind = pool
        self.dropout = dropout
        self.inp = nn.Linear(in_dim, hidden)
        self.edge_embedding = nn.Embedding(num_edge_types, hidden) if edge_features else None
        self.convs = nn.ModuleList(self._conv(hidden) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.out = nn.Linear(hidden, out_dim)

    @abstractmethod
    def _conv(self, hidden: int) -> nn.Module:
        """One message-passing layer of width ``hidden``."""

    def node_embeddings(self, data: Data, offset: Tensor | None = None) -> Tensor:
        """``[num_nodes, hidden]`` per-node states after the last convolution, before pooling (what
        node- and link-level tasks read). ``offset [num_nodes, hidden]``, when given, is added to the
        projected input: a node labelling such as link prediction's distances from a query pin."""
        h = self.inp(self.features(data.x))
        if offset is not None:
            h = h + offset
        e = None if self.edge_embedding is None else self.edge_embedding(data.edge_type)
        for conv, norm in zip(self.convs, self.norms):
            out = conv(h, data.edge_index) if e is None else conv(h, data.edge_index, e)
            h = h + nn.functional.dropout(torch.relu(norm(out)), self.dropout, self.training)
        return h

    def forward(self, data: Data) -> Tensor:
        h = self.node_embeddings(data)
        return self.out(pool(self.pool_kind, h, graph_batch(data), num_graphs(data)))


class GIN(_FlatEncoder):
    """GIN with edge types (``GINEConv``, Hu et al. 2020) and sum readout: as expressive as 1-WL."""

    name = "gin"

    def __init__(self, in_dim: int = IN_DIM, hidden: int = 64, out_dim: int = 64, layers: int = 3,
                 pool: str = "sum", dropout: float = 0.0, num_edge_types: int = NUM_EDGE_TYPES) -> None:
        super().__init__(in_dim, hidden, out_dim, layers, pool, dropout, num_edge_types, True)
        self.config = dict(in_dim=in_dim, hidden=hidden, out_dim=out_dim, layers=layers, pool=pool,
                           dropout=dropout, num_edge_types=num_edge_types)

    def _conv(self, hidden: int) -> nn.Module:
        return GINEConv(mlp([hidden, hidden, hidden]), train_eps=True)


class GCN(_FlatEncoder):
    """GCN (Kipf & Welling) with mean readout; no edge features (``GCNConv`` takes only a scalar
    weight)."""

    name = "gcn"

    def __init__(self, in_dim: int = IN_DIM, hidden: int = 64, out_dim: int = 64, layers: int = 3,
                 pool: str = "mean", dropout: float = 0.0) -> None:
        super().__init__(in_dim, hidden, out_dim, layers, pool, dropout, 0, False)
        self.config = dict(in_dim=in_dim, hidden=hidden, out_dim=out_dim, layers=layers, pool=pool,
                           dropout=dropout)

    def _conv(self, hidden: int) -> nn.Module:
        return GCNConv(hidden, hidden)


class GAT(_FlatEncoder):
    """Graph attention (GATv2, Brody et al. 2022) whose attention scores see the edge type."""

    name = "gat"

    def __init__(self, in_dim: int = IN_DIM, hidden: int = 64, out_dim: int = 64, layers: int = 3,
                 heads: int = 4, pool: str = "sum", dropout: float = 0.0,
                 num_edge_types: int = NUM_EDGE_TYPES) -> None:
        if hidden % heads:
            raise ModelConfigError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
        self.heads = heads
        super().__init__(in_dim, hidden, out_dim, layers, pool, dropout, num_edge_types, True)
        self.config = dict(in_dim=in_dim, hidden=hidden, out_dim=out_dim, layers=layers, heads=heads,
                           pool=pool, dropout=dropout, num_edge_types=num_edge_types)

    def _conv(self, hidden: int) -> nn.Module:
        return GATv2Conv(hidden, hidden // self.heads, heads=self.heads, edge_dim=hidden)
