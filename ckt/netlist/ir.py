"""The typed netlist IR: one immutable representation for every netlist format ckt reads.

Everything is a frozen, slotted dataclass holding tuples, SI floats and ``Expr`` for values that are
still expressions. Source locations ride along for diagnostics but never take part in equality, so
``parse(write(parse(x))) == parse(x)`` compares content only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import Enum

from ckt.errors import NetlistError


@dataclass(frozen=True, slots=True)
class Expr:
    """A value that is an unevaluated parameter expression, e.g. ``Expr("2*wp1")``."""

    text: str

    def __str__(self) -> str:
        return self.text


Value = float | Expr
"""A parameter or element value: an SI float, or an expression evaluated later in its scope."""


@dataclass(frozen=True, slots=True)
class SourceLoc:
    """Where an object was read from; ``file`` is None for text parsed from a string."""

    file: str | None
    line: int

    def __str__(self) -> str:
        return f"{self.file or '<string>'}:{self.line}"


class DeviceKind(str, Enum):
    """What a device is. The value is the SPICE element letter used when writing it back."""

    MOSFET = "M"
    BJT = "Q"
    DIODE = "D"
    JFET = "J"
    MESFET = "Z"
    RESISTOR = "R"
    CAPACITOR = "C"
    INDUCTOR = "L"
    MUTUAL = "K"
    VSOURCE = "V"
    ISOURCE = "I"
    VCVS = "E"
    VCCS = "G"
    CCCS = "F"
    CCVS = "H"
    BEHAVIORAL = "B"
    SWITCH = "S"
    CSWITCH = "W"
    TLINE = "T"
    SUBCKT = "X"
    UNKNOWN = "?"

    @property
    def letter(self) -> str:
        return self.value


TERMINALS: dict[DeviceKind, tuple[str, ...]] = {
    DeviceKind.MOSFET: ("d", "g", "s", "b"),
    DeviceKind.BJT: ("c", "b", "e", "sub"),
    DeviceKind.DIODE: ("p", "n"),
    DeviceKind.JFET: ("d", "g", "s"),
    DeviceKind.MESFET: ("d", "g", "s"),
    DeviceKind.RESISTOR: ("p", "n"),
    DeviceKind.CAPACITOR: ("p", "n"),
    DeviceKind.INDUCTOR: ("p", "n"),
    DeviceKind.MUTUAL: (),
    DeviceKind.VSOURCE: ("p", "n"),
    DeviceKind.ISOURCE: ("p", "n"),
    DeviceKind.VCVS: ("p", "n", "cp", "cn"),
    DeviceKind.VCCS: ("p", "n", "cp", "cn"),
    DeviceKind.CCCS: ("p", "n"),
    DeviceKind.CCVS: ("p", "n"),
    DeviceKind.BEHAVIORAL: ("p", "n"),
    DeviceKind.SWITCH: ("p", "n", "cp", "cn"),
    DeviceKind.CSWITCH: ("p", "n"),
    DeviceKind.TLINE: ("p1", "n1", "p2", "n2"),
}
"""Canonical pin names per kind, in SPICE node order. BJT ``sub`` is optional; ``SUBCKT`` pins come
from the definition's ports and ``UNKNOWN`` pins are positional (``1``, ``2``, ...)."""

LETTER_KIND: dict[str, DeviceKind] = {k.letter: k for k in DeviceKind if k is not DeviceKind.UNKNOWN}


@dataclass(frozen=True, slots=True)
class Device:
    """One circuit element instance.

    Attributes:
        name: instance name as written (SPICE names carry their element letter, ``M1``).
        kind: what the element is.
        terminals: ``(pin, net)`` pairs in node order, e.g. ``(("d", "out"), ("g", "in"), ...)``.
        model: model or subcircuit name (``nmos``, ``opamp``), None for plain R/C/L/sources.
        value: the primary value: resistance, capacitance, inductance, gain, a source's DC value.
        params: ``(name, value)`` keyword parameters in written order (``w``, ``l``, ``m``...),
            names lower-case.
        spec: verbatim remainder that has no numeric meaning to ckt (a source's ``AC 1 SIN(...)``,
            the controlling source of F/H, a B source's expression, mutual inductor names).
        loc: where it was read (not compared).
    """

    name: str
    kind: DeviceKind
    terminals: tuple[tuple[str, str], ...]
    model: str | None = None
    value: Value | None = None
    params: tuple[tuple[str, Value], ...] = ()
    spec: str = ""
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)

    @property
    def nets(self) -> tuple[str, ...]:
        """Nets in node order (a net appears once per pin that touches it)."""
        return tuple(net for _, net in self.terminals)

    @property
    def pins(self) -> tuple[str, ...]:
        return tuple(pin for pin, _ in self.terminals)

    def net(self, pin: str) -> str:
        """The net on ``pin``; raises ``NetlistError`` when the device has no such pin."""
        for p, n in self.terminals:
            if p == pin:
                return n
        raise NetlistError(f"device {self.name} has no pin {pin!r} (pins: {', '.join(self.pins)})")

    def param(self, name: str, default: Value | None = None) -> Value | None:
        name = name.lower()
        for k, v in self.params:
            if k == name:
                return v
        return default

    def with_params(self, **updates: Value) -> Device:
        """A copy with keyword parameters set (added at the end when new)."""
        merged = dict(self.params)
        merged.update({k.lower(): v for k, v in updates.items()})
        return replace(self, params=tuple(merged.items()))


