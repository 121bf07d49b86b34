"""The two-level subgraph-basis encoder: an inner GNN per block, then message passing between blocks.

It reads the ``TwoLevelData`` layout of ``ckt.graph.two_level``:

1. inner GNN: ``inner_layers`` of ``GINEConv`` over ``inner_edge_index`` (edge types
   ``inner_edge_type``) on the projected bipartite features ``x[inner_node]``, so each block sees
   its own devices, their values and the nets it touches (a net shared by two blocks is a separate
   inner node in each);
2. block state: the sum of a block's inner node states (``inner_block``) next to a learned
   embedding of ``block_type``, through an MLP;
3. outer message passing: ``outer_layers`` of a directed GIN step, one ``GINConv`` along
   ``block_edge_index`` and one along the reversed edges, concatenated, with a residual;
4. readout over each graph's blocks (``block_type_batch``).

Unlike CktGNN's released code, the inner GNN always runs, so two circuits with the same block
topology but different device values get different embeddings. Devices that no block covers
(``TwoLevelGraph.uncovered``, device-level decompositions only) do not enter the embedding; use a
flat encoder, or report ``coverage``, where that matters.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import GINConv, GINEConv, global_add_pool

from ckt.errors import ModelConfigError
from ckt.nn.encoders import IN_DIM, NUM_EDGE_TYPES, Encoder, block_batch, mlp, num_graphs, pool, pool_check


class TwoLevelEncoder(Encoder):
    """Inner GNN per block + block-type embedding, then directed outer message passing, then readout."""

    name = "two_level"

    def __init__(self, in_dim: int = IN_DIM, hidden: int = 64, out_dim: int = 64, inner_layers: int = 2,
                 outer_layers: int = 3, num_block_types: int = 32, pool: str = "sum",
                 dropout: float = 0.0, num_edge_types: int = NUM_EDGE_TYPES) -> None:
        super().__init__(in_dim)
        pool_check(pool)
        self.config = dict(in_dim=in_dim, hidden=hidden, out_dim=out_dim, inner_layers=inner_layers,
                           outer_layers=outer_layers, num_block_types=num_block_types, pool=pool,
                           dropout=dropout, num_edge_types=num_edge_types)
        self.out_dim = out_dim
        self.num_block_types = num_block_types
        self.pool_kind = pool
        self.dropout = dropout
        self.inp = nn.Linear(in_dim, hidden)
        self.edge_embedding = nn.Embedding(num_edge_types, hidden)
        self.inner = nn.ModuleList(GINEConv(mlp([hidden, hidden, hidden]), train_eps=True)
                                   for _ in range(inner_layers))
        self.inner_norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(inner_layers))
        self.block_embedding = nn.Embedding(num_block_types, hidden)
        self.block = mlp([2 * hidden, hidden, hidden])
        self.along = nn.ModuleList(GINConv(mlp([hidden, hidden])) for _ in range(outer_layers))
        self.against = nn.ModuleList(GINConv(mlp([hidden, hidden])) for _ in range(outer_layers))
        self.mix = nn.ModuleList(nn.Linear(2 * hidden, hidden) for _ in range(outer_layers))
        self.outer_norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(outer_layers))
        self.out = nn.Linear(hidden, out_dim)

    def block_states(self, data: Data) -> Tensor:
        """``[num_blocks, hidden]``: each block's pooled inner GNN state joined with its type."""
        bt = data.block_type
        if bt.numel() and int(bt.max()) >= self.num_block_types:
            raise ModelConfigError(f"block type {int(bt.max())} is outside the encoder's "
                                   f"{self.num_block_types} block types (raise num_block_types)")
        h = self.inp(self.features(data.x[data.inner_node]))
        e = self.edge_embedding(data.inner_edge_type)
        for conv, norm in zip(self.inner, self.inner_norms):
            step = torch.relu(norm(conv(h, data.inner_edge_index, e)))
            h = h + nn.functional.dropout(step, self.dropout, self.training)
        pooled = global_add_pool(h, data.inner_block, bt.size(0))
        return self.block(torch.cat([pooled, self.block_embedding(bt)], 1))

    def forward(self, data: Data) -> Tensor:
        if getattr(data, "block_type", None) is None:
            raise ModelConfigError("the two-level encoder needs TwoLevelData (ckt.graph.two_level.to_two_level_pyg)")
        h = self.block_states(data)
        edges = data.block_edge_index
        for along, against, mix, norm in zip(self.along, self.against, self.mix, self.outer_norms):
            step = torch.relu(norm(mix(torch.cat([along(h, edges), against(h, edges.flip(0))], 1))))
            h = h + nn.functional.dropout(step, self.dropout, self.training)
        return self.out(pool(self.pool_kind, h, block_batch(data), num_graphs(data)))
