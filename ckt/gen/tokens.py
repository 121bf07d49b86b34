"""Circuits as token sequences and back: a walk over the device–net graph that covers every edge.

``encode`` writes ``<bos> <type:T> W <eos>``: W starts at a net and alternates node and edge tokens,
each (node, edge, node) step asserting that the device puts the edge's pins on the net. To cover
every edge with few repeats, the walk duplicates edges along short paths between odd-degree nodes
until at most the start and one end are odd, then follows an Euler trail (Hierholzer). With a
``random.Random`` the start net, the pairing and edge orders and the device and internal-net
numbering are drawn at random (the training augmentation); without one the walk is canonical.

``decode`` checks the walk's structure (alternation, kinds, consistent pin sets on revisits, no pin on
two nets, every pin placed) and rebuilds the IR: device ``NM3`` becomes MOSFET ``MNM3`` of model
``nmos4``, net ``N4`` becomes ``n4``, ``GND`` becomes ``"0"`` (ground: a net, never listed in ports,
as in the data), other port tokens keep their names. Values and sizes are not part of the tokens.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from ckt.errors import TokenizeError
from ckt.gen.rules import port_nets
from ckt.gen.vocab import GND, GROUND_NET, Family, Vocab
from ckt.netlist.inline import inline_includes
from ckt.netlist.ir import Device, Netlist


@dataclass(frozen=True, slots=True)
class GeneratedCircuit:
    """A decoded sequence: the circuit, its type and its ports (net names, ground excluded)."""

    netlist: Netlist
    ckt_type: str
    ports: tuple[str, ...]


def _family_of(vocab: Vocab) -> dict[tuple[str, str | None], Family]:
    return {(f.kind.name, f.model.casefold() if f.model else None): f for f in vocab.families}


def _device_family(device: Device, table: dict[tuple[str, str | None], Family]) -> Family:
    fam = table.get((device.kind.name, device.model.casefold() if device.model else None))
    if fam is None:
        known = ", ".join(f"{k} {m or '-'}" for k, m in table)
        raise TokenizeError(f"device {device.name} ({device.kind.name} {device.model or '-'}) is of no token "
                            f"family (known: {known})")
    if sorted(device.pins) != sorted(fam.pins):
        raise TokenizeError(f"device {device.name} has pins {', '.join(device.pins)}; family {fam.name} needs "
                            f"{', '.join(fam.pins)}")
    return fam


def encode(
    netlist: Netlist,
    ckt_type: str,
    ports: Iterable[str],
    vocab: Vocab,
    rng: random.Random | None = None,
    max_len: int | None = None,
    rename: bool = True,
) -> list[int]:
    """The token ids of one walk over ``netlist``'s top-level devices.

    Args:
        netlist: the circuit (flat: subcircuit instances are devices of their family).
        ckt_type: its class (one of ``vocab.types``).
        ports: its external nets; those no device touches cannot appear in a walk and are dropped.
            Net ``"0"`` is ground, ``GND``, whether listed or not; a net named as ports are
            (``VB1``, ``VDD``: ``ckt.gen.rules.port_nets``) is a port even when not listed.
        vocab: the vocabulary.
        rng: None for the canonical walk; a generator for a random walk (and, with ``rename``,
            random device and internal-net numbers).
        max_len: refuse sequences longer than this (``<bos>`` and ``<eos>`` included).
        rename: with ``rng``, number devices and internal nets at random instead of by first
            appearance (renaming augmentation).

    Raises:
        TokenizeError: a device of no family, a port or more nets or devices than the vocabulary
            has tokens for, a circuit in more than one piece, or a sequence over ``max_len``.
    """
    type_id = vocab.type_token(ckt_type)
    devices = inline_includes(netlist, libraries=False).devices
    if not devices:
        raise TokenizeError("the circuit has no devices to walk")
    table = _family_of(vocab)
    families = [_device_family(d, table) for d in devices]
    port_set = set(port_nets(netlist, ports))  # the rules' definition: listed, or named as ports are
    n_dev = len(devices)
    net_node: dict[str, int] = {}
    edges: list[tuple[int, int, int]] = []  # (device node, net node, edge token)
    for i, (d, fam) in enumerate(zip(devices, families)):
        grouped: dict[str, list[str]] = {}
        for pin, net in d.terminals:
            grouped.setdefault(net, []).append(pin)
        for net, pins in grouped.items():
            v = net_node.setdefault(net, n_dev + len(net_node))
            edges.append((i, v, vocab.edge_token(fam.name, tuple(pins))))
    nets = list(net_node)
    net_tokens: list[int | None] = []  # None: internal, numbered as the walk meets it
    for net in nets:
        if net == GROUND_NET:
            net_tokens.append(vocab.id(GND))
        elif net in port_set:
            if net not in vocab.ports:
                raise TokenizeError(f"port {net!r} has no token (ports: {', '.join(vocab.ports)})")
            net_tokens.append(vocab.id(net))
        else:
            net_tokens.append(None)
    n_internal = net_tokens.count(None)
    if n_internal > vocab.max_nets:
        raise TokenizeError(f"{n_internal} internal nets, more than the vocabulary's {vocab.max_nets}")
    for fam in vocab.families:
        count = sum(f is fam for f in families)
        if count > vocab.max_index:
            raise TokenizeError(f"{count} devices of family {fam.name}, more than the vocabulary's {vocab.max_index}")

    walk_nodes, walk_edges = _covering_walk(n_dev + len(nets), n_dev, edges, rng)
    if max_len is not None and 2 * len(walk_nodes) + 2 > max_len:
        raise TokenizeError(f"the walk needs {2 * len(walk_nodes) + 2} tokens, more than max_len {max_len}")

    # Numbers in order of first appearance: 1, 2, ... or, with rng, distinct random ones.
    counts = Counter(f.name for f in families)
    numbering = rng if rename else None
    numbers = {name: _numbering(k, vocab.max_index, numbering) for name, k in counts.items()}
    net_numbers = _numbering(n_internal, vocab.max_nets, numbering)
    node_token: dict[int, int] = {}
    out = [vocab.bos, type_id]
    for step, v in enumerate(walk_nodes):
        if step:
            out.append(edges[walk_edges[step - 1]][2])
        if v not in node_token:
            if v < n_dev:
                node_token[v] = vocab.device_token(families[v].name, numbers[families[v].name].pop())
            else:
                fixed = net_tokens[v - n_dev]
                node_token[v] = fixed if fixed is not None else vocab.internal_token(net_numbers.pop())
        out.append(node_token[v])
    out.append(vocab.eos)
    return out


def _numbering(k: int, limit: int, rng: random.Random | None) -> list[int]:
    """``k`` distinct numbers in 1..``limit`` to ``pop()`` in turn: 1, 2, ... or random ones."""
    return list(range(k, 0, -1)) if rng is None else rng.sample(range(1, limit + 1), k)


def _covering_walk(
    n_nodes: int, n_dev: int, edges: list[tuple[int, int, int]], rng: random.Random | None
) -> tuple[list[int], list[int]]:
    """A walk from a net through every edge at least once: its nodes, and the edge index of each step.

    Edges on shortest paths between odd-degree nodes are doubled until only the start and one end
    are odd (none when the walk closes), then Hierholzer's algorithm follows the Euler trail.
    """
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes)]
    for e, (d, n, _) in enumerate(edges):
        adj[d].append((n, e))
        adj[n].append((d, e))
    _check_connected(adj)
    odd = {v for v in range(n_nodes) if len(adj[v]) % 2}
    nets = range(n_dev, n_nodes)
    if rng is not None:
        start = rng.choice(nets)
    else:
        start = next((v for v in nets if v in odd), n_dev)
    doubled: list[int] = []

    def double_path_to_nearest(source: int, targets: set[int]) -> int:
        """Double the edges of a shortest path from ``source`` to a node of ``targets``; that node."""
        parent: dict[int, tuple[int, int] | None] = {source: None}
        queue = deque([source])
        while queue:
            x = queue.popleft()
            for w, e in adj[x]:
                if w in parent:
                    continue
                parent[w] = (x, e)
                if w in targets:
                    node = w
                    while (link := parent[node]) is not None:
                        doubled.append(link[1])
                        node = link[0]
                    return w
                queue.append(w)
        raise AssertionError("unreachable: the graph is connected")

    if odd and start not in odd:
        odd.discard(double_path_to_nearest(start, odd))
        odd.add(start)
    pending = sorted(odd - {start})
    if rng is not None:
        rng.shuffle(pending)
    left = set(pending)
    for v in pending:
        if v in left and len(left) > 1:
            left.discard(v)
            left.discard(double_path_to_nearest(v, left))

    multi: list[list[tuple[int, int]]] = [list(row) for row in adj]
    n_base = len(edges)
    for k, e in enumerate(doubled):
        d, n, _ = edges[e]
        multi[d].append((n, n_base + k))
        multi[n].append((d, n_base + k))
    if rng is not None:
        for row in multi:
            rng.shuffle(row)
    used = [False] * (n_base + len(doubled))
    nxt = [0] * n_nodes
    stack: list[tuple[int, int]] = [(start, -1)]
    trail: list[tuple[int, int]] = []
    while stack:
        v, _ = stack[-1]
        row = multi[v]
        while nxt[v] < len(row) and used[row[nxt[v]][1]]:
            nxt[v] += 1
        if nxt[v] == len(row):
            trail.append(stack.pop())
        else:
            w, k = row[nxt[v]]
            used[k] = True
            stack.append((w, k))
    trail.reverse()
    base = [k if k < n_base else doubled[k - n_base] for _, k in trail[1:]]
    return [v for v, _ in trail], base


def _check_connected(adj: list[list[tuple[int, int]]]) -> None:
    seen = {0}
    queue = [0]
    while queue:
        for w, _ in adj[queue.pop()]:
            if w not in seen:
                seen.add(w)
                queue.append(w)
    if len(seen) != len(adj):
        raise TokenizeError(f"the circuit is in more than one piece ({len(adj) - len(seen)} of {len(adj)} devices "
                            "and nets unreachable from the first device): one walk cannot cover it")


def decode(ids: Iterable[int], vocab: Vocab) -> GeneratedCircuit:
    """The circuit a sequence describes (trailing ``<pad>`` after ``<eos>`` allowed).

    Raises:
        TokenizeError: the sequence is not ``<bos> <type> walk <eos>``, the walk breaks alternation or
            kinds, restates an edge with other pins, puts a pin on two nets or leaves a pin unplaced;
            the error's ``position`` is the offending token's index.
    """
    seq = [int(i) for i in ids]
    for pos, tok in enumerate(seq):
        if not 0 <= tok < len(vocab):
            raise TokenizeError(f"id {tok} is outside the vocabulary (0..{len(vocab) - 1})", pos)
    kinds = vocab.kinds
    if not seq or seq[0] != vocab.bos:
        raise TokenizeError("a sequence starts with <bos>", 0)
    if len(seq) < 2 or kinds[seq[1]] != "type":
        raise TokenizeError("the token after <bos> must be a circuit type", 1)
    ckt_type = vocab.type_name(seq[1])
    device_order: list[int] = []  # device tokens in first-appearance order
    first_seen: dict[int, int] = {}
    pin_net: dict[int, dict[str, int]] = {}  # device token -> pin -> net token
    edge_pins: dict[tuple[int, int], tuple[str, ...]] = {}
    port_order: list[int] = []
    prev: int | None = None  # the node before the pending edge
    pending: tuple[int, int] | None = None  # (edge token, its position)
    n_steps = 0
    pos = 2
    while True:
        if pos == len(seq):
            raise TokenizeError("the sequence ends without <eos>", pos)
        tok = seq[pos]
        kind = kinds[tok]
        if tok == vocab.eos:
            break
        if kind in ("special", "type"):
            raise TokenizeError(f"{vocab.token(tok)} inside the walk", pos)
        if prev is not None and pending is None:
            if kind != "edge":
                raise TokenizeError(f"an edge token must follow node {vocab.token(prev)}, not {vocab.token(tok)}",
                                    pos)
            pending = (tok, pos)
        else:
            if kind == "edge":
                raise TokenizeError(f"a node token must come here, not edge {vocab.token(tok)}", pos)
            want = "net" if prev is None or kinds[prev] == "device" else "device"
            if kind != want:
                raise TokenizeError(f"a {want} token must come here, not {vocab.token(tok)}", pos)
            if kind == "device" and tok not in first_seen:
                first_seen[tok] = pos
                device_order.append(tok)
                pin_net[tok] = {}
            if kind == "net" and vocab.is_port(tok) and tok not in port_order:
                port_order.append(tok)
            if pending is not None:
                assert prev is not None
                dev, net = (prev, tok) if kind == "net" else (tok, prev)
                _assert_edge(vocab, dev, net, pending, pin_net[dev], edge_pins)
                n_steps += 1
                pending = None
            prev = tok
        pos += 1
    if pending is not None:
        raise TokenizeError("the walk ends on an edge token; it must end on a node", pos)
    if n_steps == 0:
        raise TokenizeError("the walk holds no device", pos)
    for later in range(pos + 1, len(seq)):
        if seq[later] != vocab.pad:
            raise TokenizeError(f"{vocab.token(seq[later])} after <eos>; only <pad> may follow it", later)
    devices = []
    for dev in device_order:
        family, _ = vocab.device(dev)
        fam = vocab.family(family)
        placed = pin_net[dev]
        missing = [p for p in fam.pins if p not in placed]
        if missing:
            raise TokenizeError(f"device {vocab.token(dev)} (first at token {first_seen[dev]}) leaves pin"
                                f"{'s' if len(missing) > 1 else ''} {', '.join(missing)} on no net", pos)
        devices.append(Device(
            name=f"{fam.kind.letter}{vocab.token(dev)}",
            kind=fam.kind,
            terminals=tuple((p, _net_name(vocab, placed[p])) for p in fam.pins),
            model=fam.model,
        ))
    ports = tuple(_net_name(vocab, t) for t in port_order if vocab.token(t) != GND)
    return GeneratedCircuit(Netlist(devices=tuple(devices)), ckt_type, ports)


def _assert_edge(
    vocab: Vocab,
    dev: int,
    net: int,
    edge: tuple[int, int],
    placed: dict[str, int],
    edge_pins: dict[tuple[int, int], tuple[str, ...]],
) -> None:
    """Record that device ``dev`` puts ``edge``'s pins on ``net``, or raise where that contradicts the walk."""
    tok, pos = edge
    family, _ = vocab.device(dev)
    if not vocab.allows_edge(family, tok):
        raise TokenizeError(f"{vocab.token(tok)} names pins that device {vocab.token(dev)} does not have", pos)
    pins = vocab.edge_pins(tok)
    known = edge_pins.get((dev, net))
    if known is not None:
        if known != pins:
            raise TokenizeError(f"{vocab.token(dev)} was linked to {vocab.token(net)} with "
                                f"{vocab.token(vocab.edge_token(family, known))}, now {vocab.token(tok)}", pos)
        return
    for p in pins:
        if p in placed:
            raise TokenizeError(f"pin {p} of {vocab.token(dev)} is already on {vocab.token(placed[p])}, not "
                                f"also on {vocab.token(net)}", pos)
    for p in pins:
        placed[p] = net
    edge_pins[(dev, net)] = pins


def ties(ids: Iterable[int], vocab: Vocab) -> set[tuple[str, tuple[str, ...]]]:
    """``(family, pins)`` of every edge of the walk ``ids`` that puts two or more pins of one device
    on one net (``("NM", ("s", "b"))``: a source on its bulk)."""
    seq = list(ids)
    out = set()
    for i, t in enumerate(seq):
        if vocab.kind(t) == "edge" and len(vocab.edge_pins(t)) >= 2:
            device = seq[i - 1] if vocab.kind(seq[i - 1]) == "device" else seq[i + 1]
            out.add((vocab.device(device)[0], vocab.edge_pins(t)))
    return out


def _net_name(vocab: Vocab, tok: int) -> str:
    name = vocab.net(tok)
    if name == GND:
        return GROUND_NET
    if not vocab.is_port(tok):
        return "n" + name[1:]
    return name


def to_text(ids: Iterable[int], vocab: Vocab) -> str:
    """The sequence as its token strings joined by spaces, ``<pad>`` left out (for logs and the CLI)."""
    return " ".join(vocab.token(int(i)) for i in ids if int(i) != vocab.pad)
