"""Device-level analog building blocks, found by structural matching in a flat netlist.

A block is a small pattern of typed transistors and passives whose pins share nets in a fixed way
(a differential pair: two like transistors on one non-supply source net, distinct gates and
drains). ``decompose_blocks`` matches every pattern of ``PATTERNS`` in priority order (larger and
more specific blocks first), each device joining at most one block, and returns the two-level view
of ``ckt.graph.two_level`` with basis ``"blocks"``.

Matching reads structure only, never device names. Each pattern starts from one device and looks
its partners up in hash indices (by gate, source, drain net), so a pass is linear in the number of
devices times the fan-out of a net. MOSFETs (d, g, s), BJTs (c, b, e) and JFETs (d, g, s) share
one set of roles (drain/collector, gate/base, source/emitter), so each pattern has its BJT
analogue; the inner device graph tells the encoder which family a block is made of, and the
block's ``polarity`` value is +1 for n-type (NMOS, NPN) and -1 for p-type.

Net roles come mostly from names, because a flat netlist has little other record of them (callers
can add their own): *supplies* (``VDD``, ``VSS``, ``GND``, ``0``, ``VCC``, ``5V``...; also nets a
voltage source ties to a supply, and an unnamed rail found by structure, see
``_inferred_supplies``), *inputs* (``VIN1``, ``INP``, ``VI+``...), *bias* (``VB1``, ``IBIAS``,
``VREF``...) and *control* (``VCLK1``, ``PHI1``, ``VCONT``...); the gate net of a bias reference is
a bias net too.

Devices no pattern takes are listed in ``TwoLevelGraph.uncovered`` and also get a singleton block
of type ``device:<kind>`` so the two-level encoder still sees every device;
``TwoLevelGraph.coverage`` counts only real blocks.

Outer edges join blocks that share a non-supply net. They point from the input side to the output
side: blocks are ordered by breadth-first distance from input and bias nets (ties by the netlist
position of their first device), block ``i`` precedes ``j`` for ``i < j``, and every edge goes
from the earlier block to the later one, so the outer graph is a DAG in topological order. A net
that ``k`` blocks share gives the ``k(k-1)/2`` edges among them.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ckt.graph.two_level import Block, TwoLevelGraph
from ckt.netlist.ir import Device, DeviceKind, Netlist

PATTERNS: tuple[str, ...] = (
    "cascode_mirror",
    "wilson_mirror",
    "cross_coupled_pair",
    "current_mirror",
    "diff_pair",
    "transmission_gate",
    "inverter",
    "push_pull",
    "cascode_pair",
    "bias_branch",
    "cs_stage",
    "cg_stage",
    "source_follower",
    "current_source",
    "switch",
    "lc_tank",
    "resistor_divider",
    "compensation_rc",
    "compensation_c",
)
"""Real block types, in matching priority order.

