"""The Open Circuit Benchmark (OCB) subgraph basis: its 26 block types, the behavioural devices each
block stands for, and the decomposition of a behavioural op-amp netlist back into typed blocks.

An OCB op-amp is a chain of 2 or 3 transconductance stages ``in -> n1 (-> n2) -> out`` plus up to
three extra blocks: one passive from a stage net to ``out`` (compensation) and up to two *bridges*
between any two of ``in``, ``n1``, ``n2``, ``out``. A block spans two nets ``src -> dst`` (``src``
nearer the input) and holds a passive part (``R``, ``C``, series ``R-C``, parallel ``R||C``), a gm
stage, or a gm stage with a passive across it. The gm types read ``<polarity>gm<direction>``:

- polarity ``+``: a positive transconductance in ``G drive 0 sense 0 gm`` (the element sinks
  ``gm * V(sense)`` from ``drive``), so the stage inverts at DC, like a common-source stage;
  ``-``: the same element with a negative gm (non-inverting);
- direction ``+``: feed-forward, senses ``src`` and drives ``dst``; ``-``: feedback, senses ``dst``
  and drives ``src``.

Every gm stage carries a fixed 1 MOhm and 50 fF load from the net it drives to ground. The type
indices are upstream's (CktGNN ``SUBG_NODE``), so a model can be compared with theirs.

``decompose_ocb`` reads structure only (never device names), so a user's own netlist with renamed,
reordered or re-oriented elements decomposes to the same blocks. Where one netlist has several
readings (a ``C||gm`` stage is the same circuit as a bare gm stage with a bridging ``C`` beside it),
it returns one canonical reading: the fewest blocks, then a fixed order on types and values.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from ckt.errors import CktError, NotDecomposableError
from ckt.graph.two_level import Block, TwoLevelGraph
from ckt.netlist.ir import Device, DeviceKind, Expr, Netlist
from ckt.netlist.params import evaluate_value, global_scope

GM_TYPES: tuple[str, ...] = ("+gm+", "-gm+", "+gm-", "-gm-")
"""The four transconductance stages: polarity then direction."""

PASSIVE_TYPES: tuple[str, ...] = ("R", "C", "R-C", "R||C")
"""Passive blocks: resistor, capacitor, series R-C, parallel R||C."""


def block_type(passive: str, gm: str) -> str:
    """The type name of a block with this passive part (``""`` for none) and gm stage (``""``)."""
    if not gm:
        return passive
    return f"{passive}||{gm}" if passive else gm


OCB_BLOCK_TYPES: tuple[str, ...] = (
    "In", "Out", *PASSIVE_TYPES,
    *(block_type(p, g) for p in ("", "C", "R", "R||C", "R-C") for g in GM_TYPES),
)
"""The 26 OCB subgraph types, in upstream's index order (``In`` = 0 ... ``R-C||-gm-`` = 25)."""

STAGE_TYPES: tuple[str, ...] = ("+gm+", "-gm+", "C||+gm+", "C||-gm+")
"""Types a main-path stage may have (feed-forward gm, bare or with a C across it)."""

COMP_TYPES: tuple[str, ...] = PASSIVE_TYPES
"""Types of the compensation block from a stage net to ``out``."""

LOAD_R = 1e6
"""Every gm stage's fixed output resistance to ground (ohm)."""
LOAD_C = 50e-15
"""Every gm stage's fixed output capacitance to ground (farad)."""

GROUND = "0"
ROLES: tuple[str, ...] = ("in", "stage", "comp", "bridge", "out")
"""What a block does in the op-amp; also the order blocks are listed in before sorting."""

_GROUND_NAMES = frozenset({"0", "gnd"})
_INPUT_NAMES = ("in", "vin")
_OUTPUT_NAMES = ("out", "vout")
_REL_TOL = 1e-6
_MAX_GM = 5  # three stages and two gm bridges
_MAX_ATOMS = 14  # each stage gm + C, a series R-C compensation, two bridges of gm + R + C
_MAX_PER_SPAN = 4  # a stage, the compensation block and two bridges across the same two nets
_MAX_GM_PER_SPAN = 3  # a stage and two gm bridges


