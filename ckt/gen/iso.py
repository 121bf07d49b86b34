"""Circuit identity up to renaming: a canonical hash, an exact isomorphism test, uniqueness and novelty.

Two circuits are the same topology when a renaming of devices and internal nets maps one onto the
other, keeping what a designer reads: each device's kind and model, each port's name, and which pins
each device puts on each net. R, C and L have no polarity, so swapping their two pins gives the same
circuit; every other device's pins are told apart (a MOSFET's drain is not its gate).

``canonical_hash`` is a Weisfeiler–Lehman hash of that labelled device–net graph: equal for
isomorphic circuits, and almost always different otherwise — but WL cannot tell some regular graphs
apart, so a shared hash only makes two circuits *candidates* (AnalogGenie itself holds such a pair:
two quadrature oscillators, IDs 542 and 543, that differ only in the sign of one coupling).
``isomorphic`` settles it exactly (networkx VF2 with node and edge labels), and ``unique_and_novel``
buckets by hash then confirms with ``isomorphic``: a collision never merges two different circuits.
Which nets are ports is ``ckt.gen.rules.port_nets`` (ground reads as the port ``GND``), the same
definition the rules use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import networkx as nx

from ckt.gen.rules import port_name, port_nets
from ckt.netlist.ir import DeviceKind, Netlist

UNORDERED = frozenset({DeviceKind.RESISTOR, DeviceKind.CAPACITOR, DeviceKind.INDUCTOR})
"""Two-terminal kinds whose pins are interchangeable."""


class Topology(Protocol):
    """Anything with a netlist and its ports (``ckt.data.base.Circuit``, a decoded sample)."""

    @property
    def netlist(self) -> Netlist: ...

    @property
    def ports(self) -> Sequence[str]: ...


def _digest(text: str, size: int = 8) -> str:
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


def labelled_graph(netlist: Netlist, ports: Iterable[str]) -> nx.Graph:
    """The top-level device–net graph with the labels identity depends on.

    Node attribute ``label``: ``KIND:model`` for a device, ``port:NAME`` for a port net, ``net`` for
    an internal one. Edge attribute ``label``: the pins the device puts on that net, ``+``-joined in
    the device's pin order, with R/C/L pins all written ``~`` (so ``p`` and ``n`` match).
    """
    external = port_nets(netlist, ports)
    g = nx.Graph()
    for net in netlist.nets:
        g.add_node(("n", net), label=f"port:{port_name(net)}" if net in external else "net")
    for i, d in enumerate(netlist.devices):
        g.add_node(("d", i), label=f"{d.kind.name}:{d.model or ''}")
        grouped: dict[str, list[str]] = {}
        for pin, net in d.terminals:
            grouped.setdefault(net, []).append("~" if d.kind in UNORDERED else pin)
        for net, pins in grouped.items():
            g.add_edge(("d", i), ("n", net), label="+".join(sorted(pins) if d.kind in UNORDERED else pins))
    return g


def _colour(g: nx.Graph) -> str:
    """Colour ``g``'s nodes by WL refinement (node attribute ``colour``) and return the graph's hash.

    Rounds of (own colour, sorted (edge label, neighbour colour)) until the colour classes stop
    splitting; every round's sorted colours are folded into the hash (blake2b, so it is the same in
    every process and networkx version). The stable colours are isomorphism-invariant: an
    isomorphism maps each node to one of its colour, which is what keeps VF2 fast here.
    """
    labels = {v: _digest(g.nodes[v]["label"]) for v in g}
    rounds = [" ".join(sorted(labels.values()))]
    classes = len(set(labels.values()))
    for _ in range(len(g)):
        labels = {
            v: _digest(labels[v] + "|" + ",".join(sorted(f"{g.edges[v, u]['label']}:{labels[u]}" for u in g[v])))
            for v in g
        }
        rounds.append(" ".join(sorted(labels.values())))
        now = len(set(labels.values()))
        if now == classes:
            break
        classes = now
    nx.set_node_attributes(g, labels, "colour")
    return _digest("\n".join(rounds), size=16)


@dataclass(frozen=True, slots=True)
class Keyed:
    """A circuit's coloured ``labelled_graph`` and its hash, computed once and compared many times."""

    graph: nx.Graph
    digest: str

    @classmethod
    def of(cls, netlist: Netlist, ports: Iterable[str]) -> Keyed:
        g = labelled_graph(netlist, ports)
        return cls(g, _colour(g))

    def isomorphic(self, other: Keyed) -> bool:
        """Exact test (VF2 with stable colours for nodes, pin labels for edges)."""
        a, b = self.graph, other.graph
        if self.digest != other.digest or len(a) != len(b) or a.number_of_edges() != b.number_of_edges():
            return False
        return nx.is_isomorphic(a, b, node_match=_same("colour"), edge_match=_same("label"))


