"""The generator's token vocabulary: which token strings exist, their ids, and what each one means.

A sequence is ``<bos> <type:T> W <eos>`` (padded with ``<pad>``), W a walk on the device–net graph
alternating node and edge tokens: device tokens ``{FAMILY}{i}``, net tokens (port names, ``GND`` for
the ground net ``"0"``, internal nets ``N{i}``) and edge tokens ``<pins:d+g>`` naming the pins a
device puts on a net. The vocabulary is a frozen, JSON-serialisable value so that a checkpoint
carries the exact one it was trained with; the walk itself lives in ``ckt.gen.tokens``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import combinations
from typing import Literal

from ckt.data.analoggenie import CLASSES
from ckt.errors import TokenizeError
from ckt.netlist.ir import DeviceKind

TokenKind = Literal["special", "type", "device", "net", "edge"]

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
GND = "GND"
"""The port token of the ground net, which netlists spell ``"0"``."""
GROUND_NET = "0"


@dataclass(frozen=True, slots=True)
class Family:
    """One device family of the vocabulary: its tokens are ``{name}{i}``.

    Attributes:
        name: token prefix (``NM``).
        kind: the IR kind its devices decode to.
        model: the model (or subcircuit) name its devices carry, None for plain R/C/L.
        pins: terminal names in node order; edge tokens are written in this order.
    """

    name: str
    kind: DeviceKind
    model: str | None
    pins: tuple[str, ...]


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("NM", DeviceKind.MOSFET, "nmos4", ("d", "g", "s", "b")),
    Family("PM", DeviceKind.MOSFET, "pmos4", ("d", "g", "s", "b")),
    Family("NPN", DeviceKind.BJT, "npn", ("c", "b", "e", "sub")),
    Family("PNP", DeviceKind.BJT, "pnp", ("c", "b", "e", "sub")),
    Family("R", DeviceKind.RESISTOR, None, ("p", "n")),
    Family("C", DeviceKind.CAPACITOR, None, ("p", "n")),
    Family("L", DeviceKind.INDUCTOR, None, ("p", "n")),
    Family("D", DeviceKind.DIODE, "diode", ("p", "n")),
    Family("TG", DeviceKind.SUBCKT, "TRANSMISSION_GATE", ("1", "2", "3", "4", "5")),
    Family("INV", DeviceKind.SUBCKT, "INVERTER", ("1", "2", "3", "4")),
    Family("XOR", DeviceKind.SUBCKT, "XOR", ("1", "2", "3", "4", "5")),
    Family("PFD", DeviceKind.SUBCKT, "PFD", ("1", "2", "3", "4", "5", "6")),
)}
"""The device families of AnalogGenie (kind/model as its reader gives them; BJTs carry ``sub``)."""

PORTS: tuple[str, ...] = (
    "GND", "IB1", "IB2", "IB3", "IB4", "IB5", "IB6", "IIN1", "IIN2", "IN2", "IOUT1", "IOUT2", "IOUT3", "IOUT4",
    "IREF1", "IREF2", "LOGICA1", "LOGICA2", "LOGICB1", "LOGICB2", "LOGICD1", "LOGICD2", "LOGICF1", "LOGICF2",
    "LOGICG1", "LOGICG2", "LOGICQ1", "LOGICQ2", "LOGICQA1", "LOGICQB1", "VB1", "VB10", "VB2", "VB3", "VB4",
    "VB5", "VB6", "VB7", "VB8", "VB9", "VBB1", "VBB2", "VBB3", "VBB4", "VCKL2", "VCLK1", "VCLK2", "VCLK3",
    "VCLK4", "VCLK5", "VCLK6", "VCLK7", "VCLK8", "VCM1", "VCM2", "VCONT1", "VCONT2", "VCONT3", "VCONT4",
    "VCONT5", "VCONT6", "VDD", "VHOLD1", "VIF1", "VIF2", "VIN1", "VIN10", "VIN2", "VIN3", "VIN4", "VIN5",
    "VIN6", "VIN7", "VIN8", "VIN9", "VLATCH1", "VLATCH2", "VLO1", "VLO2", "VLO3", "VLO4", "VLOGICA1",
    "VLOGICB1", "VOUT1", "VOUT2", "VOUT3", "VOUT4", "VOUT5", "VOUT6", "VREF1", "VREF2", "VRF1", "VRF2", "VSS",
    "VTRACK1", "VTRACK2",
)
"""Port tokens: the sorted union of AnalogGenie's port names (``Port{ID}.txt``) plus ``GND``."""

_INTERNAL = re.compile(r"N([1-9][0-9]*)")


def type_token_name(ckt_type: str) -> str:
    return f"<type:{ckt_type}>"


def edge_token_name(pins: tuple[str, ...]) -> str:
    return f"<pins:{'+'.join(pins)}>"


