"""The two-level view of a circuit: an outer graph of typed subgraphs (building blocks), each with
its own inner device graph.

A decomposition (``ckt.graph.ocb_basis`` for OCB behavioural op-amps, ``ckt.graph.blocks`` for
device-level netlists) names, for every block, its type, the devices that make it and the nets it
touches; ``TwoLevelGraph`` holds that as plain data, so it prints as JSON (``ckt graph --kind
subgraphs``) and turns into tensors for the two-level encoder (``to_two_level_pyg``).

Tensor layout of ``TwoLevelData`` (on top of the bipartite view of ``ckt.graph.to_pyg``, whose
``x``, ``edge_index``, ``edge_type``, ``edge_attr`` and ``node_type`` it keeps, so flat encoders read
the same object):

- ``block_type [B]`` index into ``block_types`` (the vocabulary of the decomposition's basis);
- ``block_edge_index [2, E_o]`` directed outer edges ``i -> j`` between blocks (a DAG for OCB);
- ``inner_node [M]`` the bipartite node (device or net) of each inner node: every block's devices,
  then the nets they touch — a net shared by two blocks appears once in each;
- ``inner_block [M]`` the block each inner node belongs to;
- ``inner_edge_index [2, E_i]`` edges between inner nodes of one block (both directions), and
  ``inner_edge_type [E_i]`` their bipartite edge types.

Batched by PyG's ``DataLoader`` with ``follow_batch=["block_type"]``, which adds
``block_type_batch`` (the graph of each block); indices are shifted per graph by ``__inc__``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch_geometric.data import Data

from ckt.errors import NetlistError
from ckt.graph.to_pyg import to_bipartite_pyg
from ckt.netlist.ir import Netlist


@dataclass(frozen=True, slots=True)
class Block:
    """One typed subgraph: what it is, which devices make it, which nets it touches."""

    type: str
    devices: tuple[str, ...]
    nets: tuple[str, ...]
    values: tuple[tuple[str, float], ...] = ()
    """Named numbers the basis gives the block (OCB: ``("gm", 9.8e-3)``, ``("r", 1e5)``)."""


@dataclass(frozen=True, slots=True)
class TwoLevelGraph:
    """A circuit as typed blocks and directed edges between them.

    Attributes:
        basis: which decomposition made it (``"ocb"`` or ``"blocks"``).
        blocks: the blocks, in the decomposition's order (OCB: topological).
        edges: ``(i, j)`` pairs of block indices, ``i -> j``.
        uncovered: devices no block took (always empty for OCB; see ``coverage``).
    """

    basis: str
    blocks: tuple[Block, ...]
    edges: tuple[tuple[int, int], ...]
    uncovered: tuple[str, ...] = field(default=())

    def coverage(self) -> float:
        """The fraction of devices that sit in a real block (1.0 when there are no devices); the
        singleton ``device:<kind>`` blocks a basis gives uncovered devices do not count."""
        covered = sum(len(b.devices) for b in self.blocks if not b.type.startswith("device:"))
        total = covered + len(self.uncovered)
        return covered / total if total else 1.0

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json`` output."""
        return {
            "basis": self.basis,
            "blocks": [
                {"index": i, "type": b.type, "devices": list(b.devices), "nets": list(b.nets),
                 "values": dict(b.values)}
                for i, b in enumerate(self.blocks)
            ],
            "edges": [list(e) for e in self.edges],
            "uncovered": list(self.uncovered),
            "coverage": self.coverage(),
        }


class TwoLevelData(Data):
    """``Data`` whose block and inner indices shift correctly when PyG batches graphs."""

    def __inc__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if key == "inner_node":
            return self.num_nodes
        if key in ("inner_block", "block_edge_index"):
            return self.block_type.size(0)
        if key == "inner_edge_index":
            return self.inner_node.size(0)
        return super().__inc__(key, value, *args, **kwargs)

    def __cat_dim__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if key in ("block_edge_index", "inner_edge_index"):
            return 1
        return super().__cat_dim__(key, value, *args, **kwargs)


def to_two_level_pyg(netlist: Netlist, graph: TwoLevelGraph, block_types: Sequence[str]) -> TwoLevelData:
    """The bipartite tensors of ``netlist`` plus the two-level index tensors of ``graph``.

    Args:
        netlist: the flat netlist ``graph`` decomposes.
        graph: its decomposition.
        block_types: the basis vocabulary; ``block_type`` indexes it.

    Raises:
        NetlistError: a block names a device or net the netlist lacks, or a type outside ``block_types``.
    """
    flat = to_bipartite_pyg(netlist)
    n_dev = len(flat.device_names)
    node_of = {name: i for i, name in enumerate(flat.device_names)}
    net_of = {name: n_dev + i for i, name in enumerate(flat.net_names)}
    type_index = {t: i for i, t in enumerate(block_types)}
    adjacency: dict[int, list[tuple[int, int]]] = {}
    half = flat.edge_index.size(1) // 2
    for (dev, net), etype in zip(flat.edge_index[:, :half].t().tolist(), flat.edge_type[:half].tolist()):
        adjacency.setdefault(dev, []).append((net, etype))

    inner_node: list[int] = []
    inner_block: list[int] = []
    src: list[int] = []
    dst: list[int] = []
    etypes: list[int] = []
    for b, block in enumerate(graph.blocks):
        if block.type not in type_index:
            raise NetlistError(f"block {b}: type {block.type!r} is not in the basis vocabulary")
        local: dict[int, int] = {}
        for name in block.devices:
            if name not in node_of:
                raise NetlistError(f"block {b} ({block.type}): no device {name!r} in the netlist")
            local[node_of[name]] = len(inner_node)
            inner_node.append(node_of[name])
            inner_block.append(b)
        for net in block.nets:
            if net not in net_of:
                raise NetlistError(f"block {b} ({block.type}): no net {net!r} in the netlist")
            if net_of[net] not in local:
                local[net_of[net]] = len(inner_node)
                inner_node.append(net_of[net])
                inner_block.append(b)
        for name in block.devices:
            dev = node_of[name]
            for net, etype in adjacency.get(dev, ()):
                if net in local:
                    src += [local[dev], local[net]]
                    dst += [local[net], local[dev]]
                    etypes += [etype, etype]
    for i, j in graph.edges:
        if not (0 <= i < len(graph.blocks) and 0 <= j < len(graph.blocks)):
            raise NetlistError(f"outer edge {i} -> {j} names a block that does not exist")

    return TwoLevelData(
        x=flat.x,
        node_type=flat.node_type,
        edge_index=flat.edge_index,
        edge_type=flat.edge_type,
        edge_attr=flat.edge_attr,
        num_nodes=flat.num_nodes,
        block_type=torch.tensor([type_index[b.type] for b in graph.blocks], dtype=torch.long),
        block_edge_index=torch.tensor(graph.edges, dtype=torch.long).reshape(-1, 2).t().contiguous(),
        inner_node=torch.tensor(inner_node, dtype=torch.long),
        inner_block=torch.tensor(inner_block, dtype=torch.long),
        inner_edge_index=torch.tensor([src, dst], dtype=torch.long).reshape(2, -1),
        inner_edge_type=torch.tensor(etypes, dtype=torch.long),
    )
