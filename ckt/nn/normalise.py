"""Per-device-kind standardisation of the numeric node features.

The graph views store device values as ``log10`` columns (``value:log10``, ``w:log10``,
``l:log10``, ``m:log10``, each with a ``:mask`` column) shared by every device kind, so one column
holds -13 for a 50 fF capacitor, 6 for a 1 MOhm resistor and -3 for a 1 mS transconductance. A
plain per-column scaling leaves the spread within one kind (what distinguishes two circuits of one
topology) a small fraction of the spread between kinds; standardising each numeric column per
device kind, over the devices where its mask is set, puts that spread at unit scale. One-hot and
mask columns pass unchanged. For a feature layout that is neither view (another ``in_dim``), every
column is standardised over all nodes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ckt.graph.features import BIPARTITE_NODE_COLUMNS, PIN_NODE_COLUMNS


def _layout(in_dim: int) -> tuple[list[int], list[int], list[int]]:
    """Kind one-hot columns, numeric columns and their mask columns for a feature width."""
    for columns in (BIPARTITE_NODE_COLUMNS, PIN_NODE_COLUMNS):
        if len(columns) == in_dim:
            kinds = [i for i, c in enumerate(columns) if c.startswith("kind:")]
            values = [i for i, c in enumerate(columns) if c.endswith(":log10")]
            masks = [columns.index(columns[i].replace(":log10", ":mask")) for i in values]
            return kinds, values, masks
    return [], list(range(in_dim)), []


class FeatureNormaliser(nn.Module):
    """``(x - mean[kind]) / std[kind]`` on the numeric columns (masked), statistics from ``fit``.

    Until ``fit`` runs it is the identity (means 0, deviations 1).
    """

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        kinds, values, masks = _layout(in_dim)
        self.kind_columns: Tensor
        self.value_columns: Tensor
        self.mask_columns: Tensor
        self.mean: Tensor
        self.std: Tensor
        self.register_buffer("kind_columns", torch.tensor(kinds, dtype=torch.long), persistent=False)
        self.register_buffer("value_columns", torch.tensor(values, dtype=torch.long), persistent=False)
        self.register_buffer("mask_columns", torch.tensor(masks, dtype=torch.long), persistent=False)
        self.register_buffer("mean", torch.zeros(len(kinds) + 1, len(values)))
        self.register_buffer("std", torch.ones(len(kinds) + 1, len(values)))

    def groups(self, x: Tensor) -> Tensor:
        """Each node's statistics row: 1 + its device kind, 0 for nets, pins and other nodes."""
        if not self.kind_columns.numel():
            return torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        onehot = x[:, self.kind_columns]
        return torch.where(onehot.sum(1) > 0, onehot.argmax(1) + 1, torch.zeros_like(onehot[:, 0], dtype=torch.long))

    def _masks(self, x: Tensor) -> Tensor:
        if not self.mask_columns.numel():
            return torch.ones(x.size(0), self.value_columns.numel(), dtype=x.dtype, device=x.device)
        return x[:, self.mask_columns]

    @torch.no_grad()
    def fit(self, x: Tensor) -> None:
        """Take the statistics from ``x [nodes, in_dim]`` (the training graphs' nodes)."""
        x = x.to(self.mean.device)
        group = self.groups(x)
        values, masks = x[:, self.value_columns].double(), self._masks(x).double()
        rows = self.mean.size(0)
        count = torch.zeros(rows, values.size(1), dtype=torch.double, device=x.device).index_add_(0, group, masks)
        total = torch.zeros_like(count).index_add_(0, group, values * masks)
        mean = total / count.clamp(min=1)
        square = torch.zeros_like(count).index_add_(0, group, (values - mean[group]) ** 2 * masks)
        std = (square / count.clamp(min=1)).sqrt()
        self.mean.copy_(mean.float())
        self.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)).float())

    def forward(self, x: Tensor) -> Tensor:
        group = self.groups(x)
        scaled = (x[:, self.value_columns] - self.mean[group]) / self.std[group] * self._masks(x)
        return x.index_copy(1, self.value_columns, scaled)
