"""The link-prediction task data: which pin→net connections are asked about, on which graphs.

Everything works on pin-level graphs (``ckt.graph.to_pyg.to_pins_pyg``: device, pin and net nodes;
edge types 0 device→pin, 1 pin→net, 2 pin→device, 3 net→pin).

Hard protocol (ours): per circuit, a *query* takes one real pin and removes its pin–net edge in both
directions (``remove_pin_edge``); the model sees only that graph. The true net is the positive; the
hard negatives are the other nets of the *same* circuit (every one a candidate, type-compatible ones
included). Balanced accuracy and AUC pair each positive with one seeded random negative; completion
ranks every net of the circuit. Positive and negatives of one query share the one graph, so nothing
tells them apart but the circuit around them. Node features are the netlist's own (device kinds and
values, pin roles, net-name flags) and carry no degree, so the removed edge leaves no trace in them.
A net whose only pin was the removed one is left in the graph without edges, as SEAL-style link
prediction keeps its nodes (``isolated_positives`` counts how often that happens).

GNN-ACLP protocol (theirs, for comparison): every circuit in one disjoint graph, a random split of
all pin–net edges (not by circuit), the observed graph holding the training edges only, and negatives
drawn uniformly over (pin, net) pairs of the merged graph, so most join two different circuits.

A ``Pair`` names the pin in the graph it is observed in and the net in its own graph: the same graph
within a circuit, two graphs (components of the merged graph) for a cross-circuit pair, so the merged
graph never has to be built.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import Tensor
from torch_geometric.data import Data

from ckt.errors import DatasetError

T = TypeVar("T")


def distinct(objects: Iterable[T]) -> tuple[list[T], dict[int, int]]:
    """Each object once, in first-seen order, and its position by ``id``: the pairs of a batch share
    their circuits' graphs, which a model then encodes once."""
    slot: dict[int, int] = {}
    unique: list[T] = []
    for o in objects:
        if id(o) not in slot:
            slot[id(o)] = len(unique)
            unique.append(o)
    return unique, slot

PIN_NET = 1
"""``edge_type`` of pin → net edges; ``NET_PIN`` their reverse."""
NET_PIN = 3


@dataclass(frozen=True, eq=False)
class Pair:
    """One (pin, net) candidate link and its label.

    Attributes:
        pin_graph: the observed graph holding ``pin`` (the link itself is never in it).
        pin: node index of the pin in ``pin_graph``.
        net_graph: the observed graph holding ``net`` (``pin_graph`` itself within a circuit).
        net: node index of the net in ``net_graph``.
        label: 1.0 for a real connection, 0.0 for a negative.
    """

    pin_graph: Data
    pin: int
    net_graph: Data
    net: int
    label: float

    @property
    def same_graph(self) -> bool:
        return self.pin_graph is self.net_graph


@dataclass(frozen=True, eq=False)
class Query:
    """A pin whose connection was removed, with every net of its circuit to rank.

    Attributes:
        graph: the circuit without the pin's pin–net edges.
        pin: the pin's node index.
        nets: every net node of the circuit, ascending.
        true_net: the net the pin was on.
        circuit: index of the circuit in the list the query came from.
    """

    graph: Data
    pin: int
    nets: tuple[int, ...]
    true_net: int
    circuit: int


def pin_nets(graph: Data) -> dict[int, int]:
    """``{pin node: net node}`` of every pin–net edge of ``graph``."""
    mask = graph.edge_type == PIN_NET
    src, dst = graph.edge_index[:, mask].tolist()
    return dict(zip(src, dst))


def net_nodes(graph: Data) -> list[int]:
    """Net node indices of ``graph`` (``node_type == 2``), ascending."""
    return torch.nonzero(graph.node_type == 2).flatten().tolist()


def remove_pin_edge(graph: Data, pin: int) -> Data:
    """A copy of ``graph`` without ``pin``'s pin–net edges (both directions).

    The copy is shallow: node tensors (``x``, ``node_type``...) are shared with ``graph``, only
    ``edge_index`` and ``edge_type`` are new, so many queries on one circuit cost little memory.
    """
    ei, et = graph.edge_index, graph.edge_type
    drop = ((et == PIN_NET) & (ei[0] == pin)) | ((et == NET_PIN) & (ei[1] == pin))
    out = copy.copy(graph)
    out.edge_index = ei[:, ~drop]
    out.edge_type = et[~drop]
    return out


def remove_edges(graph: Data, pins: Sequence[int]) -> Data:
    """``remove_pin_edge`` for several pins at once."""
    if not pins:
        return graph
    chosen = torch.zeros(graph.num_nodes, dtype=torch.bool)
    chosen[torch.as_tensor(list(pins), dtype=torch.long)] = True
    ei, et = graph.edge_index, graph.edge_type
    drop = ((et == PIN_NET) & chosen[ei[0]]) | ((et == NET_PIN) & chosen[ei[1]])
    out = copy.copy(graph)
    out.edge_index = ei[:, ~drop]
    out.edge_type = et[~drop]
    return out


def _choose(rng: random.Random, items: Sequence[int], k: int | None) -> list[int]:
    items = list(items)
    if k is None or k >= len(items):
        return items
    return sorted(rng.sample(items, k))


def hard_queries(graphs: Sequence[Data], pins_per_circuit: int | None, seed: int) -> list[Query]:
    """One query per chosen pin of each circuit (``pins_per_circuit`` seeded picks; None: every pin).

    Circuits with fewer than two nets have no negative and ask nothing.
    """
    out: list[Query] = []
    for c, graph in enumerate(graphs):
        nets = net_nodes(graph)
        if len(nets) < 2:
            continue
        links = pin_nets(graph)
        rng = random.Random(f"{seed}/pins/{c}")
        for pin in _choose(rng, sorted(links), pins_per_circuit):
            out.append(Query(remove_pin_edge(graph, pin), pin, tuple(nets), links[pin], c))
    return out