- ``cascode_mirror``: two stacked mirrors (standard: both levels diode-connected on the input side;
  wide-swing: cascodes on a shared bias gate, bottom gates tied to the input cascode's drain).
- ``wilson_mirror``: diode reference, its copy feeding the gate of an output device stacked on the
  reference (the 4-device improved Wilson adds the diode that levels the copy's drain).
- ``cross_coupled_pair``: two like devices, each gate on the other's drain (latches, negative-R
  loads, the regenerative pair of a StrongARM comparator).
- ``current_mirror``: one diode-connected reference and one copy (same gate, same source net).
- ``diff_pair``: two like devices on one non-supply source net, distinct gates and drains.
- ``transmission_gate``: an n- and a p-device in parallel (same two channel nets).
- ``inverter``: complementary devices, gates tied, drains tied, sources apart (on the supplies, or
  on current-starving devices).
- ``push_pull``: complementary output pair, both driven from signal nets, joined at drains
  (common-source class AB) or at sources (complementary follower).
- ``cascode_pair``: two like devices stacked through a net only they touch, upper gate static.
- ``bias_branch``: a diode-connected reference (or a series stack of them) that sets a bias net,
  with the resistor that feeds it from a supply; a reference with several copies is one, each
  copy becoming a ``current_source``.
- ``cs_stage``: common source / emitter: source on a supply (directly or through a degeneration
  resistor), gate on a signal net.
- ``cg_stage``: common gate / base (or cascode device): gate static (a bias net, or a net nothing
  in the circuit drives), source and drain on signals.
- ``source_follower``: drain on a supply, source on a signal net.
- ``current_source``: source on a supply, gate on a bias net; or an ideal current source with one
  end on a supply.
- ``switch``: a device gated by a clock/control net.
- ``lc_tank``: an inductor with the capacitors, varactor diodes and resistors in parallel with it.
- ``resistor_divider``: two resistors in series whose middle net feeds only gates (bias or feedback).
- ``compensation_rc``: a resistor and a capacitor in series, joined by a net only they touch,
  between two stage nodes (Miller with nulling resistor) or from a stage node to a supply.
- ``compensation_c``: a capacitor between two stage nodes (Miller; in switched-capacitor
  circuits the same shape is the sampling/coupling capacitor).

Once every pattern has run, a resistor, capacitor or inductor from a supply to a net whose DC
current only one transistor block carries, besides current sources and mirrors that load it (a
drain load, a source degeneration, a follower's load, an RF choke, a stage's load capacitor),
joins that block.
"""

_SINGLE = ("cs_stage", "cg_stage", "source_follower", "current_source", "switch")
"""The one-device stages, classified together by ``_Matcher.single_stages``."""

DEVICE_TYPES: tuple[str, ...] = tuple(f"device:{k.name.lower()}" for k in DeviceKind)
"""Singleton types for devices no pattern takes."""

BLOCK_TYPES: tuple[str, ...] = PATTERNS + DEVICE_TYPES
"""The basis vocabulary (``to_two_level_pyg``'s ``block_types``)."""

_TRANSISTORS = {DeviceKind.MOSFET: ("d", "g", "s"), DeviceKind.BJT: ("c", "b", "e"), DeviceKind.JFET: ("d", "g", "s")}

_BULK = {(DeviceKind.MOSFET, "b"), (DeviceKind.BJT, "sub")}
"""Body and substrate pins carry no signal current, so the net-degree tests of the patterns skip them."""

_TANK_PARTS = (DeviceKind.INDUCTOR, DeviceKind.CAPACITOR, DeviceKind.DIODE, DeviceKind.RESISTOR)
_PASSIVE_LOADS = (DeviceKind.RESISTOR, DeviceKind.CAPACITOR, DeviceKind.INDUCTOR)
_LOAD_BLOCKS = {"current_source", "current_mirror", "cascode_mirror", "wilson_mirror", "bias_branch"}
"""Blocks that load a node rather than drive it: a load capacitor there joins the driving block."""

_SUPPLY = re.compile(
    r"^(0|gnd\w*|\w*gnd|gnda|vdd\w*|\w*vdd|vss\w*|\w*vss|vcc\w*|vee\w*|vpwr|vgnd|v[+-]|[+-]?\d+(\.\d+)?v)$"
)
_INPUT = re.compile(r"^(v?in[a-z0-9+-]*|vi[pnm+-]\w*|vi\d*|iin\w*|vrf\w*|vlo\w*|rfin|loin)$")
_BIAS = re.compile(r"^(vb\w*|v?bias\w*|ib\w*|i?bias\w*|vref\w*|ref\w*|vcm\w*|vcas\w*)$")
_CONTROL = re.compile(r"^(v?clk\w*|\w*clk|phi\w*|ph\d\w*|vcont\w*|vctrl\w*|ctrl\w*|en|enb|v?en\d*)$")


def _clean(net: str) -> str:
    """A net name as the role patterns read it: lower-case, escapes and a trailing ``!`` dropped."""
    return net.replace("\\", "").rstrip("!").lower()


def is_supply_net(net: str) -> bool:
    """Whether ``net`` is named like a supply or ground."""
    return bool(_SUPPLY.match(_clean(net)))


@dataclass(frozen=True, slots=True)
class _T:
    """A transistor seen through its three roles (drain/collector, gate/base, source/emitter)."""

    index: int
    family: DeviceKind
    polarity: int
    d: str
    g: str
    s: str

    @property
    def diode(self) -> bool:
        return self.d == self.g

    def like(self, other: _T) -> bool:
        return self.family is other.family and self.polarity == other.polarity


def _polarity(device: Device, model_types: dict[str, str]) -> int:
    """+1 for n-type, -1 for p-type, 0 when neither the model card nor the model name says."""
    model = (device.model or "").lower()
    for text in (model_types.get(model, ""), model):
        if re.search(r"pmos|pfet|pch|pnp|pjf", text) or text.startswith("p"):
            return -1
        if re.search(r"nmos|nfet|nch|npn|njf", text) or text.startswith("n"):
            return 1
    return 0


class _Matcher:
    """The indices and the claimed-device bookkeeping of one decomposition."""

    def __init__(self, netlist: Netlist, supplies: set[str], inputs: set[str], bias: set[str]) -> None:
        self.devices = netlist.devices
        self.supplies = supplies
        self.inputs = inputs
        self.bias = bias
        self.control = {n for n in netlist.nets if _CONTROL.match(_clean(n)) and n not in supplies}
        model_types = {m.name.lower(): m.type for m in netlist.all_models()}
        self.t: dict[int, _T] = {}
        self.pins_on: dict[str, list[tuple[int, str]]] = {}
        for i, dev in enumerate(self.devices):
            for pin, net in dev.terminals:
                if (dev.kind, pin) not in _BULK:
                    self.pins_on.setdefault(net, []).append((i, pin))
            roles = _TRANSISTORS.get(dev.kind)
            if roles is not None and all(p in dev.pins for p in roles):
                d, g, s = (dev.net(p) for p in roles)
                self.t[i] = _T(i, dev.kind, _polarity(dev, model_types), d, g, s)
        self.by_gate: dict[str, list[_T]] = {}
        self.by_source: dict[str, list[_T]] = {}
        self.by_drain: dict[str, list[_T]] = {}
        for t in self.t.values():
            self.by_gate.setdefault(t.g, []).append(t)
            self.by_source.setdefault(t.s, []).append(t)
            self.by_drain.setdefault(t.d, []).append(t)
        self.used: set[int] = set()
        self.found: list[tuple[str, tuple[int, ...], int]] = []
        self.block_of: dict[int, int] = {}

    # -- helpers -------------------------------------------------------------------------------
    def free(self, *indices: int) -> bool:
        return len(set(indices)) == len(indices) and not any(i in self.used for i in indices)

    def claim(self, kind: str, indices: Iterable[int], polarity: int = 0) -> None:
        members = tuple(indices)
        self.used.update(members)
        self.block_of.update((i, len(self.found)) for i in members)
        self.found.append((kind, members, polarity))

    def static(self, net: str) -> bool:
        """A net that holds still in small signal: a supply, a bias or a control net."""
        return net in self.supplies or net in self.bias or net in self.control

    def channel_pins(self, net: str) -> list[tuple[int, str]]:
        """The pins on ``net`` other than transistor gates (the ones that carry current)."""
        return [(i, p) for i, p in self.pins_on.get(net, ()) if not (i in self.t and self.t[i].g == net
                                                                     and _gate_pin(self.devices[i]) == p)]

    def dc_pins(self, net: str) -> list[tuple[int, str]]:
        """The pins on ``net`` that carry DC current: no gates, no capacitors."""
        return [(i, p) for i, p in self.channel_pins(net) if self.devices[i].kind is not DeviceKind.CAPACITOR]

    def rail_resistor(self, net: str, owner: int) -> int | None:
        """A free resistor from ``net`` to a supply that, with ``owner``, alone carries ``net``'s DC current."""
        if net in self.supplies:
            return None
        pins = self.dc_pins(net)
        others = [i for i, _ in pins if i != owner]
        if len(pins) != 2 or len(others) != 1:
            return None
        r = others[0]
        dev = self.devices[r]
        if dev.kind is not DeviceKind.RESISTOR or not self.free(r) or len(dev.terminals) != 2:
            return None
        return r if any(n in self.supplies for n in dev.nets if n != net) else None

    def free_transistors(self) -> list[_T]:
        return [t for i, t in self.t.items() if i not in self.used]

    def copies(self, ref: _T) -> list[_T]:
        """Free like devices with the gate and source of ``ref`` (not ``ref`` itself, not diodes)."""
        return [c for c in self.by_gate.get(ref.g, ()) if c.index != ref.index and c.like(ref)
                and c.s == ref.s and not c.diode and self.free(c.index)]

    # -- patterns ------------------------------------------------------------------------------
    def cascode_mirror(self) -> None:
        for m3 in self.free_transistors():
            if not self.free(m3.index):
                continue
            for m1 in self.by_drain.get(m3.s, ()):
                if not (m1.like(m3) and self.free(m1.index, m3.index) and m1.s != m3.s):
                    continue
                standard = m1.diode and m3.diode
                wide = m1.g == m3.d and not m3.diode and not m1.diode
                if not (standard or wide):
                    continue
                outputs: list[int] = []
                for m2 in self.by_gate.get(m1.g, ()):
                    if m2.index in (m1.index, m3.index) or not (m2.like(m1) and m2.s == m1.s and not m2.diode):
                        continue
                    m4 = next((c for c in self.by_source.get(m2.d, ()) if c.like(m3) and c.g == m3.g
                               and c.index not in (m1.index, m3.index) and self.free(c.index, m2.index)
                               and c.index not in outputs), None)
                    if m4 is not None and self.free(m2.index):
                        outputs += [m2.index, m4.index]
                if outputs:
                    self.claim("cascode_mirror", (m1.index, m3.index, *outputs), m1.polarity)
                    break

    def wilson_mirror(self) -> None:
        for m1 in self.free_transistors():
            if not (m1.diode and self.free(m1.index)):
                continue
            for m2 in self.copies(m1):
                members = self._wilson(m1, m2)
                if members:
                    self.claim("wilson_mirror", members, m1.polarity)
                    break

    def _wilson(self, m1: _T, m2: _T) -> tuple[int, ...]:
        """The Wilson mirror on reference ``m1`` and its copy ``m2``: the improved 4-device form
        when a diode levels the copy's drain, else the 3-device form; empty when neither fits."""
        for m4 in self.by_source.get(m2.d, ()):
            if m4.like(m1) and m4.diode:
                for m3 in self.by_gate.get(m4.d, ()):
                    if m3.like(m1) and m3.s == m1.d and self.free(m1.index, m2.index, m3.index, m4.index):
                        return (m1.index, m2.index, m3.index, m4.index)
        for m3 in self.by_gate.get(m2.d, ()):
            if m3.like(m1) and m3.s == m1.d and self.free(m1.index, m2.index, m3.index):
                return (m1.index, m2.index, m3.index)
        return ()

    def cross_coupled_pair(self) -> None:
        for m1 in self.free_transistors():
            if m1.diode or not self.free(m1.index):
                continue
            for m2 in self.by_drain.get(m1.g, ()):
                if m2.like(m1) and m2.g == m1.d and self.free(m1.index, m2.index):
                    self.claim("cross_coupled_pair", (m1.index, m2.index), m1.polarity)
                    break

    def current_mirror(self) -> None:
        """References with one copy become mirrors; with several, bias branches (see ``bias_branch``)."""
        for ref in self.free_transistors():
            if not (ref.diode and self.free(ref.index)):
                continue
            copies = self.copies(ref)
            if len(copies) == 1:
                self.claim("current_mirror", (ref.index, copies[0].index), ref.polarity)
            elif len(copies) > 1:
                self.bias.add(ref.g)

    def diff_pair(self) -> None:
        for s, group in self.by_source.items():
            if s in self.supplies:
                continue
            pool = [t for t in group if self.free(t.index) and not t.diode
                    and t.g not in self.supplies and t.g not in self.control]
            while pool:
                m1 = pool.pop(0)
                m2 = next((t for t in pool if t.like(m1) and t.g != m1.g and t.d != m1.d), None)
                if m2 is not None:
                    pool.remove(m2)
                    self.claim("diff_pair", (m1.index, m2.index), m1.polarity)

    def transmission_gate(self) -> None:
        for n in self.free_transistors():
            if n.polarity != 1 or not self.free(n.index):
                continue
            for p in [*self.by_drain.get(n.d, ()), *self.by_drain.get(n.s, ())]:
                if (p.family is n.family and p.polarity == -1 and {p.d, p.s} == {n.d, n.s}
                        and self.free(n.index, p.index)):
                    self.claim("transmission_gate", (n.index, p.index))
                    break

    def _complementary(self, kind: str, test: Callable[[_T, _T], bool]) -> None:
        for n in self.free_transistors():
            joint = n.s if kind == "follower" else n.d
            if n.polarity != 1 or not self.free(n.index) or joint in self.supplies:
                continue
            partners = self.by_source.get(joint, ()) if kind == "follower" else self.by_drain.get(joint, ())
            for p in partners:
                if p.family is n.family and p.polarity == -1 and self.free(n.index, p.index) and test(n, p):
                    self.claim("inverter" if kind == "inverter" else "push_pull", (n.index, p.index))
                    break

    def inverter(self) -> None:
        sup = self.supplies
        self._complementary("inverter", lambda n, p: n.g == p.g and n.g not in sup
                            and n.s != p.s and n.d not in sup)

    def push_pull(self) -> None:
        def signal(net: str) -> bool:
            return not self.static(net)

        sup = self.supplies
        self._complementary("drain", lambda n, p: n.g != p.g and signal(n.g) and signal(p.g)
                            and n.s in sup and p.s in sup and n.s != p.s and n.d not in sup)
        self._complementary("follower", lambda n, p: signal(n.g) and signal(p.g) and n.d in sup
                            and p.d in sup and n.d != p.d and n.s not in sup)

    def cascode_pair(self) -> None:
        for low in self.free_transistors():
            if low.diode or low.d in self.supplies or not self.free(low.index):
                continue
            if len(self.pins_on.get(low.d, ())) != 2:
                continue
            for high in self.by_source.get(low.d, ()):
                if high.like(low) and not high.diode and self.static(high.g) and self.free(low.index, high.index):
                    self.claim("cascode_pair", (low.index, high.index), low.polarity)
                    break

    def bias_branch(self) -> None:
        for ref in self.free_transistors():
            if not (ref.diode and self.free(ref.index)):
                continue
            members = [ref.index]
            below = ref
            while below.s not in self.supplies:  # diodes stacked in series
                nxt = next((t for t in self.by_drain.get(below.s, ()) if t.diode and t.like(ref)
                            and self.free(t.index) and t.index not in members
                            and len(self.channel_pins(below.s)) == 2), None)
                if nxt is None:
                    break
                members.append(nxt.index)
                below = nxt
            feed = self.channel_pins(ref.d)
            if len(feed) == 2:
                other = next(i for i, _ in feed if i != ref.index)
                dev = self.devices[other]
                if dev.kind is DeviceKind.RESISTOR and self.free(other) and any(
                        n in self.supplies for n in dev.nets if n != ref.d):
                    members.append(other)
            self.bias.add(ref.g)
            self.claim("bias_branch", members, ref.polarity)

    def _two_terminal(self, kind: DeviceKind) -> list[int]:
        return [i for i, d in enumerate(self.devices)
                if d.kind is kind and i not in self.used and len(d.terminals) == 2]

    def lc_tank(self) -> None:
        parallel: dict[frozenset[str], list[int]] = {}
        for i, dev in enumerate(self.devices):
            if dev.kind in _TANK_PARTS and len(set(dev.nets)) == 2 and len(dev.terminals) == 2:
                parallel.setdefault(frozenset(dev.nets), []).append(i)
        for i in self._two_terminal(DeviceKind.INDUCTOR):
            if not self.free(i) or len(set(self.devices[i].nets)) != 2:
                continue
            rest = [j for j in parallel[frozenset(self.devices[i].nets)] if j != i and self.free(j)]
            if any(self.devices[j].kind in (DeviceKind.CAPACITOR, DeviceKind.DIODE) for j in rest):
                self.claim("lc_tank", (i, *rest))

    def resistor_divider(self) -> None:
        for r1 in self._two_terminal(DeviceKind.RESISTOR):
            if not self.free(r1):
                continue
            for mid in self.devices[r1].nets:
                if mid in self.supplies:
                    continue
                feed = self.channel_pins(mid)
                gates = len(self.pins_on[mid]) - len(feed)
                others = [i for i, _ in feed if i != r1]
                if len(feed) != 2 or len(others) != 1 or (gates == 0 and mid not in self.bias):
                    continue
                r2 = others[0]
                dev2 = self.devices[r2]
                ends = {n for n in self.devices[r1].nets + dev2.nets if n != mid}
                if dev2.kind is DeviceKind.RESISTOR and self.free(r2) and len(ends) == 2:
                    self.claim("resistor_divider", (r1, r2))
                    break

    def compensation_rc(self) -> None:
        caps = set(self._two_terminal(DeviceKind.CAPACITOR))
        for r in self._two_terminal(DeviceKind.RESISTOR):
            for mid in self.devices[r].nets:
                pins = self.pins_on[mid]
                if mid in self.supplies or len(pins) != 2:
                    continue
                c = next((i for i, _ in pins if i != r), -1)
                if c not in caps or not self.free(r, c):
                    continue
                ends = [n for n in self.devices[r].nets + self.devices[c].nets if n != mid]
                if len(set(ends)) == 2 and not all(n in self.supplies for n in ends):
                    self.claim("compensation_rc", (r, c))
                    break

    def compensation_c(self) -> None:
        for c in self._two_terminal(DeviceKind.CAPACITOR):
            a, b = self.devices[c].nets
            if a != b and a not in self.supplies and b not in self.supplies and all(
                    any(i in self.t for i, _ in self.pins_on[n]) for n in (a, b)):
                self.claim("compensation_c", (c,))

    def single_stages(self) -> None:
        """One-device stages; a source degenerated by a resistor to a supply counts as on the supply."""
        sup = self.supplies
        for t in self.free_transistors():
            grounded = t.s in sup or self.rail_resistor(t.s, t.index) is not None
            if t.g in self.control and t.g not in sup:
                kind = "switch"
            elif t.d in sup and t.s not in sup and t.g not in sup:
                kind = "source_follower"
            elif grounded and t.d not in sup and t.g not in sup:
                kind = "current_source" if t.g in self.bias else "cs_stage"
            elif t.s not in sup and t.d not in sup and t.d != t.s and (
                    self.static(t.g) or not self.channel_pins(t.g) and t.g not in self.inputs):
                kind = "cg_stage"
            else:
                continue
            self.claim(kind, (t.index,), t.polarity)
        for i in self._two_terminal(DeviceKind.ISOURCE):
            if sum(n in sup for n in self.devices[i].nets) == 1:
                self.claim("current_source", (i,))

    def attach_loads(self) -> None:
        """A resistor, capacitor or inductor from a supply to a net whose DC current one transistor
        block carries (beside current sources and mirrors acting as its load) is that block's load
        or degeneration, and joins it. Repeated until nothing moves, so a load may hang off a net
        another load has just joined."""
        moved = True
        while moved:
            moved = False
            for i, dev in enumerate(self.devices):
                if dev.kind in _PASSIVE_LOADS and i not in self.used and len(dev.terminals) == 2:
                    k = self._load_owner(i, dev)
                    if k is not None:
                        kind, members, polarity = self.found[k]
                        self.found[k] = (kind, (*members, i), polarity)
                        self.used.add(i)
                        self.block_of[i] = k
                        moved = True

    def _load_owner(self, i: int, dev: Device) -> int | None:
        ends = [n for n in dev.nets if n not in self.supplies]
        if len(ends) != 1 or len(set(dev.nets)) != 2:
            return None
        owners = {self.block_of.get(j, -1) for j, _ in self.dc_pins(ends[0]) if j != i}
        if -1 in owners:
            return None
        if len(owners) > 1:
            owners = {k for k in owners if self.found[k][0] not in _LOAD_BLOCKS}
        if len(owners) != 1:
            return None
        k = owners.pop()
        return k if any(j in self.t for j in self.found[k][1]) else None

    def run(self) -> None:
        for name in PATTERNS:
            if name not in _SINGLE:
                getattr(self, name)()
            elif name == _SINGLE[0]:
                self.single_stages()
        self.attach_loads()


def _gate_pin(device: Device) -> str:
    return "b" if device.kind is DeviceKind.BJT else "g"


def net_roles(netlist: Netlist, *, supplies: Iterable[str] = (), inputs: Iterable[str] = ()) -> tuple[
        set[str], set[str], set[str]]:
    """The supply, input and bias nets of ``netlist``: by name, plus the ones the caller names,
    plus the supplies ``_inferred_supplies`` finds."""
    nets = netlist.nets
    sup = {n for n in nets if is_supply_net(n)} | set(supplies)
    sup |= _inferred_supplies(netlist, sup)
    inp = ({n for n in nets if _INPUT.match(_clean(n))} | set(inputs)) - sup
    bias = {n for n in nets if _BIAS.match(_clean(n))} - sup - inp
    return sup, inp, bias


def _inferred_supplies(netlist: Netlist, named: set[str]) -> set[str]:
    """Supplies a netlist shows by structure, for schematics whose rails carry no telling name.

    A net held to a supply by an ideal voltage source is a supply when no transistor gate sits on
    it (a gate there makes it an input or a bias). And when no n-type (or p-type) transistor has its
    source on a supply, the net that holds most of their sources (at least two), is no transistor's
    drain or gate and feeds no resistor or current source (as a tail would) is their rail.
    """
    gates: set[str] = set()
    not_rail: set[str] = {n for d in netlist.devices if d.kind in (DeviceKind.RESISTOR, DeviceKind.ISOURCE)
                          for n in d.nets}
    sources: dict[tuple[DeviceKind, str], list[str]] = {}
    model_types = {m.name.lower(): m.type for m in netlist.all_models()}
    for dev in netlist.devices:
        roles = _TRANSISTORS.get(dev.kind)
        if roles is None or not all(p in dev.pins for p in roles):
            continue
        d, g, src = (dev.net(p) for p in roles)
        gates.add(g)
        not_rail.update((d, g))
        side = "n" if _polarity(dev, model_types) >= 0 else "p"
        sources.setdefault((dev.kind, side), []).append(src)
    found = set(named)
    changed = True
    while changed:
        changed = False
        for dev in netlist.devices:
            if dev.kind is DeviceKind.VSOURCE and len(dev.terminals) == 2:
                a, b = dev.nets
                for x, y in ((a, b), (b, a)):
                    if y in found and x not in found and x not in gates:
                        found.add(x)
                        changed = True
    for nets in sources.values():
        if any(n in found for n in nets):
            continue
        counts = {n: c for n, c in Counter(nets).items() if n not in not_rail}
        if counts:
            best = max(counts, key=lambda n: counts[n])  # first-seen among equals
            if counts[best] >= 2:
                found.add(best)
    return found - named


def decompose_blocks(
    netlist: Netlist, *, supplies: Iterable[str] = (), inputs: Iterable[str] = ()
) -> TwoLevelGraph:
    """The building blocks of a flat device-level netlist as a two-level graph (basis ``"blocks"``).

    Args:
        netlist: a flat netlist (subcircuit instances stay single ``device:subckt`` blocks).
        supplies: nets to treat as supplies besides those named like one (``VDD``, ``GND``...).
        inputs: nets to treat as circuit inputs besides those named like one (``VIN1``, ``INP``...).

    Returns:
        Blocks ordered input side first (every outer edge ``i -> j`` has ``i < j``); devices no
        pattern takes are in ``uncovered`` and in singleton ``device:<kind>`` blocks.
    """
    sup, inp, bias = net_roles(netlist, supplies=supplies, inputs=inputs)
    m = _Matcher(netlist, sup, inp, bias)
    m.run()
    found = list(m.found)
    uncovered = [i for i in range(len(netlist.devices)) if i not in m.used]
    found += [(f"device:{netlist.devices[i].kind.name.lower()}", (i,), 0) for i in uncovered]

    raw = [(kind, tuple(sorted(members)), pol) for kind, members, pol in found]
    nets_of = [tuple(dict.fromkeys(n for i in members for n in netlist.devices[i].nets)) for _, members, _ in raw]
    dist = _distances(nets_of, [min(members) for _, members, _ in raw], sup, inp | m.bias)
    order = sorted(range(len(raw)), key=lambda b: (dist[b], raw[b][1][0]))
    rank = {b: r for r, b in enumerate(order)}

    blocks = tuple(
        Block(
            type=raw[b][0],
            devices=tuple(netlist.devices[i].name for i in raw[b][1]),
            nets=nets_of[b],
            values=(("polarity", float(raw[b][2])),) if raw[b][2] else (),
        )
        for b in order
    )
    on_net: dict[str, list[int]] = {}
    for b in order:
        for n in nets_of[b]:
            if n not in sup:
                on_net.setdefault(n, []).append(rank[b])
    edges = sorted({(i, j) for members in on_net.values() for k, i in enumerate(members) for j in members[k + 1:]})
    return TwoLevelGraph(
        basis="blocks",
        blocks=blocks,
        edges=tuple(edges),
        uncovered=tuple(netlist.devices[i].name for i in uncovered),
    )


def _distances(nets_of: list[tuple[str, ...]], first: list[int], supplies: set[str], seeds: set[str]) -> list[float]:
    """Breadth-first distance of each block from the seed nets over shared non-supply nets; a part
    the seeds do not reach is started from its first block, after everything reached so far."""
    blocks_on: dict[str, list[int]] = {}
    for b, nets in enumerate(nets_of):
        for n in nets:
            if n not in supplies:
                blocks_on.setdefault(n, []).append(b)
    dist: list[float] = [float("inf")] * len(nets_of)
    queue: deque[int] = deque()
    for b, nets in enumerate(nets_of):
        if any(n in seeds for n in nets):
            dist[b] = 0
            queue.append(b)
    far = 0.0 if queue else -1.0
    pending = iter(sorted(range(len(nets_of)), key=lambda b: first[b]))
    while True:
        while queue:
            b = queue.popleft()
            for n in nets_of[b]:
                for c in blocks_on.get(n, ()):
                    if dist[c] == float("inf"):
                        dist[c] = far = dist[b] + 1
                        queue.append(c)
        start = next((b for b in pending if dist[b] == float("inf")), None)
        if start is None:
            return dist
        dist[start] = far = far + 1
        queue.append(start)