def _same(key: str) -> Callable[[dict, dict], bool]:
    return lambda x, y: x[key] == y[key]


def canonical_hash(netlist: Netlist, ports: Iterable[str]) -> str:
    """A name-blind hash of the circuit (see the module docstring): equal for isomorphic circuits."""
    return Keyed.of(netlist, ports).digest


def isomorphic(a: Netlist, a_ports: Iterable[str], b: Netlist, b_ports: Iterable[str]) -> bool:
    """Whether circuits ``a`` and ``b`` are one topology: a renaming of devices and internal nets
    maps one onto the other, keeping kinds, models, port names and pins (R/C/L pins unordered)."""
    return Keyed.of(a, a_ports).isomorphic(Keyed.of(b, b_ports))


@dataclass(frozen=True, slots=True)
class IsoIndex:
    """Circuits bucketed by ``canonical_hash``, to ask "is this one of them?" exactly and fast."""

    buckets: Mapping[str, tuple[Keyed, ...]]

    @classmethod
    def of(cls, circuits: Iterable[Topology]) -> IsoIndex:
        buckets: dict[str, list[Keyed]] = {}
        for c in circuits:
            k = Keyed.of(c.netlist, c.ports)
            bucket = buckets.setdefault(k.digest, [])
            if not any(k.isomorphic(h) for h in bucket):
                bucket.append(k)
        return cls({h: tuple(ks) for h, ks in buckets.items()})

    def __len__(self) -> int:
        """How many distinct topologies it holds."""
        return sum(map(len, self.buckets.values()))

    def contains(self, k: Keyed) -> bool:
        """Whether a circuit isomorphic to ``k`` is in the index."""
        return any(k.isomorphic(h) for h in self.buckets.get(k.digest, ()))


@dataclass(frozen=True, slots=True)
class UniqueNovel:
    """Per sample: ``first`` the index of the first sample isomorphic to it (itself when it is the
    first of its topology), ``novel`` whether no training circuit is isomorphic to it."""

    first: tuple[int, ...]
    novel: tuple[bool, ...]

    @property
    def unique(self) -> tuple[bool, ...]:
        """Per sample: it is the first of its topology among the samples."""
        return tuple(f == i for i, f in enumerate(self.first))

    @property
    def n_unique(self) -> int:
        """How many distinct topologies the samples hold."""
        return sum(self.unique)

    @property
    def n_novel(self) -> int:
        return sum(self.novel)

    @property
    def n_unique_novel(self) -> int:
        """Distinct topologies that are also new."""
        return sum(u and n for u, n in zip(self.unique, self.novel))


def unique_and_novel(samples: Sequence[Topology], training: Iterable[Topology] | IsoIndex) -> UniqueNovel:
    """Which samples repeat an earlier sample, and which are isomorphic to a training circuit.

    Args:
        samples: the generated circuits (anything with ``netlist`` and ``ports``).
        training: the training circuits, or an ``IsoIndex`` of them built once and reused.
    """
    index = training if isinstance(training, IsoIndex) else IsoIndex.of(training)
    seen: dict[str, list[tuple[int, Keyed]]] = {}
    first: list[int] = []
    novel: list[bool] = []
    for i, s in enumerate(samples):
        k = Keyed.of(s.netlist, s.ports)
        bucket = seen.setdefault(k.digest, [])
        match = next((j for j, h in bucket if k.isomorphic(h)), None)
        if match is None:
            bucket.append((i, k))
        first.append(i if match is None else match)
        novel.append(not index.contains(k) if match is None else novel[match])
    return UniqueNovel(tuple(first), tuple(novel))
