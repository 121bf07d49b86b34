"""A DAG-aware encoder (DAGNN / D-VAE style) and the DAG orientations it runs on.

Node states are computed in topological order: a node's state is a GRU of its own features and an
attention-weighted sum of its predecessors' states (DAGNN, Thost & Chen 2021), so information flows
along signal paths instead of diffusing both ways. A second pass runs on the reversed DAG, and the
graph embedding pools both states of every node.

Which DAG:

- ``TwoLevelData`` (has ``block_type``): the outer block graph, ``block_edge_index``, as directed.
  A block's features are its block-type embedding plus the sum of its inner nodes' projected ``x``,
  so device values reach the encoder. OCB block graphs are DAGs; a cyclic block graph (possible
  for device-level blocks) loses its back edges as ``topological_levels`` says.
- a flat graph (bipartite or pin view, edges stored both ways): a breadth-first orientation. The
  sources are the nodes in ``data.dag_source`` when the dataset set it (``input_net_mask`` marks
  nets named like inputs: ``in``, ``inp``, ``vin_n``...); a graph with none marked uses its ground
  and supply nets (the ``net:ground`` / ``net:supply`` columns of ``x``); a connected component
  with no source starts from its lowest-index node. Each edge ``u - v`` is kept in the one direction that increases
  ``(BFS depth, node index)``, a total order, so the result is always acyclic. Edge types
  (``edge_type``) enter the attention scores and the messages; edges between blocks share one
  learned type.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.utils import softmax

from ckt.errors import ModelConfigError
from ckt.graph.features import BIPARTITE_NODE_COLUMNS, PIN_NODE_COLUMNS
from ckt.nn.encoders import IN_DIM, NUM_EDGE_TYPES, Encoder, block_batch, graph_batch, num_graphs, pool, pool_check

_INPUT_NAME = re.compile(r"^v?in(put)?[_]?([pn+-]|\d)?$", re.IGNORECASE)
_RAILS = ("net:ground", "net:supply")


def input_net_mask(data: Data) -> Tensor:
    """``[num_nodes]`` bool: the net nodes of a single-graph view whose names look like inputs.

    Meant to run at dataset time (``data.dag_source = input_net_mask(data)``), while ``net_names``
    is still there; the result batches like any node tensor.
    """
    names: Sequence[str] = data.net_names
    first_net = data.num_nodes - len(names)
    mask = torch.zeros(data.num_nodes, dtype=torch.bool)
    for i, name in enumerate(names):
        mask[first_net + i] = bool(_INPUT_NAME.match(name))
    return mask


def _rails(data: Data) -> Tensor:
    for columns in (BIPARTITE_NODE_COLUMNS, PIN_NODE_COLUMNS):
        if data.x.size(1) == len(columns):
            return data.x[:, [columns.index(c) for c in _RAILS]].sum(1) > 0
    return torch.zeros(data.num_nodes, dtype=torch.bool, device=data.x.device)


def _sources(data: Data, batch: Tensor) -> Tensor:
    """Marked input nets where a graph has some (``dag_source``), else that graph's rails."""
    rails = _rails(data)
    marked = getattr(data, "dag_source", None)
    if marked is None:
        return rails
    marked = marked.bool()
    has_marks = torch.zeros(int(batch.max()) + 1, dtype=torch.long, device=batch.device).index_add_(
        0, batch, marked.long()) > 0
    return torch.where(has_marks[batch], marked, rails)


def bfs_depth(edge_index: Tensor, num_nodes: int, sources: Tensor, batch: Tensor) -> Tensor:
    """Breadth-first depth of every node from ``sources`` over ``edge_index`` (taken as given);
    every graph of ``batch`` whose nodes stay unreached is restarted from its lowest unreached node."""
    src, dst = edge_index
    depth = torch.full((num_nodes,), -1, dtype=torch.long, device=edge_index.device)
    depth[sources] = 0
    index = torch.arange(num_nodes, device=edge_index.device)
    frontier = sources.clone()
    d = 0
    while True:
        while bool(frontier.any()):
            step = frontier[src] & (depth[dst] < 0)
            frontier = torch.zeros_like(frontier)
            frontier[dst[step]] = True
            d += 1
            depth[frontier] = d
        unreached = depth < 0
        if not bool(unreached.any()):
            return depth
        # seed the lowest unreached node of each graph that still has some
        first = torch.full((int(batch.max()) + 1,), num_nodes, dtype=torch.long, device=batch.device)
        first.scatter_reduce_(0, batch[unreached], index[unreached], reduce="amin")
        seeds = first[first < num_nodes]
        frontier = torch.zeros_like(unreached)
        frontier[seeds] = True
        d = 0
        depth[seeds] = 0


