"""PyG's GPS graph transformer (Rampášek et al. 2022) on the flat device-level graph.

Each ``GPSConv`` layer adds a local message-passing step (``GINEConv`` over the edge types) and
global multi-head attention over all nodes of the same graph, so distant devices (an output stage
and its compensation network) see each other in one layer.

Positional encodings (``pe``): ``"rw"`` random-walk return probabilities (PyG's
``AddRandomWalkPE``) or ``"lap"`` Laplacian eigenvectors (``AddLaplacianEigenvectorPE``), ``pe_dim``
wide. Put them on the dataset with ``positional_encoding`` (attributes ``random_walk_pe`` /
``laplacian_eigenvector_pe``) to compute them once; an encoder that finds them missing computes
them for the batch in its forward pass (the same numbers for ``"rw"``; ``"lap"`` draws fresh random
eigenvector signs each time, which is the usual augmentation).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import GINEConv, GPSConv
from torch_geometric.transforms import AddLaplacianEigenvectorPE, AddRandomWalkPE

from ckt.errors import ModelConfigError
from ckt.nn.encoders import IN_DIM, NUM_EDGE_TYPES, Encoder, graph_batch, mlp, num_graphs, pool, pool_check

PE_ATTRIBUTES = {"rw": "random_walk_pe", "lap": "laplacian_eigenvector_pe"}
"""Where each kind of positional encoding lives on a ``Data``."""


def _laplacian_pe(edge_index: Tensor, num_nodes: int, dim: int) -> Tensor:
    """Laplacian eigenvectors of one graph, zero-padded to ``dim`` columns when it has few nodes."""
    k = min(dim, num_nodes - 1)
    pe = torch.zeros(num_nodes, dim)
    if k > 0:
        one = AddLaplacianEigenvectorPE(k, attr_name="pe", is_undirected=True)(
            Data(edge_index=edge_index.cpu(), num_nodes=num_nodes))
        pe[:, :k] = one.pe.float()
    return pe


def positional_encoding(data: Data, kind: str, dim: int) -> Tensor:
    """The ``[num_nodes, dim]`` positional encoding of ``data`` (one graph or a batch).

    Uses the stored attribute (``PE_ATTRIBUTES[kind]``) when present, else computes it.

    Raises:
        ModelConfigError: unknown ``kind``, or a stored encoding of another width.
    """
    if kind not in PE_ATTRIBUTES:
        raise ModelConfigError(f"unknown positional encoding {kind!r}; choose one of {sorted(PE_ATTRIBUTES)}")
    stored = getattr(data, PE_ATTRIBUTES[kind], None)
    if stored is not None:
        if stored.size(-1) != dim:
            raise ModelConfigError(f"{PE_ATTRIBUTES[kind]} has {stored.size(-1)} columns, the encoder wants {dim}")
        return stored.float()
    n = data.num_nodes
    if kind == "rw":
        # Random walks never leave a graph, so the batch as one disjoint graph gives each graph's values.
        return AddRandomWalkPE(dim, attr_name="pe")(Data(edge_index=data.edge_index, num_nodes=n)).pe
    batch = graph_batch(data)
    src, dst = data.edge_index
    parts = []
    for g in range(num_graphs(data)):
        nodes = (batch == g).nonzero().squeeze(1)
        first = int(nodes[0]) if nodes.numel() else 0
        inside = batch[src] == g
        parts.append(_laplacian_pe(data.edge_index[:, inside] - first, nodes.numel(), dim))
    return torch.cat(parts).to(data.x.device)


class GPS(Encoder):
    """GPS: ``layers`` of ``GPSConv(GINEConv)`` with optional positional encodings, then pooling."""

    name = "gps"

    def __init__(self, in_dim: int = IN_DIM, hidden: int = 64, out_dim: int = 64, layers: int = 3,
                 heads: int = 4, pe: str | None = "rw", pe_dim: int = 8, pool: str = "sum",
                 dropout: float = 0.0, num_edge_types: int = NUM_EDGE_TYPES) -> None:
        super().__init__(in_dim)
        pool_check(pool)
        if hidden % heads:
            raise ModelConfigError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
        if pe is not None and pe not in PE_ATTRIBUTES:
            raise ModelConfigError(f"unknown positional encoding {pe!r}; choose one of {sorted(PE_ATTRIBUTES)}")
        self.config = dict(in_dim=in_dim, hidden=hidden, out_dim=out_dim, layers=layers, heads=heads, pe=pe,
                           pe_dim=pe_dim, pool=pool, dropout=dropout, num_edge_types=num_edge_types)
        self.out_dim = out_dim
        self.pe, self.pe_dim, self.pool_kind = pe, pe_dim, pool
        self.inp = nn.Linear(in_dim, hidden)
        self.pe_inp = nn.Linear(pe_dim, hidden) if pe else None
        self.edge_embedding = nn.Embedding(num_edge_types, hidden)
        self.convs = nn.ModuleList(
            GPSConv(hidden, GINEConv(mlp([hidden, hidden, hidden])), heads=heads, dropout=dropout)
            for _ in range(layers))
        self.out = nn.Linear(hidden, out_dim)

    def forward(self, data: Data) -> Tensor:
        h = self.inp(self.features(data.x))
        if self.pe_inp is not None and self.pe is not None:
            h = h + self.pe_inp(positional_encoding(data, self.pe, self.pe_dim))
        e = self.edge_embedding(data.edge_type)
        batch = graph_batch(data)
        for conv in self.convs:
            h = conv(h, data.edge_index, batch, edge_attr=e)
        return self.out(pool(self.pool_kind, h, batch, num_graphs(data)))
