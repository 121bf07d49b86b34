"""The parasitic estimator: a relational GNN over the pin-level graph with three task heads.

``ParasiticModel`` embeds every node with ``layers`` rounds of typed message passing (one linear map
per pin-view edge type, mean-aggregated, residual, layer norm), then predicts a net's ground
capacitance (``log10`` F, standardised), its bucket (``N_BUCKETS`` logits) and a pair's coupling
capacitance from ``[h_u * h_v, h_u + h_v, |h_u - h_v|, one-hot link type, PAIR_FEATURES]`` (symmetric
in u, v).
The ``gnn`` and ``gcl`` models share this architecture; ``gcl`` pretrains the encoder contrastively
first (``ckt.parasitic.train``), and keeps the projection head ``proj`` that pretraining uses.
Label statistics and bucket edges are buffers, so a checkpoint alone turns outputs into farads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from ckt.errors import ModelConfigError
from ckt.nn.encoders import mlp
from ckt.parasitic.features import FEATURES, PAIR_FEATURES
from ckt.parasitic.tasks import N_BUCKETS

N_LINK_TYPES = 3
N_EDGE_TYPES = 4


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Architecture of a ``ParasiticModel`` (recorded in its checkpoint)."""

    hidden: int = 32
    layers: int = 3
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.layers < 1 or not 0 <= self.dropout < 1:
            raise ModelConfigError(f"bad parasitic model config {asdict(self)}")


class RelationalLayer(nn.Module):
    """``h + relu(W h + W_rel [m_r ; m_r log1p(n_r)]_r)``, layer-normalised: ``m_r`` is the mean of
    the neighbours reached over edge type ``r`` and ``n_r`` their count, so the layer sees both the
    average neighbour and how many there are (a net's load grows with its fan-out)."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.own = nn.Linear(dim, dim)
        self.rel = nn.Linear(2 * dim * N_EDGE_TYPES, dim, bias=False)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        n, d = h.shape
        slot = edge_index[1] * N_EDGE_TYPES + edge_type
        total = torch.zeros(n * N_EDGE_TYPES, d, device=h.device, dtype=h.dtype).index_add_(0, slot, h[edge_index[0]])
        count = torch.bincount(slot, minlength=n * N_EDGE_TYPES).to(h.dtype).unsqueeze(1)
        mean = total / count.clamp_min(1)
        scaled = mean * torch.log1p(count)
        out = self.own(h) + self.rel(torch.cat([mean.view(n, -1), scaled.view(n, -1)], dim=1))
        return self.norm(h + self.drop(torch.relu(out)))


class ParasiticModel(nn.Module):
    """Encoder plus ground-cap regression, ground-cap bucket and coupling-cap heads."""

    net_mean: Tensor
    net_std: Tensor
    link_mean: Tensor
    link_std: Tensor
    edges: Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        self.embed = mlp([len(FEATURES), h, h])
        self.layers = nn.ModuleList(RelationalLayer(h, config.dropout) for _ in range(config.layers))
        self.proj = mlp([h, h, h])
        self.ground = mlp([h + len(FEATURES), h, 1])
        self.bucket = mlp([h + len(FEATURES), h, N_BUCKETS])
        self.coupling = mlp([3 * h + N_LINK_TYPES + len(PAIR_FEATURES), h, h, 1])
        for name in ("net_mean", "net_std", "link_mean", "link_std"):
            self.register_buffer(name, torch.tensor(0.0 if name.endswith("mean") else 1.0))
        self.register_buffer("edges", torch.zeros(N_BUCKETS - 1))

    def encode(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        h = self.embed(x)
        for layer in self.layers:
            h = layer(h, edge_index, edge_type)
        return h

    def ground_outputs(self, h: Tensor, x: Tensor, nets: Tensor) -> tuple[Tensor, Tensor]:
        """Standardised log10 ground capacitance ``[B]`` and bucket logits ``[B, N_BUCKETS]``."""
        z = torch.cat([h[nets], x[nets]], dim=1)
        return self.ground(z).squeeze(1), self.bucket(z)

    def coupling_output(self, h: Tensor, links: Tensor, link_type: Tensor, pair: Tensor) -> Tensor:
        """Standardised log10 coupling capacitance ``[L]`` of the pairs ``links [2, L]`` (``pair``: their
        ``PAIR_FEATURES``)."""
        a, b = h[links[0]], h[links[1]]
        kind = nn.functional.one_hot(link_type, N_LINK_TYPES).to(h.dtype)
        return self.coupling(torch.cat([a * b, a + b, (a - b).abs(), kind, pair], dim=1)).squeeze(1)

    def set_statistics(self, net_y: Tensor, link_y: Tensor, edges: Tensor) -> None:
        """Record the training labels' mean/std (log10 F) and the bucket edges."""
        for prefix, y in (("net", net_y), ("link", link_y)):
            getattr(self, f"{prefix}_mean").fill_(float(y.mean()))
            getattr(self, f"{prefix}_std").fill_(float(y.std().clamp_min(1e-6)))
        self.edges.copy_(edges)