def topological_levels(edge_index: Tensor, num_nodes: int, batch: Tensor) -> tuple[Tensor, Tensor]:
    """Longest-path level of every node of the directed graph ``edge_index``, and which edges it keeps.

    Kahn's algorithm run level by level: a node gets level ``t`` once all its predecessors have a
    level. When a graph of ``batch`` is stuck on a cycle, its lowest-index waiting node is given the
    next level and the edges into it from waiting nodes are dropped (``keep`` is False for them), so
    an acyclic graph keeps every edge and a cyclic one keeps a DAG.

    Returns:
        ``(level [num_nodes], keep [num_edges])``; every kept edge goes from a lower to a higher level.
    """
    src, dst = edge_index
    device = edge_index.device
    level = torch.full((num_nodes,), -1, dtype=torch.long, device=device)
    keep = torch.ones(src.size(0), dtype=torch.bool, device=device)
    index = torch.arange(num_nodes, device=device)
    graphs = int(batch.max()) + 1 if num_nodes else 0
    t = 0
    while bool((level < 0).any()):
        waiting = level < 0
        live = keep & waiting[src]
        pending = torch.zeros(num_nodes, dtype=torch.long, device=device).index_add_(
            0, dst[live], torch.ones_like(dst[live]))
        ready = waiting & (pending == 0)
        n_ready = torch.zeros(graphs, dtype=torch.long, device=device).index_add_(0, batch, ready.long())
        n_wait = torch.zeros(graphs, dtype=torch.long, device=device).index_add_(0, batch, waiting.long())
        stuck = (n_wait > 0) & (n_ready == 0)
        if bool(stuck.any()):
            first = torch.full((graphs,), num_nodes, dtype=torch.long, device=device)
            first.scatter_reduce_(0, batch[waiting], index[waiting], reduce="amin")
            forced = torch.zeros_like(ready)
            forced[first[stuck]] = True
            keep &= ~(forced[dst] & waiting[src])
            ready |= forced
        level[ready] = t
        t += 1
    return level, keep


def flat_orientation(data: Data) -> Tensor:
    """``[num_edges]`` bool: the edges of a flat graph kept by its breadth-first DAG orientation
    (module docstring); of each edge stored both ways exactly one direction is kept."""
    n = data.num_nodes
    batch = graph_batch(data)
    depth = bfs_depth(data.edge_index, n, _sources(data, batch), batch)
    key = depth * n + torch.arange(n, device=depth.device)
    src, dst = data.edge_index
    return key[src] < key[dst]


class _DagPass(nn.Module):
    """One sweep in topological order: ``h_v = GRU(x_v, sum_u softmax(a(h_u, x_v, e_uv)) (W h_u + e_uv))``."""

    def __init__(self, in_dim: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.gru = nn.GRUCell(in_dim, hidden)
        self.score = nn.Linear(2 * hidden + in_dim, 1)
        self.message = nn.Linear(hidden, hidden)

    def forward(self, x: Tensor, edge_index: Tensor, e: Tensor, level: Tensor) -> Tensor:
        n = x.size(0)
        h = x.new_zeros(n, self.hidden)
        src, dst = edge_index
        edge_level = level[dst]
        for t in range(int(level.max()) + 1 if n else 0):
            nodes = (level == t).nonzero().squeeze(1)
            on = edge_level == t
            s, d, e_on = src[on], dst[on], e[on]
            m = x.new_zeros(n, self.hidden)
            if s.numel():
                alpha = softmax(self.score(torch.cat([h[s], x[d], e_on], 1)), d, num_nodes=n)
                m = m.index_add(0, d, alpha * (self.message(h[s]) + e_on))
            h = h.index_copy(0, nodes, self.gru(x[nodes], m[nodes]))
        return h


class DAGNN(Encoder):
    """DAG-aware encoder: forward and reverse topological sweeps, ``layers`` deep, then pooling."""

    name = "dagnn"

    def __init__(self, in_dim: int = IN_DIM, hidden: int = 64, out_dim: int = 64, layers: int = 2,
                 pool: str = "sum", num_block_types: int = 32, num_edge_types: int = NUM_EDGE_TYPES) -> None:
        super().__init__(in_dim)
        self.out_dim = out_dim
        self.pool_kind = pool
        self.num_block_types = num_block_types
        self.num_edge_types = num_edge_types
        self.config = dict(in_dim=in_dim, hidden=hidden, out_dim=out_dim, layers=layers, pool=pool,
                           num_block_types=num_block_types, num_edge_types=num_edge_types)
        pool_check(pool)
        self.inp = nn.Linear(in_dim, hidden)
        self.block_embedding = nn.Embedding(num_block_types, hidden)
        # the flat graph's edge types, then one more for the edges between blocks
        self.edge_embedding = nn.Embedding(num_edge_types + 1, hidden)
        self.forward_passes = nn.ModuleList(_DagPass(hidden if i == 0 else 2 * hidden, hidden)
                                            for i in range(layers))
        self.reverse_passes = nn.ModuleList(_DagPass(hidden if i == 0 else 2 * hidden, hidden)
                                            for i in range(layers))
        self.out = nn.Linear(2 * hidden, out_dim)

    def _graph(self, data: Data) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Node features, DAG edges, their types and the node-to-graph index of the graph swept."""
        if getattr(data, "block_type", None) is not None:
            bt = data.block_type
            if bt.numel() and int(bt.max()) >= self.num_block_types:
                raise ModelConfigError(f"block type {int(bt.max())} is outside the encoder's "
                                       f"{self.num_block_types} block types (raise num_block_types)")
            inner = self.inp(self.features(data.x[data.inner_node]))
            h = self.block_embedding(bt).index_add(0, data.inner_block, inner)
            batch = block_batch(data)
            _, keep = topological_levels(data.block_edge_index, bt.size(0), batch)
            edges = data.block_edge_index[:, keep]
            return h, edges, torch.full_like(edges[0], self.num_edge_types), batch
        keep = flat_orientation(data)
        return self.inp(self.features(data.x)), data.edge_index[:, keep], data.edge_type[keep], graph_batch(data)

    def forward(self, data: Data) -> Tensor:
        h, edges, edge_type, batch = self._graph(data)
        e = self.edge_embedding(edge_type)
        level, _ = topological_levels(edges, h.size(0), batch)
        reverse_level = (int(level.max()) if level.numel() else 0) - level
        for fwd, rev in zip(self.forward_passes, self.reverse_passes):
            h = torch.cat([fwd(h, edges, e, level), rev(h, edges.flip(0), e, reverse_level)], 1)
        return self.out(pool(self.pool_kind, h, batch, num_graphs(data)))
