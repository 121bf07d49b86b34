"""SEAL on pin-level graphs: enclosing subgraphs, double-radius node labels, a DGCNN readout.

SEAL (Zhang & Chen, 2018) scores a candidate link from the subgraph around its two ends alone: the
nodes within ``hops`` of the pin or the net, the link itself absent. Each node gets a double-radius
label (DRNL) from its distances to the two ends, so the network sees where a node sits relative to
the pin *and* the net, which a per-node GNN embedding cannot tell. In the pin graph one device-level
hop is two hops (pin → device → pin, pin → net → pin), so 3 hops reach the nets of the pin's own
device and the devices on the candidate net.

Readout (DGCNN, Zhang et al. 2018): GCN layers with tanh, their outputs concatenated, the nodes sorted
by the last channel (PyG ``SortAggregation``) and the first ``k`` kept, two 1-D convolutions, an MLP
to one logit. ``k`` is set from the training subgraphs' sizes (their 60th percentile, at least 10).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GCNConv, GINConv, global_mean_pool
from torch_geometric.nn.aggr import SortAggregation

from ckt.errors import ModelConfigError
from ckt.graph.features import PIN_NODE_COLUMNS
from ckt.linkpred.samples import Pair
from ckt.nn.encoders import mlp
from ckt.nn.normalise import FeatureNormaliser

CONVS = ("gcn", "gin")
"""``gcn``: DGCNN's degree-normalised GCN layers; ``gin``: GIN layers (sum aggregation, so a node
sees how many pins of each kind sit on a net, not only their average)."""
READOUTS = ("sort", "center")
"""``sort``: DGCNN's sort pooling and 1-D convolutions; ``center``: the pin's and net's final states
(their product and sum) beside the subgraph's mean, the readout later SEAL variants prefer."""