@dataclass(frozen=True, slots=True)
class Param:
    """A ``.param NAME = value`` definition (or a subcircuit default)."""

    name: str
    value: Value
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Model:
    """A ``.model NAME TYPE (params)`` card; ``type`` is lower-case (``nmos``, ``npn``, ``d``...)."""

    name: str
    type: str
    params: tuple[tuple[str, Value], ...] = ()
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Statement:
    """A control or analysis line kept verbatim (``.ac``, ``.tran``, ``.meas``, ``.option``,
    a whole ``.control`` ... ``.endc`` block). ``keyword`` is the lower-case dot word."""

    keyword: str
    text: str
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Include:
    """An ``.include FILE`` or ``.lib FILE SECTION``; ``netlist`` is the parsed content when it was
    resolved (None when the file was not followed); ``file`` is where the reader found it (which
    may be a search-path folder), None when it was not found or not looked for."""

    path: str
    section: str | None = None
    netlist: Netlist | None = field(default=None, compare=False, repr=False)
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)
    file: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Subckt:
    """A ``.subckt NAME ports... [params]`` definition."""

    name: str
    ports: tuple[str, ...]
    devices: tuple[Device, ...] = ()
    params: tuple[Param, ...] = ()
    models: tuple[Model, ...] = ()
    subckts: tuple[Subckt, ...] = ()
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_unique("port", self.ports, self.name)
        _check_unique("device", (d.name for d in self.devices), self.name)

    def __eq__(self, other: object) -> bool:
        """Field by field like the generated ``==``, but walked with a stack: nesting is unbounded."""
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Subckt)
        pairs = [(self, other)]
        while pairs:
            a, b = pairs.pop()
            if a is b:
                continue
            if (a.name, a.ports, a.devices, a.params, a.models, len(a.subckts)) != (
                b.name, b.ports, b.devices, b.params, b.models, len(b.subckts)
            ):
                return False
            pairs.extend(zip(a.subckts, b.subckts))
        return True


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding of a reader or a rule check: ``severity`` is ``error``, ``warning`` or ``info``."""

    severity: str
    message: str
    file: str | None = None
    line: int | None = None
    code: str = ""

    def __str__(self) -> str:
        where = f"{self.file or '<string>'}:{self.line}" if self.line is not None else (self.file or "<string>")
        return f"{where}: {self.severity}: {self.message}"


@dataclass(frozen=True, slots=True)
class Netlist:
    """A whole circuit: top-level devices plus everything they are defined with.

    ``diagnostics`` holds the reader's warnings (not compared); an error-level problem raises
    ``NetlistParseError`` instead of producing a Netlist.
    """

    title: str = ""
    devices: tuple[Device, ...] = ()
    subckts: tuple[Subckt, ...] = ()
    params: tuple[Param, ...] = ()
    models: tuple[Model, ...] = ()
    includes: tuple[Include, ...] = ()
    statements: tuple[Statement, ...] = ()
    globals: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_unique("device", (d.name for d in self.devices), "top level")

    @property
    def nets(self) -> tuple[str, ...]:
        """Top-level nets in first-seen order."""
        return tuple(dict.fromkeys(n for d in self.devices for n in d.nets))

    def device(self, name: str) -> Device:
        for d in self.devices:
            if d.name == name:
                return d
        raise NetlistError(f"no device named {name!r}")

    def subckt(self, name: str) -> Subckt | None:
        """The definition of ``name`` (case-insensitive) here or in any resolved include."""
        key = name.lower()
        for s in self.all_subckts():
            if s.name.lower() == key:
                return s
        return None

    def all_subckts(self) -> Iterator[Subckt]:
        """Subcircuit definitions here, nested ones, and those of resolved includes."""
        stack = list(self.subckts)
        while stack:
            s = stack.pop(0)
            yield s
            stack[:0] = s.subckts
        for inc in self.includes:
            if inc.netlist is not None:
                yield from inc.netlist.all_subckts()

    def all_models(self) -> Iterator[Model]:
        """Model cards here, inside subcircuits and in resolved includes."""
        yield from self.models
        for s in self.all_subckts():
            yield from s.models
        yield from self._included_models()

    def _included_models(self) -> Iterator[Model]:
        """Top-level model cards of resolved includes, at any include depth (subcircuit models
        are already reached through ``all_subckts``)."""
        for inc in self.includes:
            if inc.netlist is not None:
                yield from inc.netlist.models
                yield from inc.netlist._included_models()

    def all_params(self) -> Iterator[Param]:
        """Global parameters from resolved includes first, then this file's (later ones win)."""
        for inc in self.includes:
            if inc.netlist is not None:
                yield from inc.netlist.all_params()
        yield from self.params

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "warning")


def _check_unique(what: str, names, where: str) -> None:
    seen: set[str] = set()
    for n in names:
        key = n.lower()
        if key in seen:
            raise NetlistError(f"duplicate {what} name {n!r} in {where}")
        seen.add(key)