@dataclass(frozen=True, slots=True)
class Shape:
    """What a block type is made of: its passive part and its gm stage (either may be empty)."""

    passive: str
    gm: str

    @property
    def feedback(self) -> bool:
        return self.gm.endswith("-")

    @property
    def value_names(self) -> tuple[str, ...]:
        """The block's numbers in upstream's ``r, c, gm`` order."""
        names = [n for n, letter in (("r", "R"), ("c", "C")) if letter in self.passive]
        return (*names, "gm") if self.gm else tuple(names)


SHAPES: dict[str, Shape] = {
    "In": Shape("", ""), "Out": Shape("", ""), **{p: Shape(p, "") for p in PASSIVE_TYPES},
    **{block_type(p, g): Shape(p, g) for p in ("", "C", "R", "R||C", "R-C") for g in GM_TYPES},
}
"""Type name -> its parts."""


@dataclass(frozen=True, slots=True)
class OcbPart:
    """One block of an OCB circuit, named by nets rather than devices.

    Attributes:
        type: one of ``OCB_BLOCK_TYPES``.
        src: the net nearer the input (``in`` for the ``In`` block, ``out`` for ``Out``).
        dst: the net nearer the output.
        values: ``(name, value)`` in SI units, names from ``Shape.value_names``; gm is signed.
        role: one of ``ROLES``.
    """

    type: str
    src: str
    dst: str
    values: tuple[tuple[str, float], ...] = ()
    role: str = "bridge"


def part_devices(part: OcbPart, tag: str) -> tuple[Device, ...]:
    """The behavioural elements of one block (``G``, its ``R``/``C`` loads, the passives).

    Device names are ``G<tag>``, ``RL<tag>``, ``CL<tag>``, ``R<tag>``, ``C<tag>``; a series R-C
    joins at net ``s<tag>``. Feedback stages sense ``dst`` and drive ``src``.
    """
    shape = SHAPES[part.type]
    v = dict(part.values)
    out: list[Device] = []
    if shape.gm:
        sense, drive = (part.dst, part.src) if shape.feedback else (part.src, part.dst)
        out += [
            Device(f"G{tag}", DeviceKind.VCCS, (("p", drive), ("n", GROUND), ("cp", sense), ("cn", GROUND)),
                   value=v["gm"]),
            Device(f"RL{tag}", DeviceKind.RESISTOR, (("p", drive), ("n", GROUND)), value=LOAD_R),
            Device(f"CL{tag}", DeviceKind.CAPACITOR, (("p", drive), ("n", GROUND)), value=LOAD_C),
        ]
    if shape.passive == "R-C":
        mid = f"s{tag}"
        out += [Device(f"R{tag}", DeviceKind.RESISTOR, (("p", part.src), ("n", mid)), value=v["r"]),
                Device(f"C{tag}", DeviceKind.CAPACITOR, (("p", mid), ("n", part.dst)), value=v["c"])]
    else:
        if "R" in shape.passive:
            out.append(Device(f"R{tag}", DeviceKind.RESISTOR, (("p", part.src), ("n", part.dst)), value=v["r"]))
        if "C" in shape.passive:
            out.append(Device(f"C{tag}", DeviceKind.CAPACITOR, (("p", part.src), ("n", part.dst)), value=v["c"]))
    return tuple(out)