def drnl(dist_pin: np.ndarray, dist_net: np.ndarray, cap: int) -> np.ndarray:
    """Double-radius node labels from each node's distance to the pin and to the net.

    ``1 + min(a, b) + (d // 2) * (d // 2 + d % 2 - 1)`` with ``d = a + b`` (the two ends get 1, a
    node one hop from both gets 2...); a node that cannot reach one end gets 0; labels above
    ``cap`` become ``cap``.
    """
    a, b = dist_pin, dist_net
    out = np.zeros(len(a), dtype=np.int64)
    ok = np.isfinite(a) & np.isfinite(b)
    ai, bi = a[ok].astype(np.int64), b[ok].astype(np.int64)
    d = ai + bi
    out[ok] = 1 + np.minimum(ai, bi) + (d // 2) * (d // 2 + d % 2 - 1)
    out[(a == 0) | (b == 0)] = 1
    return np.minimum(out, cap)


Adjacency = list[list[int]]
"""Neighbour lists of a graph's nodes (both directions of every edge)."""


def adjacency(graph: Data) -> Adjacency:
    """The neighbour lists of ``graph`` (built once per observed graph and shared by its candidates)."""
    adj: Adjacency = [[] for _ in range(graph.num_nodes)]
    src, dst = graph.edge_index.tolist()
    for a, b in zip(src, dst):
        adj[a].append(b)
    return adj


def hop_distances(adj: Adjacency, sources: list[int], hops: int, allowed: set[int] | None = None,
         blocked: int = -1) -> dict[int, int]:
    """Hop distance of every node within ``hops`` of ``sources`` (only through ``allowed`` nodes when
    given, never through ``blocked``)."""
    dist = {s: 0 for s in sources}
    frontier = list(sources)
    for d in range(1, hops + 1):
        nxt = []
        for node in frontier:
            for m in adj[node]:
                if m not in dist and m != blocked and (allowed is None or m in allowed):
                    dist[m] = d
                    nxt.append(m)
        frontier = nxt
    return dist


@dataclass(frozen=True, eq=False)
class Enclosing:
    """A candidate link's enclosing subgraph, without copying features: ``nodes`` index its graph(s).

    Attributes:
        parts: ``(x, nodes)`` per source graph (one within a circuit, two across circuits).
        edge_index: ``[2, E]`` over the subgraph's local numbering (parts in order).
        labels: ``[n]`` DRNL labels.
        ends: the local indices of the pin and the net.
    """

    parts: tuple[tuple[Tensor, Tensor], ...]
    edge_index: Tensor
    labels: Tensor
    ends: tuple[int, int]

    @property
    def num_nodes(self) -> int:
        return int(self.labels.numel())


def _induced(graph: Data, nodes: list[int]) -> tuple[Tensor, Tensor]:
    """``nodes`` as a tensor and the edges among them, renumbered in ``nodes`` order."""
    index = torch.tensor(nodes, dtype=torch.long)
    local = torch.full((graph.num_nodes,), -1, dtype=torch.long)
    local[index] = torch.arange(len(nodes))
    ei = local[graph.edge_index]
    return index, ei[:, (ei >= 0).all(0)]


def enclosing_subgraph(pair: Pair, hops: int, cap: int, adj: dict[int, Adjacency] | None = None) -> Enclosing:
    """The ``hops``-hop enclosing subgraph of ``pair`` with DRNL labels; distances to each end are
    taken inside the subgraph with the other end removed (the link is never in the observed graph, so
    there is nothing else to remove). ``adj`` caches neighbour lists by ``id(graph)``."""
    cache = adj if adj is not None else {}

    def neighbours(g: Data) -> Adjacency:
        if id(g) not in cache:
            if len(cache) >= 64:  # candidates of one query come together: keep memory flat
                cache.clear()
            cache[id(g)] = adjacency(g)
        return cache[id(g)]

    if pair.same_graph:
        g, lists = pair.pin_graph, neighbours(pair.pin_graph)
        inside = set(hop_distances(lists, [pair.pin, pair.net], hops))
        nodes = sorted(inside)
        to_pin = hop_distances(lists, [pair.pin], len(nodes), inside, blocked=pair.net)
        to_net = hop_distances(lists, [pair.net], len(nodes), inside, blocked=pair.pin)
        a = np.array([to_pin.get(n, np.inf) for n in nodes], dtype=float)
        b = np.array([to_net.get(n, np.inf) for n in nodes], dtype=float)
        index, ei = _induced(g, nodes)
        ends = (nodes.index(pair.pin), nodes.index(pair.net))
        return Enclosing(((g.x, index),), ei, torch.from_numpy(drnl(a, b, cap)), ends)
    pin_nodes = sorted(hop_distances(neighbours(pair.pin_graph), [pair.pin], hops))
    net_nodes = sorted(hop_distances(neighbours(pair.net_graph), [pair.net], hops))
    pin_index, pin_ei = _induced(pair.pin_graph, pin_nodes)
    net_index, net_ei = _induced(pair.net_graph, net_nodes)
    labels = torch.zeros(len(pin_nodes) + len(net_nodes), dtype=torch.long)
    u, v = pin_nodes.index(pair.pin), len(pin_nodes) + net_nodes.index(pair.net)
    labels[[u, v]] = 1
    ei = torch.cat([pin_ei, net_ei + len(pin_nodes)], 1)
    return Enclosing(((pair.pin_graph.x, pin_index), (pair.net_graph.x, net_index)), ei, labels, (u, v))


def collate(items: list[Enclosing]) -> Batch:
    """A PyG batch of enclosing subgraphs (features gathered from their source graphs)."""
    data = []
    for it in items:
        x = torch.cat([xs[idx] for xs, idx in it.parts])
        data.append(Data(x=x, edge_index=it.edge_index, z=it.labels, num_nodes=it.num_nodes,
                         ends=torch.tensor([it.ends])))
    return Batch.from_data_list(data)


def sort_k(sizes: list[int]) -> int:
    """DGCNN's ``k``: the 60th percentile of the training subgraphs' node counts, at least 10."""
    if not sizes:
        return 10
    return max(10, int(np.percentile(np.asarray(sizes), 60)))


class SEAL(nn.Module):
    """DGCNN over DRNL-labelled enclosing subgraphs -> one logit per candidate link."""

    kind = "seal"

    def __init__(self, hops: int = 3, hidden: int = 32, layers: int = 3, max_label: int = 40, k: int = 30,
                 dropout: float = 0.3, readout: str = "sort", conv: str = "gcn") -> None:
        super().__init__()
        if hops < 1 or layers < 1 or hidden < 1:
            raise ModelConfigError(f"seal: hops, layers and hidden must be at least 1 (got {hops}, {layers}, "
                                   f"{hidden})")
        if readout not in READOUTS:
            raise ModelConfigError(f"seal: unknown readout {readout!r}; choose one of {', '.join(READOUTS)}")
        if conv not in CONVS:
            raise ModelConfigError(f"seal: unknown convolution {conv!r}; choose one of {', '.join(CONVS)}")
        if k < 10:
            raise ModelConfigError(f"seal: the sort size k must be at least 10, got {k}")
        self.config: dict[str, Any] = dict(hops=hops, hidden=hidden, layers=layers, max_label=max_label, k=k,
                                           dropout=dropout, readout=readout, conv=conv)
        self.hops, self.max_label, self.k, self.readout = hops, max_label, k, readout
        in_dim = len(PIN_NODE_COLUMNS)
        self.normaliser = FeatureNormaliser(in_dim)
        self.inp = nn.Linear(in_dim, hidden)
        self.label = nn.Embedding(max_label + 1, hidden)
        dims = [hidden] * layers + [1]
        self.convs = nn.ModuleList(GCNConv(a, b) if conv == "gcn" else GINConv(mlp([a, b, b]), train_eps=True)
                                   for a, b in zip([hidden, *dims[:-1]], dims))
        total = sum(dims)
        width = 3 * total
        if readout == "sort":  # DGCNN's readout modules exist only when they are used
            self.sort = SortAggregation(k)
            self.conv1 = nn.Conv1d(1, 16, total, total)
            self.pool = nn.MaxPool1d(2, 2)
            self.conv2 = nn.Conv1d(16, 32, 5, 1)
            width = 32 * ((k - 2) // 2 + 1 - 5 + 1)
        self.mlp = nn.Sequential(nn.Linear(width, 128), nn.ReLU(), nn.Dropout(dropout), nn.Linear(128, 1))

    def set_input_normalisation(self, x: Tensor) -> None:
        self.normaliser.fit(x)

    def prepare(self, pairs: list[Pair]) -> list[Enclosing]:
        cache: dict[int, Adjacency] = {}
        return [enclosing_subgraph(p, self.hops, self.max_label, cache) for p in pairs]

    def forward(self, items: list[Enclosing]) -> Tensor:
        batch = collate(items).to(self.inp.weight.device)
        h = self.inp(self.normaliser(batch.x)) + self.label(batch.z)
        outs = []
        for conv in self.convs:
            h = torch.tanh(conv(h, batch.edge_index))
            outs.append(h)
        h = torch.cat(outs, 1)
        if self.readout == "center":
            ends = batch.ends + batch.ptr[:-1, None]
            pin, net = h[ends[:, 0]], h[ends[:, 1]]
            pooled = global_mean_pool(h, batch.batch, batch.num_graphs)
            return self.mlp(torch.cat([pin * net, pin + net, pooled], 1)).flatten()
        h = self.sort(h, batch.batch, dim_size=batch.num_graphs)
        h = h.unsqueeze(1)
        h = self.pool(torch.relu(self.conv1(h)))
        h = torch.relu(self.conv2(h))
        return self.mlp(h.flatten(1)).flatten()