def balanced_pairs(queries: Sequence[Query], seed: int, negatives: int | None = 1) -> list[Pair]:
    """Each query's positive, then ``negatives`` hard negatives (other nets of its circuit, seeded;
    None: every other net)."""
    out: list[Pair] = []
    for i, q in enumerate(queries):
        rng = random.Random(f"{seed}/neg/{q.circuit}/{q.pin}/{i}")
        others = [n for n in q.nets if n != q.true_net]
        out.append(Pair(q.graph, q.pin, q.graph, q.true_net, 1.0))
        chosen = others if negatives is None else rng.sample(others, min(negatives, len(others)))
        for net in chosen:
            out.append(Pair(q.graph, q.pin, q.graph, net, 0.0))
    return out


def positive_groups(pairs: Sequence[Pair]) -> list[range]:
    """The runs of ``pairs`` that start at each positive (a query's positive and its negatives, as
    ``balanced_pairs`` and ``aclp_split`` order them)."""
    starts = [i for i, p in enumerate(pairs) if p.label > 0.5]
    if pairs and (not starts or starts[0] != 0):
        starts.insert(0, 0)
    return [range(a, b) for a, b in zip(starts, [*starts[1:], len(pairs)])]


def completion_pairs(query: Query) -> list[Pair]:
    """The query's pin against every net of its circuit (labels: 1 for the true net)."""
    return [Pair(query.graph, query.pin, query.graph, n, float(n == query.true_net)) for n in query.nets]


def isolated_positives(queries: Sequence[Query]) -> int:
    """Queries whose true net has no edge left once the pin's edge is removed (a one-pin net)."""
    count = 0
    for q in queries:
        if not bool((q.graph.edge_index[1] == q.true_net).any()):
            count += 1
    return count


@dataclass(frozen=True)
class AclpSplit:
    """The GNN-ACLP protocol's pairs: ``train``, ``val`` and ``test`` positives and uniform negatives."""

    train: tuple[Pair, ...]
    val: tuple[Pair, ...]
    test: tuple[Pair, ...]


def aclp_split(graphs: Sequence[Data], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
               max_train: int | None = None, max_eval: int | None = None) -> AclpSplit:
    """GNN-ACLP's protocol over ``graphs`` merged into one disjoint graph (module docstring).

    Every pin–net edge is dealt at random (not by circuit) to train, val or test; the observed graph of
    each circuit keeps its training edges only. A training positive is observed without its own edge
    (as SEAL trains); negatives are uniform (pin, net) pairs of the merged graph that are not links,
    one per positive. ``max_train`` / ``max_eval`` cap the positives per side (seeded), so a run on a
    CPU stays short.

    Raises:
        DatasetError: fewer edges than sides, or fractions that do not make three sides.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) <= 0:
        raise DatasetError(f"the ACLP split needs three positive fractions summing to 1, got {tuple(fractions)}")
    edges = [(c, p, n) for c, g in enumerate(graphs) for p, n in sorted(pin_nets(g).items())]
    if len(edges) < 3:
        raise DatasetError(f"{len(edges)} pin-net edge(s) cannot fill train, val and test")
    rng = random.Random(f"{seed}/aclp")
    rng.shuffle(edges)
    a = round(fractions[0] * len(edges))
    b = a + round(fractions[1] * len(edges))
    sides = {"train": edges[:a], "val": edges[a:b], "test": edges[b:]}
    held: list[list[int]] = [[] for _ in graphs]
    for c, p, _ in sides["val"] + sides["test"]:
        held[c].append(p)
    observed = [remove_edges(g, pins) for g, pins in zip(graphs, held)]
    links = {(c, p, n) for c, p, n in edges}
    all_pins = [(c, p) for c, g in enumerate(graphs) for p in torch.nonzero(g.node_type == 1).flatten().tolist()]
    all_nets = [(c, n) for c, g in enumerate(graphs) for n in net_nodes(g)]
    out: dict[str, list[Pair]] = {}
    for name, side in sides.items():
        cap = max_train if name == "train" else max_eval
        chosen = sorted(rng.sample(side, cap)) if cap is not None and cap < len(side) else sorted(side)
        pairs: list[Pair] = []
        for c, p, n in chosen:
            g = remove_pin_edge(observed[c], p) if name == "train" else observed[c]
            pairs.append(Pair(g, p, g, n, 1.0))
            while True:
                (cp, pp), (cn, nn) = rng.choice(all_pins), rng.choice(all_nets)
                if not (cp == cn and (cp, pp, nn) in links):
                    break
            pairs.append(Pair(observed[cp], pp, observed[cn], nn, 0.0))
        out[name] = pairs
    return AclpSplit(tuple(out["train"]), tuple(out["val"]), tuple(out["test"]))


def check_pin_graph(graph: Data, where: str = "graph") -> None:
    """Refuse a graph that is not a pin-level view (no ``node_type``/``edge_type`` of that layout).

    Raises:
        DatasetError: naming what is missing.
    """
    for key in ("x", "node_type", "edge_index", "edge_type"):
        if getattr(graph, key, None) is None:
            raise DatasetError(f"{where}: not a pin-level graph (no {key}; make it with to_pins_pyg)")
    types: Tensor = graph.node_type
    if types.numel() and int(types.max()) > 2:
        raise DatasetError(f"{where}: not a pin-level graph (node types beyond device/pin/net)")