def assemble(parts: Sequence[OcbPart], devices: Sequence[Sequence[Device]]) -> TwoLevelGraph:
    """The two-level graph of blocks ``parts`` made of ``devices`` (one sequence per part).

    Outer edges follow upstream: a block on ``src -> dst`` hangs between the block that drives
    ``src`` (``In`` for ``in``, the stage ending there for a stage net) and the one that drives
    ``dst`` (``Out`` for ``out``); a stage takes an edge from its input's driver and, the last one,
    to ``Out``. Blocks are listed in topological order, ties broken by role and then list order;
    each block's ``nets`` start with its ``src`` and ``dst`` (``In``/``Out``: their one net).
    """
    driver: dict[str, int] = {}
    for i, p in enumerate(parts):
        if p.role == "in":
            driver[p.src] = i
        elif p.role == "out":
            driver[p.dst] = i
    for i, p in enumerate(parts):
        if p.role == "stage" and p.dst not in driver:
            driver[p.dst] = i
    edges: set[tuple[int, int]] = set()
    for i, p in enumerate(parts):
        if p.role in ("in", "out"):
            continue
        edges.add((driver[p.src], i))
        if p.role != "stage" or parts[driver[p.dst]].role == "out":
            edges.add((i, driver[p.dst]))
    order = _topological(len(parts), edges, [ROLES.index(p.role) for p in parts])
    where = {old: new for new, old in enumerate(order)}
    blocks = []
    for i in order:
        p, devs = parts[i], devices[i]
        nets = [p.src] if p.role == "in" else [p.dst] if p.role == "out" else [p.src, p.dst]
        nets += [n for d in devs for n in d.nets]
        blocks.append(Block(p.type, tuple(d.name for d in devs), tuple(dict.fromkeys(nets)), p.values))
    return TwoLevelGraph("ocb", tuple(blocks), tuple(sorted((where[i], where[j]) for i, j in edges)))


def _topological(n: int, edges: set[tuple[int, int]], rank: Sequence[int]) -> list[int]:
    """Kahn's order with the smallest ``(rank, index)`` ready node first."""
    indegree = [0] * n
    succ: dict[int, list[int]] = defaultdict(list)
    for i, j in edges:
        indegree[j] += 1
        succ[i].append(j)
    ready = sorted((rank[i], i) for i in range(n) if indegree[i] == 0)
    order: list[int] = []
    while ready:
        _, i = ready.pop(0)
        order.append(i)
        for j in succ[i]:
            indegree[j] -= 1
            if indegree[j] == 0:
                ready.append((rank[j], j))
        ready.sort()
    return order


# --- decomposition -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Atom:
    """An indivisible piece of the netlist: a gm stage with its loads, an R, a C, or a series R-C.

    ``a``/``b`` are its two signal nets (for a gm stage: sensed, driven).
    """

    kind: str
    a: str
    b: str
    value: tuple[tuple[str, float], ...]
    devices: tuple[Device, ...]


@dataclass(frozen=True, slots=True)
class _Piece:
    """A candidate block during parsing: its type, role, span ranks and atoms."""

    type: str
    role: str
    lo: int
    hi: int
    atoms: tuple[_Atom, ...]

    def values(self) -> tuple[tuple[str, float], ...]:
        merged = dict(v for a in self.atoms for v in a.value)
        return tuple((n, merged[n]) for n in SHAPES[self.type].value_names)

    def key(self) -> tuple:
        return (ROLES.index(self.role), self.lo, self.hi, OCB_BLOCK_TYPES.index(self.type), self.values())