def pin_subsets(pins: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every nonempty subset of ``pins``, each kept in ``pins`` order (smaller subsets first)."""
    return [sub for k in range(1, len(pins) + 1) for sub in combinations(pins, k)]


@dataclass(frozen=True)
class Vocab:
    """The token vocabulary; build it with ``Vocab.default()`` or ``Vocab.from_dict``.

    Token ids, in order: ``<pad>`` (0), ``<bos>``, ``<eos>``; one type token per class; device tokens
    family by family, index 1..``max_index``; net tokens (ports, then ``N1``..``N{max_nets}``); edge
    tokens (each family's pin subsets, one token per distinct string, first family first).

    Attributes:
        types: circuit classes, one ``<type:T>`` token each.
        families: device families, in token order.
        ports: port names (``GND`` stands for net ``"0"``).
        max_index: device tokens per family.
        max_nets: internal net tokens.
    """

    types: tuple[str, ...]
    families: tuple[Family, ...]
    ports: tuple[str, ...]
    max_index: int = 40
    max_nets: int = 64
    tokens: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)
    kinds: tuple[TokenKind, ...] = field(init=False, repr=False, compare=False)
    _device: dict[int, tuple[str, int]] = field(init=False, repr=False, compare=False)
    _edge_pins: dict[int, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _family_edges: dict[str, dict[tuple[str, ...], int]] = field(init=False, repr=False, compare=False)
    _edge_sets: dict[str, frozenset[int]] = field(init=False, repr=False, compare=False)
    _ports: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._validate()
        tokens: list[str] = [PAD, BOS, EOS]
        kinds: list[TokenKind] = ["special"] * 3
        tokens += [type_token_name(t) for t in self.types]
        kinds += ["type"] * len(self.types)
        device: dict[int, tuple[str, int]] = {}
        for fam in self.families:
            for i in range(1, self.max_index + 1):
                device[len(tokens)] = (fam.name, i)
                tokens.append(f"{fam.name}{i}")
                kinds.append("device")
        nets = [*self.ports, *(f"N{i}" for i in range(1, self.max_nets + 1))]
        tokens += nets
        kinds += ["net"] * len(nets)
        edge_pins: dict[int, tuple[str, ...]] = {}
        by_name: dict[str, int] = {}
        family_edges: dict[str, dict[tuple[str, ...], int]] = {}
        for fam in self.families:
            table = family_edges.setdefault(fam.name, {})
            for sub in pin_subsets(fam.pins):
                name = edge_token_name(sub)
                if name not in by_name:
                    by_name[name] = len(tokens)
                    edge_pins[len(tokens)] = sub
                    tokens.append(name)
                    kinds.append("edge")
                table[sub] = by_name[name]
        ids = {t: i for i, t in enumerate(tokens)}
        if len(ids) != len(tokens):
            raise TokenizeError("vocabulary: two kinds of token share one spelling")
        for name, value in (("tokens", tuple(tokens)), ("_ids", ids), ("kinds", tuple(kinds)),
                            ("_device", device), ("_edge_pins", edge_pins), ("_family_edges", family_edges),
                            ("_edge_sets", {f: frozenset(t.values()) for f, t in family_edges.items()}),
                            ("_ports", frozenset(ids[p] for p in self.ports))):
            object.__setattr__(self, name, value)

    def _validate(self) -> None:
        if self.max_index < 1 or self.max_nets < 1:
            raise TokenizeError(f"vocabulary: max_index ({self.max_index}) and max_nets ({self.max_nets}) must be >= 1")
        names = [f.name for f in self.families]
        if len(set(names)) != len(names) or len({(f.kind, f.model) for f in self.families}) != len(names):
            raise TokenizeError("vocabulary: family names and (kind, model) pairs must be unique")
        for fam in self.families:
            if not re.fullmatch(r"[A-Z]+", fam.name) or not fam.pins or len(set(fam.pins)) != len(fam.pins):
                raise TokenizeError(f"vocabulary: family {fam.name!r} needs an upper-case name and distinct pins")
        if len(set(self.ports)) != len(self.ports) or any(_INTERNAL.fullmatch(p) for p in self.ports):
            raise TokenizeError("vocabulary: port names must be distinct and not spelled like internal nets N{i}")

    @classmethod
    def default(cls, max_index: int = 40, max_nets: int = 64) -> Vocab:
        """AnalogGenie's classes, families and ports."""
        return cls(CLASSES, tuple(FAMILIES.values()), PORTS, max_index, max_nets)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def pad(self) -> int:
        return 0

    @property
    def bos(self) -> int:
        return 1

    @property
    def eos(self) -> int:
        return 2

    def id(self, token: str) -> int:
        """The id of ``token``; raises ``TokenizeError`` for a string that is no token."""
        try:
            return self._ids[token]
        except KeyError:
            raise TokenizeError(f"{token!r} is not a token of this vocabulary") from None

    def token(self, i: int) -> str:
        if i >= 0:
            try:
                return self.tokens[i]
            except IndexError:
                pass
        raise TokenizeError(f"token id {i} is outside the vocabulary (0..{len(self.tokens) - 1})")

    def kind(self, i: int) -> TokenKind:
        self.token(i)
        return self.kinds[i]

    def type_token(self, ckt_type: str) -> int:
        """The id of ``<type:ckt_type>``; raises ``TokenizeError`` for an unknown class."""
        if ckt_type not in self.types:
            raise TokenizeError(f"unknown circuit type {ckt_type!r} (known: {', '.join(self.types)})")
        return self._ids[type_token_name(ckt_type)]

    def type_name(self, i: int) -> str:
        """The class a type token stands for."""
        if self.kind(i) != "type":
            raise TokenizeError(f"{self.tokens[i]} is not a type token")
        return self.tokens[i][len("<type:"):-1]

    def family(self, name: str) -> Family:
        for fam in self.families:
            if fam.name == name:
                return fam
        raise TokenizeError(f"unknown device family {name!r}")

    def device(self, i: int) -> tuple[str, int]:
        """``(family, index)`` of a device token."""
        if self.kind(i) != "device":
            raise TokenizeError(f"{self.tokens[i]} is not a device token")
        return self._device[i]

    def device_token(self, family: str, index: int) -> int:
        if not 1 <= index <= self.max_index:
            raise TokenizeError(f"device index {index} is outside 1..{self.max_index}")
        return self.id(f"{self.family(family).name}{index}")

    def net(self, i: int) -> str:
        """A net token's name: a port name (``GND`` included) or ``N{i}``."""
        if self.kind(i) != "net":
            raise TokenizeError(f"{self.tokens[i]} is not a net token")
        return self.tokens[i]

    def is_port(self, i: int) -> bool:
        self.token(i)
        return i in self._ports

    def internal_token(self, index: int) -> int:
        if not 1 <= index <= self.max_nets:
            raise TokenizeError(f"internal net index {index} is outside 1..{self.max_nets}")
        return self._ids[f"N{index}"]

    def edge_pins(self, i: int) -> tuple[str, ...]:
        """The pins an edge token names, in its family's pin order."""
        if self.kind(i) != "edge":
            raise TokenizeError(f"{self.tokens[i]} is not an edge token")
        return self._edge_pins[i]

    def edge_token(self, family: str, pins: tuple[str, ...] | frozenset[str]) -> int:
        """The edge token for a set of ``family``'s pins (any order given)."""
        fam = self.family(family)
        ordered = tuple(p for p in fam.pins if p in pins)
        if len(ordered) != len(set(pins)) or not ordered:
            raise TokenizeError(f"pins {sorted(pins)} are not a nonempty subset of {fam.name}'s {fam.pins}")
        return self._family_edges[fam.name][ordered]

    # Index tables for the grammar (ids in ascending order).

    def device_ids(self, family: str) -> tuple[int, ...]:
        """Ids of ``family``'s device tokens, index 1 first."""
        return tuple(self.device_token(family, i) for i in range(1, self.max_index + 1))

    def edge_ids(self, family: str) -> tuple[int, ...]:
        """Ids of the edge tokens ``family``'s devices may use."""
        self.family(family)
        return tuple(sorted(set(self._family_edges[family].values())))

    def allows_edge(self, family: str, i: int) -> bool:
        """Whether edge token ``i`` names pins that ``family``'s devices have."""
        return i in self._edge_sets[family]

    @property
    def type_ids(self) -> tuple[int, ...]:
        return tuple(i for i, k in enumerate(self.kinds) if k == "type")

    @property
    def net_ids(self) -> tuple[int, ...]:
        return tuple(i for i, k in enumerate(self.kinds) if k == "net")

    @property
    def port_ids(self) -> tuple[int, ...]:
        return tuple(i for i in self.net_ids if self.is_port(i))

    @property
    def internal_ids(self) -> tuple[int, ...]:
        """Ids of ``N1``..``N{max_nets}``, in index order."""
        return tuple(self.internal_token(i) for i in range(1, self.max_nets + 1))

    def to_dict(self) -> dict:
        """A JSON-ready description (the token list included, so a reader can check it)."""
        return {
            "types": list(self.types),
            "families": [{"name": f.name, "kind": f.kind.name, "model": f.model, "pins": list(f.pins)}
                         for f in self.families],
            "ports": list(self.ports),
            "max_index": self.max_index,
            "max_nets": self.max_nets,
            "tokens": list(self.tokens),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        """The vocabulary ``to_dict`` described; raises ``TokenizeError`` if it is malformed."""
        try:
            vocab = cls(
                types=tuple(d["types"]),
                families=tuple(Family(f["name"], DeviceKind[f["kind"]], f["model"], tuple(f["pins"]))
                               for f in d["families"]),
                ports=tuple(d["ports"]),
                max_index=int(d["max_index"]),
                max_nets=int(d["max_nets"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenizeError(f"not a vocabulary description: {type(exc).__name__}: {exc}") from exc
        if "tokens" in d and list(d["tokens"]) != list(vocab.tokens):
            raise TokenizeError("vocabulary description: its token list differs from the one it builds")
        return vocab
