"""Train/validation/test splits of one labelled graph: by region (leak-free) and by random link.

**Region split** (``region_split``). The rail-free message-passing graph is cut into regions of about
``region_size`` nodes by seeded breadth-first growing (a cheap METIS stand-in: start at a random
unassigned node, take nodes in BFS order until the region is full or its component is exhausted,
repeat). Whole regions go to train, validation and test (shuffled, filled to ``fractions`` of the
nodes). A net label belongs to its region's side; a coupling link to a side only when *both*
endpoints are in it (links across sides are dropped and counted). Each side is *inductive*: the
model sees only the edges inside that side's regions, so no test node, test label or test
neighbourhood is ever part of the graph it trains on (``Split.side_edges``).

**Random-link split** (``random_split``). Net labels and links are shuffled into the sides
independently, and every side sees the whole graph — the transductive protocol most link-prediction
papers use, where a test link's endpoints and neighbours are all seen in training. It is reported
beside the region split to show how much of a score is leakage.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ckt.errors import DatasetError
from ckt.parasitic.features import GraphInputs
from ckt.parasitic.tasks import Labels

SPLITS = ("region", "random")
SIDES = ("train", "val", "test")


@dataclass(frozen=True, slots=True)
class Split:
    """Which labels (and, when inductive, which nodes) each side has.

    Attributes:
        kind: ``"region"`` or ``"random"``.
        nets: side name -> indices into ``Labels.nets``.
        links: side name -> indices into ``Labels.links``.
        node_side: ``[N]`` side index (0 train, 1 val, 2 test) of each node; None when transductive.
        dropped_links: links whose endpoints fell on different sides.
    """

    kind: str
    nets: dict[str, Tensor]
    links: dict[str, Tensor]
    node_side: Tensor | None
    dropped_links: int = 0

    def side_edges(self, inputs: GraphInputs, side: str) -> tuple[Tensor, Tensor]:
        """The message-passing edges a model may use on ``side``: all of them when transductive,
        else those with both ends in that side's regions."""
        if self.node_side is None:
            return inputs.edge_index, inputs.edge_type
        k = SIDES.index(side)
        keep = (self.node_side[inputs.edge_index] == k).all(0)
        return inputs.edge_index[:, keep], inputs.edge_type[keep]


def regions(edge_index: Tensor, num_nodes: int, size: int, seed: int) -> Tensor:
    """``[num_nodes]`` region id of each node: BFS-grown regions of at most ``size`` nodes."""
    if size < 1:
        raise DatasetError(f"region size must be positive, got {size}")
    adjacency: list[list[int]] = [[] for _ in range(num_nodes)]
    for a, b in edge_index.t().tolist():
        adjacency[a].append(b)
    order = torch.randperm(num_nodes, generator=torch.Generator().manual_seed(seed)).tolist()
    region = [-1] * num_nodes
    count = 0
    for start in order:
        if region[start] >= 0:
            continue
        queue, taken = deque([start]), 0
        region[start] = count
        while queue and taken < size:
            v = queue.popleft()
            taken += 1
            for u in adjacency[v]:
                if region[u] < 0 and taken + len(queue) < size:
                    region[u] = count
                    queue.append(u)
        for v in queue:  # claimed but over the size: give them back
            region[v] = -1
        count += 1
    return torch.tensor(region, dtype=torch.long)


def _check(fractions: Sequence[float]) -> None:
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise DatasetError(f"fractions must be three positive numbers summing to 1, got {tuple(fractions)}")


def region_split(inputs: GraphInputs, labels: Labels, *, fractions: Sequence[float] = (0.7, 0.15, 0.15),
                 region_size: int = 400, seed: int = 0) -> Split:
    """The leak-free split by graph region (see the module docstring).

    Raises:
        DatasetError: bad fractions, or a side left without net or link labels.
    """
    _check(fractions)
    region = regions(inputs.edge_index, inputs.num_nodes, region_size, seed)
    n_regions = int(region.max()) + 1
    sizes = torch.bincount(region, minlength=n_regions)
    order = torch.randperm(n_regions, generator=torch.Generator().manual_seed(seed + 1))
    side_of_region = torch.empty(n_regions, dtype=torch.long)
    bounds = torch.tensor([fractions[0], fractions[0] + fractions[1]]) * inputs.num_nodes
    filled = torch.cumsum(sizes[order], 0) - sizes[order]  # nodes placed before each region
    side_of_region[order] = torch.bucketize(filled.float(), bounds, right=True)
    node_side = side_of_region[region]
    net_side = node_side[labels.nets]
    ends = node_side[labels.links]
    same = ends[0] == ends[1]
    split = Split(
        kind="region",
        nets={s: torch.nonzero(net_side == k).flatten() for k, s in enumerate(SIDES)},
        links={s: torch.nonzero(same & (ends[0] == k)).flatten() for k, s in enumerate(SIDES)},
        node_side=node_side, dropped_links=int((~same).sum()),
    )
    _nonempty(split)
    return split


def random_split(labels: Labels, *, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0) -> Split:
    """Net labels and links shuffled into the sides; every side sees the whole graph."""
    _check(fractions)
    g = torch.Generator().manual_seed(seed)

    def cut(n: int) -> dict[str, Tensor]:
        perm = torch.randperm(n, generator=g)
        a, b = int(fractions[0] * n), int((fractions[0] + fractions[1]) * n)
        return {"train": perm[:a].sort().values, "val": perm[a:b].sort().values, "test": perm[b:].sort().values}

    split = Split(kind="random", nets=cut(labels.nets.numel()), links=cut(labels.links.shape[1]), node_side=None)
    _nonempty(split)
    return split


def make_split(kind: str, inputs: GraphInputs, labels: Labels, *, seed: int = 0, region_size: int = 400) -> Split:
    """``region_split`` or ``random_split`` by name.

    Raises:
        DatasetError: an unknown kind.
    """
    if kind == "region":
        return region_split(inputs, labels, seed=seed, region_size=region_size)
    if kind == "random":
        return random_split(labels, seed=seed)
    raise DatasetError(f"unknown split {kind!r}; use one of {', '.join(SPLITS)}")


def _nonempty(split: Split) -> None:
    for side in SIDES:
        if split.nets[side].numel() == 0 or split.links[side].numel() == 0:
            raise DatasetError(f"{split.kind} split: the {side} side has no net or no link labels "
                               f"(graph too small for these fractions)")