def decompose_ocb(netlist: Netlist) -> TwoLevelGraph:
    """The OCB blocks of a behavioural op-amp netlist (``G``, ``R``, ``C`` and an input source).

    Args:
        netlist: a flat netlist with an input net (``in``/``vin``, or the node of its only voltage
            source) and an output net (``out``/``vout``, or else the one net a G element drives that
            reads as an OCB output); ground is ``0`` or ``gnd``; ``.param`` expressions are evaluated.

    Returns:
        The two-level graph (basis ``"ocb"``): ``In``, the stages, the compensation block and the
        bridges, ``Out``, in topological order; each block's values are its ``r``, ``c``, ``gm``.

    Raises:
        NotDecomposableError: a device or net that no OCB circuit has; the error names the devices.
    """
    netlist = _evaluated(netlist)
    ground = {n for n in netlist.nets if n.lower() in _GROUND_NAMES}
    inp = _named(netlist, _INPUT_NAMES) or _source_node(netlist, ground)
    if inp is None:
        raise NotDecomposableError("no input net: none is named in or vin, and there is no single voltage "
                                   "source to find it by")
    named_out = _named(netlist, _OUTPUT_NAMES)
    if named_out is not None:
        return _decompose(_Reading.of(netlist, ground, inp, named_out))
    # no net is named as the output: try each net a G element drives; exactly one may work
    outs = sorted({n for d in netlist.devices if d.kind is DeviceKind.VCCS for n in d.nets[:2]} - ground - {inp})
    found: list[TwoLevelGraph] = []
    errors: list[NotDecomposableError] = []
    for out in outs:
        try:
            found.append(_decompose(_Reading.of(netlist, ground, inp, out)))
        except NotDecomposableError as exc:
            errors.append(exc)
    if len(found) == 1:
        return found[0]
    if not found and errors and len({str(e) for e in errors}) == 1:
        raise errors[0]  # the same devices fail whichever net is the output
    works = ", ".join(g.blocks[-1].nets[0] for g in found)
    raise NotDecomposableError("no net is named out or vout, and " + (
        f"{works} could each be the output" if found else "no net a G element drives reads as the output"
    ) + "; name the output out")


def _decompose(reading: _Reading) -> TwoLevelGraph:
    n_gm = sum(a.kind == "gm" for a in reading.atoms)
    if n_gm > _MAX_GM or len(reading.atoms) > _MAX_ATOMS:
        raise NotDecomposableError(f"{n_gm} gm stages and {len(reading.atoms)} parts; an OCB op-amp has at most "
                                   f"{_MAX_GM} and {_MAX_ATOMS}", [d.name for a in reading.atoms for d in a.devices])
    best: tuple[tuple, list[_Piece], tuple[str, ...]] | None = None
    for order in itertools.permutations(reading.stage_nets):
        chain = (reading.inp, *order, reading.out)
        for pieces in _parses(reading.atoms, chain):
            key = (len(pieces), tuple(sorted(p.key() for p in pieces)))
            if best is None or key < best[0]:
                best = (key, pieces, chain)
    if best is None:
        raise NotDecomposableError(
            "no reading as a 2- or 3-stage chain of feed-forward gm stages in -> ... -> out with at most "
            "one compensation block and two bridges", [d.name for a in reading.atoms for d in a.devices])
    _, pieces, chain = best
    pieces = sorted(pieces, key=_Piece.key)
    parts = [OcbPart("In", reading.inp, reading.inp, (), "in")]
    devices: list[Sequence[Device]] = [reading.sources]
    for p in pieces:
        parts.append(OcbPart(p.type, chain[p.lo], chain[p.hi], p.values(), p.role))
        devices.append(tuple(d for a in p.atoms for d in a.devices))
    parts.append(OcbPart("Out", reading.out, reading.out, (), "out"))
    devices.append(())
    return assemble(parts, devices)


