"""The circuits link prediction trains and tests on: a registered dataset's pin-level view, split by
circuit group (``CircuitDataset.split("group")``: variants of one source circuit or topology never
sit on two sides)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch_geometric.data import Data

from ckt.data import registry

FRACTIONS = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class PinCircuits:
    """A dataset's circuits as pin-level graphs, and its circuit-level split.

    Attributes:
        name: the dataset's registered name.
        graphs: every circuit's graph, in dataset order.
        split: ``{"train", "val", "test"}`` -> indices into ``graphs``.
        circuits: the circuit ids.
    """

    name: str
    graphs: tuple[Data, ...]
    split: dict[str, tuple[int, ...]]
    circuits: tuple[str, ...]

    def side(self, name: str) -> list[Data]:
        return [self.graphs[i] for i in self.split[name]]


def open_circuits(name: str, seed: int = 0, root: str | Path | None = None, source: str | Path | None = None,
                  n: int | None = None, options: dict[str, Any] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> PinCircuits:
    """Dataset ``name`` in the pin view (prepared on first use, cached after), split by group with
    ``seed`` (80/10/10).

    Raises:
        DatasetError: an unknown dataset, an unreadable source, too few groups to split.
    """
    cls = registry.get(name)
    kwargs: dict[str, Any] = {"view": "pins", "n": n, "progress": progress, **(options or {})}
    if source is not None:
        kwargs["source"] = source
    ds = cls(root, **kwargs)
    split = ds.split("group", FRACTIONS, seed)
    graphs = tuple(ds[i] for i in range(len(ds)))
    return PinCircuits(ds.name, graphs, {k: tuple(v.tolist()) for k, v in split.items()},
                       tuple(str(g.circuit) for g in graphs))