@dataclass(frozen=True, slots=True)
class _Reading:
    """A netlist sorted into atoms, its input and output nets and its internal stage nets."""

    inp: str
    out: str
    stage_nets: tuple[str, ...]
    atoms: tuple[_Atom, ...]
    sources: tuple[Device, ...]

    @staticmethod
    def of(netlist: Netlist, ground: set[str], inp: str, out: str) -> _Reading:
        bad: list[str] = []
        sources: list[Device] = []
        gms: dict[str, list[tuple[str, float, Device]]] = defaultdict(list)  # driven net -> stages
        loads: dict[tuple[str, str], list[Device]] = defaultdict(list)  # (net, "R"|"C") -> loads
        passives: list[Device] = []
        for d in netlist.devices:
            nets, value = d.nets, _number(d.value)
            if d.kind is DeviceKind.VSOURCE and len(nets) == 2 and inp in nets and (set(nets) - {inp}) <= ground \
                    and nets[0] != nets[1]:
                sources.append(d)
            elif d.kind is DeviceKind.VCCS and len(nets) == 4 and value:
                stage = _oriented(d, value, ground)
                if stage is None:
                    bad.append(d.name)
                else:
                    sense, drive, gm = stage
                    gms[drive].append((sense, gm, d))
            elif d.kind in (DeviceKind.RESISTOR, DeviceKind.CAPACITOR) and value is not None and value > 0 \
                    and len(nets) == 2 and nets[0] != nets[1]:
                grounded = [n for n in nets if n in ground]
                if not grounded:
                    passives.append(d)
                elif len(grounded) == 1 and _close(value, LOAD_R if d.kind is DeviceKind.RESISTOR else LOAD_C):
                    node = nets[1] if nets[0] in ground else nets[0]
                    loads[(node, d.kind.value)].append(d)
                else:
                    bad.append(d.name)
            else:
                bad.append(d.name)
        if bad:
            raise NotDecomposableError("not a G stage with ground references, an R or C between signal nets, "
                                       "a stage's 1 MOhm / 50 fF load or the input source", bad)
        atoms = _gm_atoms(gms, loads)
        atoms += _passive_atoms(passives, gms, loads, {inp, out})
        signal = {n for a in atoms for n in (a.a, a.b)}
        stage_nets = tuple(sorted(signal - {inp, out}))
        if not 1 <= len(stage_nets) <= 2:
            raise NotDecomposableError(
                f"an OCB op-amp has 1 or 2 nets between its stages, this one has {len(stage_nets)}"
                + (f" ({', '.join(stage_nets)})" if stage_nets else ""),
                [d.name for a in atoms for d in a.devices if not stage_nets or {a.a, a.b} & set(stage_nets)])
        return _Reading(inp, out, stage_nets, tuple(atoms), tuple(sources))


def _evaluated(netlist: Netlist) -> Netlist:
    """The netlist with expression values (``{gm1}``) replaced by their numbers under its ``.param``s."""
    if not any(isinstance(d.value, Expr) for d in netlist.devices):
        return netlist
    try:
        scope = global_scope(netlist)
    except CktError as exc:
        raise NotDecomposableError(f"its parameters cannot be evaluated: {exc}") from exc
    devices, failed = [], []
    for d in netlist.devices:
        if isinstance(d.value, Expr):
            try:
                d = replace(d, value=evaluate_value(d.value, scope))
            except CktError:
                failed.append(d.name)
        devices.append(d)
    if failed:
        raise NotDecomposableError("values that do not evaluate under the netlist's parameters", failed)
    return replace(netlist, devices=tuple(devices))


def _number(value: object) -> float | None:
    """A device's value as a float; None for an expression or no value."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _named(netlist: Netlist, names: Sequence[str]) -> str | None:
    by_lower = {n.lower(): n for n in netlist.nets}
    return next((by_lower[n] for n in names if n in by_lower), None)


def _source_node(netlist: Netlist, ground: set[str]) -> str | None:
    sources = [d for d in netlist.devices if d.kind is DeviceKind.VSOURCE]
    if len(sources) != 1:
        return None
    nodes = [n for n in sources[0].nets if n not in ground]
    return nodes[0] if len(nodes) == 1 else None


def _oriented(d: Device, gm: float, ground: set[str]) -> tuple[str, str, float] | None:
    """``(sensed net, driven net, gm)`` of a G element with one output and one control pin on ground,
    gm signed as if written ``G drive 0 sense 0 gm``; None for any other G."""
    p, n, cp, cn = d.nets
    if n in ground and p not in ground:
        drive = p
    elif p in ground and n not in ground:
        drive, gm = n, -gm
    else:
        return None
    if cn in ground and cp not in ground:
        sense = cp
    elif cp in ground and cn not in ground:
        sense, gm = cn, -gm
    else:
        return None
    return (sense, drive, gm) if sense != drive else None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _REL_TOL * abs(b)


def _gm_atoms(gms: dict[str, list[tuple[str, float, Device]]],
              loads: dict[tuple[str, str], list[Device]]) -> list[_Atom]:
    """Each gm stage with one R and one C load taken from the net it drives (identical loads are
    interchangeable, so they are handed out in name order)."""
    atoms: list[_Atom] = []
    bad: list[str] = []
    for drive in sorted(set(gms) | {node for node, _ in loads}):
        stages = sorted(gms.get(drive, []), key=lambda s: s[2].name)
        rs = sorted(loads.get((drive, "R"), []), key=lambda d: d.name)
        cs = sorted(loads.get((drive, "C"), []), key=lambda d: d.name)
        if not len(stages) == len(rs) == len(cs):
            bad += [s[2].name for s in stages] + [d.name for d in rs + cs]
            continue
        for (sense, gm, g), r, c in zip(stages, rs, cs):
            atoms.append(_Atom("gm", sense, drive, (("gm", gm),), (g, r, c)))
    if bad:
        raise NotDecomposableError("each gm stage needs exactly one 1 MOhm and one 50 fF load to ground on the "
                                   "net it drives, and each such load a stage", bad)
    return atoms


def _passive_atoms(passives: list[Device], gms: dict[str, list[tuple[str, float, Device]]],
                   loads: dict[tuple[str, str], list[Device]], ports: set[str]) -> list[_Atom]:
    """R and C between signal nets; an R and a C meeting alone at a private net make a series R-C."""
    touching: dict[str, list[Device]] = defaultdict(list)
    for d in passives:
        for n in d.nets:
            touching[n].append(d)
    active = set(gms) | {s for stages in gms.values() for s, _, _ in stages} | {n for n, _ in loads}
    series: dict[str, tuple[Device, Device]] = {}
    for net, devs in touching.items():
        kinds = sorted(d.kind.value for d in devs)
        if net not in ports and net not in active and kinds == ["C", "R"]:
            r, c = sorted(devs, key=lambda d: d.kind.value, reverse=True)
            series[net] = (r, c)
    used = {d.name for pair in series.values() for d in pair}
    atoms = []
    for net, (r, c) in sorted(series.items()):
        a = r.nets[1] if r.nets[0] == net else r.nets[0]
        b = c.nets[1] if c.nets[0] == net else c.nets[0]
        if a == b or a in series or b in series:
            raise NotDecomposableError("a series R-C must join two different signal nets", [r.name, c.name])
        atoms.append(_Atom("R-C", a, b, (("r", _number(r.value) or 0.0), ("c", _number(c.value) or 0.0)), (r, c)))
    for d in passives:
        if d.name not in used:
            name = "r" if d.kind is DeviceKind.RESISTOR else "c"
            atoms.append(_Atom(d.kind.value, d.nets[0], d.nets[1], ((name, _number(d.value) or 0.0),), (d,)))
    dangling = [d.name for d in passives if d.name not in used and any(
        n not in ports and n not in active and len(touching[n]) == 1 for n in d.nets)]
    if dangling:
        raise NotDecomposableError("a passive with an end that nothing else touches", dangling)
    return atoms


def _parses(atoms: Sequence[_Atom], chain: Sequence[str]) -> Iterator[list[_Piece]]:
    """Every reading of ``atoms`` as OCB blocks for this order of the main chain's nets."""
    rank = {n: i for i, n in enumerate(chain)}
    last = len(chain) - 1
    spans: dict[tuple[int, int], list[_Atom]] = defaultdict(list)
    for a in atoms:
        if a.a not in rank or a.b not in rank:
            return
        lo, hi = sorted((rank[a.a], rank[a.b]))
        spans[(lo, hi)].append(a)
    main = [(k, k + 1) for k in range(last)]
    if any(s not in spans for s in main):
        return
    options: list[list[list[_Piece]]] = []
    for (lo, hi), group in sorted(spans.items()):
        gms = sorted((a for a in group if a.kind == "gm"), key=lambda a: a.value)
        rest = sorted((a for a in group if a.kind != "gm"), key=lambda a: ("R", "C", "R-C").index(a.kind))
        if len(gms) > _MAX_GM_PER_SPAN or len(rest) > 2 * _MAX_PER_SPAN:
            return  # more than a stage and two bridges, or than four blocks can hold
        choices: dict[tuple, list[_Piece]] = {}  # readings that differ only in identical atoms count once
        for partition in _partitions(gms, rest, _MAX_PER_SPAN):
            typed = [(_piece_type(atoms_, rank), atoms_) for atoms_ in partition]
            for reading in _roles(typed, lo, hi, last, is_main=(lo, hi) in main):
                choices.setdefault(tuple(sorted(p.key() for p in reading)), reading)
        if not choices:
            return
        options.append(list(choices.values()))
    yield from _combine(options, [], 0, 0)


def _combine(options: list[list[list[_Piece]]], chosen: list[_Piece], comps: int,
             bridges: int) -> Iterator[list[_Piece]]:
    """One reading per span, with at most one compensation block and two bridges in all."""
    if not options:
        yield chosen
        return
    for reading in options[0]:
        c = comps + sum(p.role == "comp" for p in reading)
        b = bridges + sum(p.role == "bridge" for p in reading)
        if c <= 1 and b <= 2:
            yield from _combine(options[1:], chosen + reading, c, b)


def _partitions(gms: list[_Atom], passives: list[_Atom], room: int) -> Iterator[list[tuple[_Atom, ...]]]:
    """Ways to group one span's atoms into at most ``room`` blocks: each gm with nothing, an R, a C,
    an R and a C, or a series R-C across it; leftover passives alone or as R||C pairs."""
    if not gms and not passives:
        yield []
        return
    if room == 0:
        return
    if gms:
        g, others = gms[0], gms[1:]
        for attach in _attachments(passives):
            left = [p for p in passives if all(p is not q for q in attach)]
            for rest in _partitions(others, left, room - 1):
                yield [(g, *attach), *rest]
        return
    first, others = passives[0], passives[1:]
    for rest in _partitions([], others, room - 1):
        yield [(first,), *rest]
    if first.kind == "R":
        for i, c in enumerate(others):
            if c.kind == "C":
                for rest in _partitions([], others[:i] + others[i + 1:], room - 1):
                    yield [(first, c), *rest]


def _attachments(passives: list[_Atom]) -> Iterator[tuple[_Atom, ...]]:
    yield ()
    rs = [p for p in passives if p.kind == "R"]
    cs = [p for p in passives if p.kind == "C"]
    for p in passives:
        yield (p,)
    for r in rs:
        for c in cs:
            yield (r, c)


def _piece_type(group: tuple[_Atom, ...], rank: dict[str, int]) -> str:
    kinds = [a.kind for a in group]
    passive = "R-C" if "R-C" in kinds else "R||C" if {"R", "C"} <= set(kinds) else \
        "R" if "R" in kinds else "C" if "C" in kinds else ""
    gm_atoms = [a for a in group if a.kind == "gm"]
    if not gm_atoms:
        return passive
    g = gm_atoms[0]
    polarity = "+" if dict(g.value)["gm"] > 0 else "-"
    direction = "+" if rank[g.a] < rank[g.b] else "-"
    return block_type(passive, f"{polarity}gm{direction}")


def _roles(pieces: list[tuple[str, tuple[_Atom, ...]]], lo: int, hi: int, last: int,
           is_main: bool) -> Iterator[list[_Piece]]:
    """Role assignments for one span's blocks: exactly one stage on a main span; a passive from a
    stage net to ``out`` may be the compensation block; anything else is a bridge."""
    comp_ok = lo >= 1 and hi == last
    stage_at = [i for i, (t, _) in enumerate(pieces) if t in STAGE_TYPES] if is_main else [None]
    for s in stage_at:
        extras = [(t, a) for i, (t, a) in enumerate(pieces) if i != s]
        head = [] if s is None else [_Piece(pieces[s][0], "stage", lo, hi, pieces[s][1])]
        comp_at = [None] + [i for i, (t, _) in enumerate(extras) if comp_ok and t in COMP_TYPES]
        for c in comp_at:
            yield head + [_Piece(t, "comp" if i == c else "bridge", lo, hi, a) for i, (t, a) in enumerate(extras)]
