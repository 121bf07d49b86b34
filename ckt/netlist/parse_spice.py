"""The SPICE deck reader: ngspice, HSPICE, LTspice and KiCad flavours into the ``Netlist`` IR.

Reading happens in three stages that each stream: physical lines are joined into logical lines
(comments stripped, ``+`` continuations joined, ``.control`` blocks kept whole), logical lines are
dispatched into scopes (top level and each ``.subckt``), and at the end subcircuit instances are
bound to their definitions, which may appear later in the file or in an include (hence the deferral).
Every problem becomes a ``Diagnostic``; any error-level one raises ``NetlistParseError`` carrying
them all.

Documented decisions (SPICE dialects disagree, so these are choices):

* Title: in the top-level file the first line is the title unless it starts with ``.`` (a dot
  command such as KiCad's ``.title``) or ``*`` (a comment, as in model-card files); then there is no
  title line and ``.title`` (anywhere) sets it. Included files never have a title line.
* Names fold case, as in ngspice: nets take the spelling first seen in their scope and each new
  spelling is warned about once (``net-case``, at its line); ``0``/``gnd`` are not renamed. Instance
  names differing only in case are duplicates (below). A second ``.subckt`` or ``.model`` of one
  name in one scope (and one ``.lib`` section) is dropped with a warning: ngspice keeps the first.
* Lines starting with ``#`` are other tools' directives (TopSpice ``#AUTOPLOT``, ``#REVISION:``):
  kept verbatim as a ``Statement`` with keyword ``#word``, warned once per word; ngspice rejects
  them, so simulation decks leave them out.
* MOSFET: four nodes, except ngspice's VDMOS: three (``M d g s model``, no bulk) or, with the
  ``thermal`` flag, five (``M d g s tj tc model thermal``). A 3-node line is read as VDMOS without
  checking the model's type.
* BJT: 3 or 4 nodes. The model is the first positional token after three nodes that names a
  ``.model`` known to the file or its includes; without that knowledge a 5th positional token that is
  a number is the area (3 nodes), otherwise it is the model (4 nodes).
* R/C/L: the first token after the nodes is the value unless it names a known ``.model``; a second
  positional token is the model.
* ``A`` (XSPICE), ``N`` (OSDI), ``O`` (lossy line), ``P`` (coupled lines), ``U`` (uniform RC
  line), ``Y`` (TXL): the last positional token before the first ``key=value`` is the model, the
  ones before it are nodes (pins ``1``, ``2``, ...); kind ``UNKNOWN``. ``O``/``U``/``Y`` with other
  than 4/3/4 nodes, and ``P`` with an odd count, are warned about. An XSPICE device's port syntax
  (``[..]`` vectors, ``%v``/``%vd``/``%d``... modifiers, ``~``, ``null``) is kept in ``spec`` as a
  template with ``*`` for each net, which the writer fills back in.
* A name starting with ``_``: every positional token before the first ``key=value`` is a pin, the
  rest is kept in ``spec``; a warning is emitted.
* ``.param`` inside a ``.subckt`` body joins the subcircuit's parameters (after header defaults).
* Instances bind to the definitions visible from their own file: its ``.subckt`` blocks (before
  or after the instance) and those of the files it includes.
* Reading a ``.lib`` file whole (no section requested) reads every section's content in file order.
* Includes (``docs/netlists.md``): ``.lib FILE`` with one argument that is not a bare word
  includes the file (LTspice); an unquoted path is the rest of the line, spaces included; a
  relative path is looked for next to the including file, then on ``include_path`` and
  ``CKT_INCLUDE_PATH``; one found nowhere is a warning; ``.end`` in an included file is ignored.
* Duplicate instance names in one scope are kept; the later one is renamed ``NAME__2`` (``__3``...)
  with a warning naming both lines.
"""

from __future__ import annotations

import gc
import itertools
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from ckt.errors import NetlistParseError
from ckt.netlist.ir import (
    LETTER_KIND,
    TERMINALS,
    Device,
    DeviceKind,
    Diagnostic,
    Expr,
    Include,
    Model,
    Netlist,
    Param,
    SourceLoc,
    Statement,
    Subckt,
    Value,
)
from ckt.netlist.source import check_text, decode_source
from ckt.netlist.units import parse_number

__all__ = ["parse_spice", "read_spice"]

STATEMENT_KEYWORDS = frozenset(
    "ac dc tran op noise tf meas measure save print plot ic nodeset four sens pz disto "
    "option options opt temp func probe width csparam step".split()
)
"""Dot-commands kept verbatim as ``Statement`` without comment."""

_SOURCE_KEYWORDS = frozenset(
    "ac sin pulse pwl exp sffm am trnoise trrandom distof1 distof2 port z0".split()
)
_EG_FORMS = frozenset(("POLY", "VALUE", "TABLE", "LAPLACE", "FREQ", "VOL", "CUR"))


def _eg_form(tok: str) -> bool:
    """Whether an E/G token after two nodes starts a non-linear form (``POLY(2)``, ``VALUE={..}``)."""
    head = tok.upper()
    for sep in "=({":
        head = head.split(sep, 1)[0]
    return head in _EG_FORMS

# Node counts for the fixed-shape elements; BJT, X and unknown letters are handled apart.
_NODES: dict[DeviceKind, int] = {
    DeviceKind.MOSFET: 4,
    DeviceKind.DIODE: 2,
    DeviceKind.JFET: 3,
    DeviceKind.MESFET: 3,
    DeviceKind.RESISTOR: 2,
    DeviceKind.CAPACITOR: 2,
    DeviceKind.INDUCTOR: 2,
    DeviceKind.VSOURCE: 2,
    DeviceKind.ISOURCE: 2,
    DeviceKind.VCVS: 4,
    DeviceKind.VCCS: 4,
    DeviceKind.CCCS: 2,
    DeviceKind.CCVS: 2,
    DeviceKind.BEHAVIORAL: 2,
    DeviceKind.SWITCH: 4,
    DeviceKind.CSWITCH: 2,
    DeviceKind.TLINE: 4,
}
_MOSFET = DeviceKind.MOSFET
_MOS_FLAGS = frozenset(f for w in ("off", "thermal") for f in (w, w.upper(), w.capitalize()))
"""Instance flags that may follow a MOSFET's model; one in the model's place sends the line off the
fast path (a VDMOS ``M1 d g s vdm off`` has no bulk)."""

_TAILS_KEPT = 1 << 16
"""How many distinct MOSFET parameter texts one parse remembers (a bound on memory)."""

_MODEL_LAST = frozenset("ANOPUY")
"""Element letters whose model is the last positional token, every token before it a node: XSPICE
``A``, OSDI ``N``, lossy line ``O``, coupled lines ``P``, uniform RC line ``U``, lossy line ``Y``."""
_FIXED_NODES = {"O": (4, "lossy transmission line"), "U": (3, "uniform RC line"), "Y": (4, "TXL line")}
_XSPICE_PIECE = re.compile(r"[\[\]()~]|[^\s\[\]()~]+")
_NEEDS_MODEL = frozenset(
    {DeviceKind.MOSFET, DeviceKind.DIODE, DeviceKind.JFET, DeviceKind.MESFET, DeviceKind.SWITCH}
)


class _DeviceSlots:
    """``Device``'s slots without its frozen ``__setattr__``: the reader fills them and then makes
    the object a ``Device`` (``__class__`` assignment between classes of one slot layout). The
    frozen dataclass's own constructor sets each field through ``object.__setattr__`` and costs
    four times as much, a tenth of a million-device parse; the result is the same frozen object."""

    __slots__ = Device.__slots__

    def __init__(
        self, name: str, kind: DeviceKind, terminals: tuple[tuple[str, str], ...], model: str | None,
        value: Value | None, params: tuple[tuple[str, Value], ...], spec: str, loc: SourceLoc,
    ) -> None:
        self.name = name
        self.kind = kind
        self.terminals = terminals
        self.model = model
        self.value = value
        self.params = params
        self.spec = spec
        self.loc = loc
        self.__class__ = Device  # type: ignore[assignment]


class _SourceLocSlots:
    """``SourceLoc`` built like ``_DeviceSlots`` (one per device line)."""

    __slots__ = SourceLoc.__slots__

    def __init__(self, file: str | None, line: int) -> None:
        self.file = file
        self.line = line
        self.__class__ = SourceLoc  # type: ignore[assignment]


class _NetlistSlots:
    """``Netlist`` built like ``_DeviceSlots``, without its ``__post_init__`` check of unique device
    names (a tenth of a big parse): the reader makes names unique as it reads (``add_duplicate``)."""

    __slots__ = Netlist.__slots__

    def __init__(
        self, title: str, devices: tuple[Device, ...], subckts: tuple[Subckt, ...], params: tuple[Param, ...],
        models: tuple[Model, ...], includes: tuple[Include, ...], statements: tuple[Statement, ...],
        globals: tuple[str, ...], diagnostics: tuple[Diagnostic, ...] = (),
    ) -> None:
        self.title = title
        self.devices = devices
        self.subckts = subckts
        self.params = params
        self.models = models
        self.includes = includes
        self.statements = statements
        self.globals = globals
        self.diagnostics = diagnostics
        self.__class__ = Netlist  # type: ignore[assignment]


_netlist = cast("Callable[..., Netlist]", _NetlistSlots)
"""``Netlist(**fields)`` of a reader's scope, whose device names are unique by construction."""
_device = cast("Callable[..., Device]", _DeviceSlots)
"""``Device(name, kind, terminals, model, value, params, spec, loc)``, all eight given."""
_loc = cast("Callable[[str | None, int], SourceLoc]", _SourceLocSlots)
"""``SourceLoc(file, line)``."""


class _LineError(Exception):
    """A malformed logical line; turned into an error diagnostic at that line."""


# --------------------------------------------------------------------------------------------
# Stage 1: physical lines -> logical lines


def _strip_inline_comment(line: str) -> str:
    """``line`` without a trailing ``;``, `` $`` or ``//`` comment (quotes are respected)."""
    quote = ""
    prev = " "
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == ";":
            return line[:i]
        elif c == "$" and prev in " \t":
            return line[:i]
        elif c == "/" and line.startswith("//", i):
            return line[:i]
        prev = c
    return line


def _logical_lines(
    text: str, titled: bool
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, logical_line)``; a title line is yielded as ``(1, ".title <text>")``.

    Continuation lines (``+``) are joined with one space; comment lines may sit between them.
    ``.control`` ... ``.endc`` is yielded as one logical line holding the raw block. Continued
    pieces are collected in a list and joined once, so a line continued N times costs O(N), not the
    O(N^2) of growing one string.
    """
    pending: str | None = None
    more: list[str] | None = None  # the pieces of a continued line, pending first
    pending_no = 0
    control: list[str] | None = None
    control_no = 0
    # split("\n"), not splitlines(): form feeds or U+0085 (latin-1 byte 0x85) are not line ends
    # in SPICE and must not shift the line numbers of diagnostics.
    raws = text.split("\n")
    start = 0
    if titled:
        first = raws[0].strip()
        if not first.startswith((".", "*")):
            yield 1, ".title " + first if first else ".title"
            start = 1
    for lineno, raw in enumerate(itertools.islice(raws, start, None), start + 1):
        if control is not None:
            control.append(raw.rstrip())
            if raw.strip().lower().startswith(".endc"):
                yield control_no, "\n".join(control)
                control = None
            continue
        line = raw.strip()
        if not line:
            continue
        c = line[0]  # stays the first character when a comment is cut off below
        if c == "*":
            continue
        if (";" in line or "$" in line or "//" in line) and line[:6].lower() != ".title":
            line = (_strip_include_comment(line) if _INCLUDE_LINE.match(line) else _strip_inline_comment(line)).rstrip()
            if not line:
                continue
        if c == "+":
            if pending is None:
                pending, pending_no = line[1:].strip(), lineno  # orphan '+': read as a line
            else:
                rest = line[1:].strip()
                if rest:
                    if more is None:
                        more = [pending] if pending else []
                    more.append(rest)
            continue
        if more:
            yield pending_no, " ".join(more)
        elif pending:
            yield pending_no, pending
        more = None
        if c == "." and line[1:9].lower() == "control" and (len(line) == 8 or line[8] in " \t"):
            pending = None
            control, control_no = [raw.strip()], lineno
            continue
        pending, pending_no = line, lineno
    if more:
        yield pending_no, " ".join(more)
    elif pending:
        yield pending_no, pending
    if control is not None:
        yield control_no, "\n".join(control)  # missing .endc: reported by the dispatcher


# --------------------------------------------------------------------------------------------
# Tokens and values


def _tokenize(line: str) -> list[str]:
    """Split on whitespace keeping ``{..}``, ``(..)`` and quoted text whole; join ``k = v``."""
    # Plain lines (the vast majority) need only str.split; substring tests are several times
    # cheaper than one regex search here.
    if not (
        "{" in line or "(" in line or "'" in line or '"' in line or "}" in line or ")" in line
        or " =" in line or "= " in line or "\t=" in line or "=\t" in line
    ):
        return line.split()
    if "{" in line or "(" in line or "'" in line or '"' in line:
        toks = _scan(line)
    else:
        if "}" in line or ")" in line:
            raise _LineError("unbalanced ')' or '}'")
        toks = line.split()
    if "=" in line and ("= " in line or " =" in line or "=\t" in line or "\t=" in line):
        toks = _join_equals(toks)
    return toks


def _scan(line: str) -> list[str]:
    toks: list[str] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        start = i
        stack: list[str] = []
        while i < n:
            c = line[i]
            if not stack and c in " \t":
                break
            if c == "{" or c == "(":
                stack.append("}" if c == "{" else ")")
            elif c == "}" or c == ")":
                if not stack or stack.pop() != c:
                    raise _LineError(f"unbalanced {c!r} at column {i + 1}")
            elif c == "'" or c == '"':
                j = line.find(c, i + 1)
                if j < 0:
                    raise _LineError(f"unbalanced quote {c} at column {i + 1}")
                i = j
            i += 1
        if stack:
            raise _LineError(f"unbalanced {'(' if stack[-1] == ')' else '{'} (missing {stack[-1]!r})")
        toks.append(line[start:i])
    return toks


def _join_equals(toks: list[str]) -> list[str]:
    out: list[str] = []
    for t in toks:
        prev = out[-1] if out else ""
        if prev and (prev[0].isalpha() or prev[0] == "_") and (
            (t[0] == "=" and "=" not in prev) or (t[0] != "=" and prev[-1] == "=" and prev.count("=") == 1)
        ):
            out[-1] += t
        else:
            out.append(t)
    return out


def _split_kv(tok: str) -> tuple[str, str] | None:
    """``("w", "1u")`` for ``W=1u``; None when ``tok`` is positional."""
    eq = tok.find("=")
    if eq <= 0 or tok[0] in "{('\"":
        return None
    return tok[:eq].lower(), tok[eq + 1 :]


def to_value(text: str, expression: bool = False) -> Value:
    """A number as a float; ``{expr}``, ``'expr'`` and anything else as ``Expr`` (delimiters stripped).

    ``expression``: read a number as ngspice's expression parser does (``.param`` lines: ``1mil`` is
    ``1m``). A number beyond any float (``1e999``) is an error at its line, not an infinity.
    """
    num = parse_number(text, expression)
    if num is not None:
        if not math.isfinite(num):
            raise _LineError(f"number {text[:40]!r} is out of range (not a finite float)")
        return num
    if len(text) >= 2 and ((text[0] == "{" and text[-1] == "}") or (text[0] == text[-1] and text[0] in "'\"")):
        return Expr(text[1:-1].strip())
    return Expr(text)


def _kv_pair(tok: str, cache: dict[str, tuple[str, Value]]) -> tuple[str, Value] | None:
    """``(name, value)`` for a ``key=value`` token, None when positional; equal tokens share one
    tuple through ``cache`` (a million ``w=1u`` cost one)."""
    pair = cache.get(tok)
    if pair is not None:
        return pair
    kv = _split_kv(tok)
    if kv is None:
        return None
    if not kv[1]:
        raise _LineError(f"parameter {kv[0]!r} has no value")
    pair = (sys.intern(kv[0]), to_value(kv[1]))
    cache[tok] = pair
    return pair


def _xspice_ports(conns: list[str], scope: _Scope) -> tuple[tuple[tuple[str, str], ...], str]:
    """Terminals and port template of an XSPICE ``A`` device's connection tokens.

    Each net becomes a terminal (pins ``1``, ``2``... in order); the template keeps the port shape
    (``[ ]`` vectors, ``( )``, ``%v``-style modifiers, ``~`` inversion, ``null``) with ``*`` where a
    net goes (``~*`` for an inverted one) and ``%vnam``'s source name verbatim. A plain list of nets
    needs no template (empty string)."""
    template: list[str] = []
    terms: list[tuple[str, str]] = []
    verbatim = False
    for piece in (p for tok in conns for p in _XSPICE_PIECE.findall(tok)):
        low = piece.lower()
        if verbatim:
            template.append(piece)
            verbatim = False
        elif piece in ("[", "]", "(", ")", "~") or low == "null":
            template.append(low)
        elif piece[0] == "%":
            template.append(low)
            verbatim = low == "%vnam"
        else:
            terms.append(scope.term(str(len(terms) + 1), piece))
            if template and template[-1] == "~":
                template[-1] = "~*"
            else:
                template.append("*")
    plain = all(t == "*" for t in template)
    return tuple(terms), "" if plain else " ".join(template)


# --------------------------------------------------------------------------------------------
# Scopes and parse state


@dataclass(slots=True)
class _Pending:
    """A device whose reading needs definitions seen later (X instances, BJTs, R/C/L)."""

    name: str
    letter: str
    toks: list[str]
    loc: SourceLoc


_Pairs = dict[str, tuple[str, str]]
"""One pin's ``(pin, net)`` pairs by node token."""


@dataclass
class _Scope:
    name: str | None
    ports: tuple[str, ...] = ()
    loc: SourceLoc | None = None
    items: list = field(default_factory=list)  # Device | _Pending, in file order
    params: list[Param] = field(default_factory=list)
    models: list[Model] = field(default_factory=list)
    subckts: list[_Scope] = field(default_factory=list)
    nets: dict[str, str] = field(default_factory=dict)  # spelling -> canonical net
    folded: dict[str, str] = field(default_factory=dict)  # lower-case name -> canonical net
    merged: list[tuple[str, str]] = field(default_factory=list)  # (spelling, canonical) not yet reported
    names: dict[str, int] = field(default_factory=dict)  # lower name -> line
    model_lines: dict[tuple[str | None, str], int] = field(default_factory=dict)  # (section, lower name) -> line
    section: str | None = None  # the .lib section that holds this definition
    directives: set[str] = field(default_factory=set)  # other tools' '#' words already warned about
    deferred: bool = False  # items holds a _Pending
    pins: dict[str, _Pairs] = field(default_factory=dict)  # pin name -> its pairs
    two: tuple[_Pairs, _Pairs] = field(init=False)  # the pairs of pins p, n (fast paths)
    mos: tuple[_Pairs, _Pairs, _Pairs, _Pairs] = field(init=False)  # d, g, s, b
    bjt: tuple[_Pairs, _Pairs, _Pairs] = field(init=False)  # c, b, e
    cells: dict[str, tuple[tuple[str, _Pairs], ...]] = field(default_factory=dict)  # see _Reader.cell

    def __post_init__(self) -> None:
        self.two = (self.pairs("p"), self.pairs("n"))
        self.mos = (self.pairs("d"), self.pairs("g"), self.pairs("s"), self.pairs("b"))
        self.bjt = (self.pairs("c"), self.pairs("b"), self.pairs("e"))

    def pairs(self, pin: str) -> _Pairs:
        """The pair cache of ``pin``: one shared ``(pin, net)`` tuple per distinct pair (memory)."""
        cache = self.pins.get(pin)
        if cache is None:
            cache = self.pins[pin] = {}
        return cache

    def term_into(self, cache: _Pairs, pin: str, tok: str) -> tuple[str, str]:
        """Fill ``pin``'s pair cache (node token -> shared pair) on a miss; for the fast paths."""
        p = cache[tok] = (pin, self.net(tok))
        return p

    def term(self, pin: str, tok: str) -> tuple[str, str]:
        """The ``(pin, net)`` pair for a node token."""
        cache = self.pins.get(pin)
        if cache is None:
            cache = self.pairs(pin)
        p = cache.get(tok)
        if p is None:
            p = cache[tok] = (pin, self.net(tok))
        return p

    def net(self, tok: str) -> str:
        """The canonical net for ``tok``: SPICE folds case, so the first spelling seen wins; a new
        spelling of a known net is queued in ``merged`` for the reader to warn about (once)."""
        c = self.nets.get(tok)
        if c is None:
            low = tok.lower()
            c = self.folded.get(low)
            if c is None:
                c = self.folded[low] = sys.intern(tok)
            else:
                self.merged.append((tok, c))
            self.nets[tok] = c
        return c


class _Reader:
    """Parses one file (or one ``.lib`` section of it) into a Netlist, following includes."""

    fast_paths = True
    """Read the common element shapes directly (``element``); off, every line takes the general
    path, which the tests use as the reference the fast paths must equal."""

    def __init__(
        self, ctx: _Context, file: str | None, chain: tuple[tuple[str, str | None], ...], included: bool = False
    ) -> None:
        self.ctx = ctx
        self.file = file
        self.chain = chain
        self.included = included
        self.diags = ctx.diags
        self.top = _Scope(None)
        self.stack: list[_Scope] = [self.top]
        self.title = ""
        self.includes: list[Include] = []
        self.statements: list[Statement] = []
        self.globals: list[str] = []
        self.subckt_ports: dict[str, tuple[str, ...]] = {}
        self.model_names: set[str] = set()
        self.lib_section: str | None = None  # the .lib section being read: each may define the same names

    # -- diagnostics
    def diag(self, severity: str, line: int | None, message: str, code: str) -> None:
        self.diags.append(Diagnostic(severity, message, self.file, line, code))

    # -- driver
    def read(self, lines: Iterator[tuple[int, str]], section: str | None) -> Netlist:
        """Read ``lines`` (only ``section`` of a ``.lib`` file when given) into a Netlist."""
        self.consume(lines, section)
        return self.finish()

    def consume(self, lines: Iterator[tuple[int, str]], section: str | None) -> None:
        in_section: str | None = None
        opened = 0
        found = section is None
        element = self.element
        for lineno, line in lines:
            if line[0] != ".":
                if section is None or in_section == section:
                    try:
                        element(lineno, line)
                    except _LineError as exc:
                        self.diag("error", lineno, str(exc), "syntax")
                continue
            low = line.lower()
            word = low.split(None, 1)[0]
            if word == ".end":
                if self.included:
                    continue  # ngspice reads on: .end only ends the top-level deck
                break
            name = _lib_section(line) if word == ".lib" else None
            if name is not None:
                if in_section is not None:
                    self.diag("error", lineno, f".lib {name} opened inside section {in_section}", "lib-nested")
                in_section = self.lib_section = name
                opened = lineno
                found = found or name == section
                continue
            if word == ".endl":
                if in_section is None:
                    self.diag("error", lineno, ".endl without .lib section", "endl-unmatched")
                in_section = self.lib_section = None
                continue
            if section is not None and in_section != section:
                continue
            try:
                self.dot(lineno, line)
            except _LineError as exc:
                self.diag("error", lineno, str(exc), "syntax")
        if section is not None and not found:
            raise _SectionMissing(section)
        if in_section is not None and section is None:
            self.diag("error", opened, f"missing .endl for .lib section {in_section}", "endl-missing")
        while len(self.stack) > 1:
            s = self.stack.pop()
            self.diag("error", s.loc.line if s.loc else None, f"missing .ends for .subckt {s.name}", "ends-missing")
            self.close(s)

    # -- dot commands
    def dot(self, lineno: int, line: str) -> None:
        parts = line.split(None, 1)
        word = parts[0][1:].lower()
        rest = parts[1].strip() if len(parts) > 1 else ""
        loc = _loc(self.file, lineno)
        scope = self.stack[-1]
        if word == "subckt":
            self.open_subckt(lineno, rest, loc)
        elif word == "ends":
            if len(self.stack) == 1:
                self.diag("error", lineno, ".ends without .subckt", "ends-unmatched")
                return
            s = self.stack.pop()
            if rest and rest.split()[0].lower() != (s.name or "").lower():
                self.diag("warning", lineno, f".ends {rest.split()[0]} closes .subckt {s.name}", "ends-name")
            self.close(s)
        elif word == "param":
            for tok in _tokenize(rest):
                kv = _split_kv(tok)
                if kv is None or not kv[1]:
                    raise _LineError(f".param expects name=value, got {tok!r}")
                scope.params.append(Param(kv[0], to_value(kv[1], expression=True), loc))
        elif word == "model":
            self.model(lineno, rest, loc)
        elif word == "global":
            for tok in rest.split():
                if tok.lower() not in (g.lower() for g in self.globals):
                    self.globals.append(tok)
        elif word in ("include", "inc", "lib"):
            self.include(lineno, word, rest, loc)
        elif word == "title":
            self.title = rest
        elif word == "control":
            if not line.rsplit("\n", 1)[-1].strip().lower().startswith(".endc"):
                self.diag("error", lineno, ".control without .endc", "endc-missing")
            self.statements.append(Statement("control", line, loc))
        elif word == "endc":
            self.diag("error", lineno, ".endc without .control", "endc-unmatched")
        elif word in STATEMENT_KEYWORDS:
            self.statements.append(Statement(word, line, loc))
        else:
            self.diag("warning", lineno, f"unknown dot-command .{word} kept verbatim", "unknown-dot")
            self.statements.append(Statement(word, line, loc))

    def open_subckt(self, lineno: int, rest: str, loc: SourceLoc) -> None:
        toks = _tokenize(rest)
        if not toks:
            raise _LineError(".subckt without a name")
        name = toks[0]
        sub = _Scope(name, loc=loc, section=self.lib_section)
        ports: list[str] = []
        in_params = False
        for tok in toks[1:]:
            if tok.lower() == "params:":
                in_params = True
                continue
            kv = _split_kv(tok)
            if kv is None:
                if in_params or sub.params:
                    self.diag("error", lineno, f"port {tok!r} after parameters in .subckt {name}", "subckt-port")
                    continue
                ports.append(sub.net(tok))
            elif not kv[1]:
                self.diag("error", lineno, f"parameter {kv[0]!r} has no value", "syntax")
            else:
                sub.params.append(Param(kv[0], to_value(kv[1], expression=True), loc))
        unique = tuple(dict.fromkeys(ports))  # nets are canonical, so repeats are identical strings
        if len(unique) != len(ports):
            self.diag("error", lineno, f"duplicate port in .subckt {name}", "subckt-port")
        sub.ports = unique
        self.subckt_ports.setdefault(name.lower(), sub.ports)
        self.stack.append(sub)

    def close(self, s: _Scope) -> None:
        """Attach a finished ``.subckt`` to its parent; it is built in ``finish`` once every
        definition (including later ones) is known. A second definition of a name (case folded) in
        the same scope is dropped with a warning: ngspice keeps the first ("redefinition of .subckt,
        ignored") and instances bind to it. Different ``.lib`` sections (corners) of a library read
        whole may each define the name."""
        parent = self.stack[-1]
        key = (s.name or "").lower()
        for other in parent.subckts:
            if (other.name or "").lower() == key and other.section == s.section:
                first = other.loc.line if other.loc else None
                self.diag("warning", s.loc.line if s.loc else None,
                          f"redefinition of .subckt {s.name} ignored (first defined at line {first}), as ngspice does",
                          "subckt-redefined")
                return
        parent.subckts.append(s)

    def build(self, s: _Scope) -> Subckt:
        """The ``Subckt`` for a closed scope and everything nested in it. Iterative (children are
        built before their parent, in file order), so 10,000 nested definitions need no deeper
        Python stack than one."""
        order: list[_Scope] = []  # depth-first, parents before children, in file order
        todo = [s]
        while todo:
            scope = todo.pop()
            order.append(scope)
            todo.extend(reversed(scope.subckts))
        devices = {id(scope): self.resolve(scope) for scope in order}  # diagnostics in file order
        built: dict[int, Subckt] = {}
        for scope in reversed(order):
            built[id(scope)] = Subckt(
                scope.name or "",
                scope.ports,
                devices[id(scope)],
                tuple(scope.params),
                tuple(scope.models),
                tuple(built.pop(id(c)) for c in scope.subckts),
                scope.loc,
            )
        return built[id(s)]

    def model(self, lineno: int, rest: str, loc: SourceLoc) -> None:
        parts = rest.split(None, 1)
        if not parts:
            raise _LineError(".model without a name")
        name = parts[0]
        body = parts[1] if len(parts) > 1 else ""
        cut = 0
        while cut < len(body) and (body[cut].isalnum() or body[cut] in "_"):
            cut += 1
        mtype, body = body[:cut].lower(), body[cut:].strip()
        if not mtype:
            raise _LineError(f".model {name} without a type")
        if body.startswith("(") and body.endswith(")"):
            body = body[1:-1]
        params: list[tuple[str, Value]] = []
        for tok in _tokenize(body):
            kv = _split_kv(tok)
            if kv is None or not kv[1]:
                if tok in ("(", ")"):
                    continue
                self.diag("warning", lineno, f".model {name}: token {tok!r} is not name=value; ignored", "model-token")
                continue
            params.append((sys.intern(kv[0]), to_value(kv[1])))
        scope = self.stack[-1]
        key = name.lower()
        first = scope.model_lines.get((self.lib_section, key))
        if first is not None:
            self.diag("warning", lineno, f".model {name} defined again (first at line {first}); the first card is "
                      "kept, as ngspice does", "model-redefined")
            return
        scope.model_lines[(self.lib_section, key)] = lineno
        scope.models.append(Model(name, mtype, tuple(params), loc))
        self.model_names.add(key)

    def include(self, lineno: int, word: str, rest: str, loc: SourceLoc) -> None:
        path, section, extra = _include_target(word, rest)
        first, _, after = path.partition(" ")
        if (
            after
            and rest.lstrip()[:1] not in "'\""
            and self.ctx.locate(self, path) is None
            and self.ctx.locate(self, first)
        ):
            path, extra = first, " ".join([after.strip(), extra]).strip()  # ngspice's reading: the first word
        if extra:
            self.diag("warning", lineno, f"extra text after .{word} file ignored: {extra}", "include-extra")
        if len(self.stack) > 1:
            self.diag(
                "warning", lineno, f".{word} inside .subckt {self.stack[-1].name} is read at top level", "include-scope"
            )
        found, sub = self.ctx.follow(self, path, section, lineno)
        if sub is not None:
            self.subckt_ports.update({k: v for k, v in sub.subckt_ports.items() if k not in self.subckt_ports})
            self.model_names |= sub.model_names
        netlist = sub.netlist if sub is not None else None
        self.includes.append(Include(path, section, netlist, loc, str(found) if found is not None else None))

    # -- elements
    def element(self, lineno: int, line: str) -> None:
        """Read one element line. The shapes that fill big decks (plain R/C/L with a number, MOSFET,
        diode, BJT with three nodes, instance of a subcircuit defined above) are read here directly;
        these fast paths give exactly what ``element_general`` gives and leave it every other line."""
        if line[0] == "#":
            self.directive(lineno, line)
            return
        fast = self.fast_paths
        tail: str | None = None
        if not fast or (
            "(" in line or "{" in line or "'" in line or '"' in line or ")" in line or "}" in line
            or "=" in line and (" =" in line or "= " in line or "\t=" in line or "=\t" in line)
        ):
            toks = _tokenize(line)
        elif line[0] == "M" or line[0] == "m":
            toks = line.split(None, 6)  # what follows the model stays one string (see mosfet)
            if len(toks) == 7:
                tail = toks.pop()
        else:
            toks = line.split()  # what _tokenize gives a plain line, without the call
        name = toks[0]
        letter = name[0].upper()
        if "=" in name or not (letter.isalpha() or letter == "_"):
            raise _LineError(f"not an element line (name {name!r})")
        loc = _loc(self.file, lineno)
        scope = self.stack[-1]
        item: Device | _Pending | None = None
        n = len(toks)
        if not fast:
            pass  # the reference: element_general below reads every line
        elif letter == "M":
            item = self.mosfet(toks, tail, loc, scope)
        elif letter == "R" or letter == "C" or letter == "L":
            if n == 4 and "=" not in toks[1] and "=" not in toks[2]:
                num = parse_number(toks[3])
                if num is not None and math.isfinite(num):  # a number cannot be a model name
                    p, m = scope.two
                    tp = p.get(toks[1]) or scope.term_into(p, "p", toks[1])
                    tn = m.get(toks[2]) or scope.term_into(m, "n", toks[2])
                    item = _device(name, LETTER_KIND[letter], (tp, tn), None, num, (), "", loc)
        elif letter == "X":
            if "=" not in line and ":" not in line:  # no parameters, no params: keyword
                cell = scope.cells.get(toks[-1]) or self.cell(scope, toks[-1])
                if cell is not None and len(cell) == n - 2:  # defined above: the first definition is final
                    terms: tuple[tuple[str, str], ...]
                    if n == 4:
                        (p0, c0), (p1, c1) = cell
                        terms = (c0.get(toks[1]) or scope.term_into(c0, p0, toks[1]),
                                 c1.get(toks[2]) or scope.term_into(c1, p1, toks[2]))
                    else:
                        terms = tuple([c.get(t) or scope.term_into(c, p, t) for (p, c), t in zip(cell, toks[1:-1])])
                    item = _device(name, DeviceKind.SUBCKT, terms, toks[-1], None, (), "", loc)
        elif letter == "Q":
            if n == 5 and "=" not in line and ":" not in line:  # three nodes and a model, nothing after
                c, b, e = scope.bjt
                tc = c.get(toks[1]) or scope.term_into(c, "c", toks[1])
                tb = b.get(toks[2]) or scope.term_into(b, "b", toks[2])
                te = e.get(toks[3]) or scope.term_into(e, "e", toks[3])
                item = _device(name, DeviceKind.BJT, (tc, tb, te), toks[4], None, (), "", loc)
        elif letter == "D":
            if n == 4 and "=" not in toks[3]:
                p, m = scope.two
                tp = p.get(toks[1]) or scope.term_into(p, "p", toks[1])
                tn = m.get(toks[2]) or scope.term_into(m, "n", toks[2])
                item = _device(name, DeviceKind.DIODE, (tp, tn), toks[3], None, (), "", loc)
        if item is None:
            item = self.element_general(letter, toks, loc, scope, line)
            if item.__class__ is _Pending:
                scope.deferred = True
        names = scope.names
        count = len(names)
        names.setdefault(name.lower(), lineno)
        if len(names) > count:
            scope.items.append(item)
        else:
            self.add_duplicate(item, lineno)
        if scope.merged:
            self.report_merges(scope, lineno)

    def cell(self, scope: _Scope, sub: str) -> tuple[tuple[str, _Pairs], ...] | None:
        """The ports of subcircuit ``sub`` (as spelt) with their pair caches in ``scope``, None while
        it is not defined; remembered once found, as the first definition of a name is final."""
        ports = self.ctx.lookup_subckt(self, sub)
        if ports is None:
            return None
        cell = scope.cells[sub] = tuple((pin, scope.pairs(pin)) for pin in ports)
        return cell

    def element_general(
        self, letter: str, toks: list[str], loc: SourceLoc, scope: _Scope, line: str
    ) -> Device | _Pending:
        """Any element line: devices whose reading needs definitions seen later stay ``_Pending``."""
        if letter == "M":
            return self.mosfet_general(toks, loc)
        num = parse_number(toks[3]) if letter in "RCL" and len(toks) > 3 else None
        if num is not None and math.isfinite(num):
            return self.pending(_Pending(toks[0], letter, toks, loc), scope)  # nothing to wait for
        if letter in _MODEL_LAST:
            return self.model_last(letter, toks, loc, scope)
        if (letter == "X" and "=" not in line and toks[-1].lower() in self.subckt_ports
                or letter == "Q" and len(toks) == 5 and "=" not in line):
            # decided already: a subcircuit defined above (the first definition is final), or
            # a BJT with three nodes and a model and nothing after it
            return self.pending(_Pending(toks[0], letter, toks, loc), scope)
        if letter in "XQRCL" or letter not in LETTER_KIND:
            self.touch_nets(letter, toks, scope)
            return _Pending(toks[0], letter, toks, loc)
        return self.device(LETTER_KIND[letter], toks, loc, scope)

    def report_merges(self, scope: _Scope, line: int) -> None:
        """Warn once per new spelling of a known net (SPICE folds case: ``Out`` and ``OUT`` are one)."""
        for tok, canon in scope.merged:
            self.diag("warning", line, f"net {tok!r} is net {canon!r}: SPICE names are case-insensitive, "
                      "the first spelling is kept", "net-case")
        scope.merged.clear()

    def directive(self, lineno: int, line: str) -> None:
        """Another tool's directive (TopSpice ``#AUTOPLOT``, ``#REVISION:``...), which ngspice rejects:
        kept verbatim as a ``Statement`` (keyword ``#word``) for the writer; warned once per word."""
        word = line.split(None, 1)[0].lower().rstrip(":")
        self.statements.append(Statement(word, line, _loc(self.file, lineno)))
        seen = self.stack[0].directives
        if word not in seen:
            seen.add(word)
            self.diag("warning", lineno, f"{line.split(None, 1)[0]} is another tool's directive; kept verbatim "
                      "(ngspice does not read it)", "tool-directive")

    def split_fields(self, toks: list[str]) -> tuple[list[str], list[tuple[str, Value]], list[str]]:
        """``(positional tokens, name=value pairs, bare words after the first pair)`` of an element."""
        pos: list[str] = []
        params: list[tuple[str, Value]] = []
        extra: list[str] = []
        for tok in toks[1:]:
            pair = _kv_pair(tok, self.ctx.kv) if "=" in tok else None
            if pair is not None:
                params.append(pair)
            elif params:
                extra.append(tok)
            else:
                pos.append(tok)
        return pos, params, extra

    def model_last(self, letter: str, toks: list[str], loc: SourceLoc, scope: _Scope) -> Device:
        """An element whose nodes are every positional token before its model (``A N O P U Y``);
        kind ``UNKNOWN`` with pins ``1``, ``2``..., as ckt does not model them. XSPICE ``A`` port
        syntax (``[..]`` vectors, ``%v``-style modifiers, ``~``, ``null``) is kept in ``spec``."""
        name = toks[0]
        pos, params, extra = self.split_fields(toks)
        if len(pos) < 2:
            raise _LineError(f"{name}: needs nodes and a model name")
        model, conns = pos[-1], pos[:-1]
        if letter == "A":
            if extra:
                raise _LineError(f"{name}: {extra[0]!r} after the parameters")
            terms, spec = _xspice_ports(conns, scope)
            return _device(name, DeviceKind.UNKNOWN, terms, model, None, tuple(params), spec, loc)
        fixed = _FIXED_NODES.get(letter)
        if fixed is not None and len(conns) != fixed[0]:
            self.diag("warning", loc.line, f"{name}: a {fixed[1]} has {fixed[0]} nodes, not {len(conns)}", "node-count")
        elif letter == "P" and (len(conns) < 4 or len(conns) % 2):
            self.diag("warning", loc.line, f"{name}: coupled lines need 2 x (lines + 1) nodes, not {len(conns)}",
                      "node-count")
        terms = tuple(scope.term(str(i + 1), n) for i, n in enumerate(conns))
        return _device(name, DeviceKind.UNKNOWN, terms, model, None, tuple(params), " ".join(extra), loc)

    def touch_nets(self, letter: str, toks: list[str], scope: _Scope) -> None:
        """Register a deferred device's certain node tokens now, so net spellings are canonical in
        file order (binding happens later but must not change which spelling was seen first)."""
        pos: list[str] = []
        for t in toks[1:]:
            if "=" in t and _split_kv(t) is not None or t[-1] == ":" and t.lower() == "params:":
                break
            pos.append(t)
        n = len(pos) - 1 if letter == "X" else 3 if letter == "Q" else 2 if letter in "RCL" else len(pos)
        for t in pos[:n]:
            scope.net(t)

    def add_duplicate(self, item: Device | _Pending, lineno: int) -> None:
        """Keep a device whose name (case folded) is taken in its scope, renamed ``NAME__2``
        (``__3``...), with a warning naming both lines."""
        scope = self.stack[-1]
        key = item.name.lower()
        first = scope.names[key]
        n = 2
        while f"{key}__{n}" in scope.names:
            n += 1
        new = f"{item.name}__{n}"
        where = f"{self.file or '<string>'}"
        self.diag(
            "warning", lineno,
            f"duplicate instance name {item.name} (first at {where}:{first}); renamed {new}", "duplicate-name",
        )
        if isinstance(item, _Pending):
            item.name = new
        else:
            item = _device(new, item.kind, item.terminals, item.model, item.value, item.params, item.spec, item.loc)
        scope.names[new.lower()] = lineno
        scope.items.append(item)

    def mosfet(self, toks: list[str], tail: str | None, loc: SourceLoc, scope: _Scope) -> Device:
        """The common case, kept lean: a million-MOSFET deck spends most of its time here. On a
        plain line what follows the model comes as one string, ``tail``, read once per distinct
        text (decks repeat ``W=1u L=180n`` many times); ``toks`` holds the tokens before it."""
        if (
            len(toks) < 6 or toks[5] in _MOS_FLAGS
            or "=" in toks[1] or "=" in toks[2] or "=" in toks[3] or "=" in toks[4] or "=" in toks[5]
        ):
            return self.mosfet_general(toks + tail.split() if tail else toks, loc)
        params: tuple[tuple[str, Value], ...] = ()
        spec = ""
        if tail is not None:
            after = self.ctx.tails.get(tail)
            if after is None:
                after = self.mosfet_after(tail.split())
                if len(self.ctx.tails) < _TAILS_KEPT:
                    self.ctx.tails[tail] = after
            params, spec, thermal = after
            if thermal:
                return self.mosfet_general(toks + tail.split(), loc)
        elif len(toks) > 6:
            params, spec, thermal = self.mosfet_after(toks[6:])
            if thermal:
                return self.mosfet_general(toks, loc)
        d, g, src, b = scope.mos  # nets are registered only once the line is known to be good
        td = d.get(toks[1]) or scope.term_into(d, "d", toks[1])
        tg = g.get(toks[2]) or scope.term_into(g, "g", toks[2])
        ts = src.get(toks[3]) or scope.term_into(src, "s", toks[3])
        tb = b.get(toks[4]) or scope.term_into(b, "b", toks[4])
        return _device(toks[0], _MOSFET, (td, tg, ts, tb), toks[5], None, params, spec, loc)

    def mosfet_after(self, toks: list[str]) -> tuple[tuple[tuple[str, Value], ...], str, bool]:
        """``(parameters, spec, thermal)`` of the tokens after a MOSFET's model; with the
        ``thermal`` flag the line is a VDMOS for ``mosfet_general``."""
        pairs: list[tuple[str, Value]] = []
        extra: list[str] = []
        cache = self.ctx.kv
        for tok in toks:
            pair = cache.get(tok)
            if pair is None:
                pair = _kv_pair(tok, cache)
                if pair is None:
                    extra.append(tok)
                    continue
            pairs.append(pair)
        return tuple(pairs), " ".join(extra), any(t.lower() == "thermal" for t in extra)

    def mosfet_general(self, toks: list[str], loc: SourceLoc) -> Device:
        """A MOSFET off the fast path. ngspice's VDMOS reads ``M d g s model`` (no bulk) and, with the
        ``thermal`` flag, ``M d g s tj tc model thermal``; other MOSFETs take four nodes. Flags
        (``off``, ``thermal``) after the model go to ``spec``."""
        name = toks[0]
        pos, params, extra = self.split_fields(toks)
        flags: list[str] = []
        while len(pos) > 4 and pos[-1].lower() in ("off", "thermal"):
            flags.insert(0, pos.pop())
        thermal = any(t.lower() == "thermal" for t in flags + extra)
        n = 5 if thermal else 3 if len(pos) == 4 else 4
        if len(pos) < 4:  # not even three nodes and a model
            raise _LineError(f"{name}: too few nodes ({len(pos)} of 4)")
        if len(pos) < n + 1:
            raise _LineError(f"{name}: missing model name")
        pins = ("d", "g", "s", "tj", "tc") if thermal else TERMINALS[_MOSFET][:n]
        scope = self.stack[-1]
        terms = tuple(scope.term(pins[i], pos[i]) for i in range(n))
        rest = pos[n + 1 :] + flags + extra
        return _device(name, _MOSFET, terms, pos[n], None, tuple(params), " ".join(rest), loc)

    def device(self, kind: DeviceKind, toks: list[str], loc: SourceLoc, scope: _Scope) -> Device:
        """Read a fixed-shape element (everything except X, Q, R/C/L and unknown letters)."""
        name = toks[0]
        if kind is DeviceKind.MUTUAL:
            pos = [t for t in toks[1:] if _split_kv(t) is None]
            if len(pos) < 3:
                raise _LineError(f"{name}: mutual inductor needs two inductors and a coupling")
            return _device(name, kind, (), None, to_value(pos[-1]), (), " ".join(pos[:-1]), loc)
        nodes = _NODES[kind]
        if kind in (DeviceKind.VCVS, DeviceKind.VCCS) and len(toks) > 3 and _eg_form(toks[3]):
            nodes = 2
        if len(toks) < nodes + 1:
            raise _LineError(f"{name}: too few nodes ({len(toks) - 1} of {nodes})")
        pins = TERMINALS[kind]
        terminals = tuple(scope.term(pins[i], toks[i + 1]) for i in range(nodes))
        rest = toks[nodes + 1 :]
        model: str | None = None
        value: Value | None = None
        spec = ""
        params: list[tuple[str, Value]] = []
        if kind in (DeviceKind.VSOURCE, DeviceKind.ISOURCE):
            if rest and rest[0].lower() == "dc":
                if len(rest) < 2:
                    raise _LineError(f"{name}: DC without a value")
                value, rest = to_value(rest[1]), rest[2:]
            elif rest and _split_kv(rest[0]) is None and rest[0].split("(")[0].lower() not in _SOURCE_KEYWORDS:
                value, rest = to_value(rest[0]), rest[1:]
            return _device(name, kind, terminals, None, value, (), " ".join(rest), loc)
        if kind is DeviceKind.BEHAVIORAL or nodes == 2 and kind in (DeviceKind.VCVS, DeviceKind.VCCS):
            return _device(name, kind, terminals, None, None, (), " ".join(rest), loc)
        if kind in (DeviceKind.CCCS, DeviceKind.CCVS):
            if not rest:
                raise _LineError(f"{name}: missing controlling source")
            if rest[0].upper().startswith("POLY"):
                return _device(name, kind, terminals, None, None, (), " ".join(rest), loc)
            spec, rest = rest[0], rest[1:]
            if rest and _split_kv(rest[0]) is None:
                value, rest = to_value(rest[0]), rest[1:]
        elif kind is DeviceKind.CSWITCH:
            if len(rest) < 2:
                raise _LineError(f"{name}: current switch needs a controlling source and a model")
            spec, model, rest = rest[0], rest[1], rest[2:]
        elif kind in _NEEDS_MODEL:
            if not rest or _split_kv(rest[0]) is not None:
                raise _LineError(f"{name}: missing model name")
            model, rest = rest[0], rest[1:]
            if (
                rest
                and kind is not DeviceKind.SWITCH
                and _split_kv(rest[0]) is None
                and parse_number(rest[0]) is not None
            ):
                value, rest = to_value(rest[0]), rest[1:]
        elif kind is DeviceKind.TLINE:
            if rest and _split_kv(rest[0]) is None:
                model, rest = rest[0], rest[1:]
        else:  # VCVS / VCCS linear gain
            if rest and _split_kv(rest[0]) is None:
                value, rest = to_value(rest[0]), rest[1:]
        extra: list[str] = []
        for tok in rest:
            pair = _kv_pair(tok, self.ctx.kv)
            if pair is None:
                extra.append(tok)
            else:
                params.append(pair)
        if extra:
            spec = " ".join([spec, *extra]) if spec else " ".join(extra)
        return _device(name, kind, terminals, model, value, tuple(params), spec, loc)

    def resolve(self, scope: _Scope) -> tuple[Device, ...]:
        """Turn the scope's pending records into Devices now that definitions are known."""
        if not scope.deferred:
            done = tuple(scope.items)
            scope.items = []
            return done
        out: list[Device] = []
        for item in scope.items:
            if isinstance(item, _Pending):
                line = item.loc.line
                try:
                    item = self.pending(item, scope)
                except _LineError as exc:
                    self.diag("error", line, str(exc), "syntax")
                    continue
                if scope.merged:
                    self.report_merges(scope, line)
            out.append(item)
        scope.items = []
        return tuple(out)

    def pending(self, p: _Pending, scope: _Scope) -> Device:
        toks = p.toks
        name = p.name
        pos: list[str] = []
        params: list[tuple[str, Value]] = []
        extra: list[str] = []
        cache = self.ctx.kv
        for tok in toks[1:]:
            if "=" in tok:
                pair = cache.get(tok) or _kv_pair(tok, cache)
                if pair is not None:
                    params.append(pair)
                    continue
            elif tok[-1] == ":" and tok.lower() == "params:":
                continue
            if params:
                extra.append(tok)
            else:
                pos.append(tok)
        line = p.loc.line
        if p.letter == "X":
            if len(pos) < 1:
                raise _LineError(f"{name}: subcircuit instance without a subcircuit name")
            sub, nets = pos[-1], pos[:-1]
            ports = self.ctx.lookup_subckt(self, sub)
            if ports is None:
                self.diag(
                    "info", line, f"{name}: definition of subcircuit {sub} not found; pins numbered", "subckt-unknown"
                )
                ports = tuple(str(i + 1) for i in range(len(nets)))
            elif len(ports) != len(nets):
                raise _LineError(f"{name}: {len(nets)} nodes but subcircuit {sub} has {len(ports)} ports")
            terms = tuple(scope.term(pin, n) for pin, n in zip(ports, nets))
            return _device(name, DeviceKind.SUBCKT, terms, sub, None, tuple(params), " ".join(extra), p.loc)
        if p.letter == "Q":
            if len(pos) < 4:
                raise _LineError(f"{name}: too few nodes for a BJT (need 3 or 4 and a model)")
            if self.ctx.is_model(self, pos[3]):
                n = 3
            elif len(pos) >= 5 and self.ctx.is_model(self, pos[4]):
                n = 4
            elif len(pos) >= 5 and parse_number(pos[4]) is None:
                n = 4
            else:
                n = 3
            pins = TERMINALS[DeviceKind.BJT]
            terms = tuple(scope.term(pins[i], pos[i]) for i in range(n))
            rest = pos[n + 1 :]
            area = to_value(rest[0]) if rest else None
            spec = " ".join(rest[1:] + extra)
            return _device(name, DeviceKind.BJT, terms, pos[n], area, tuple(params), spec, p.loc)
        if p.letter in "RCL":
            kind = LETTER_KIND[p.letter]
            if len(pos) < 2:
                raise _LineError(f"{name}: too few nodes ({len(pos)} of 2)")
            terms = (scope.term("p", pos[0]), scope.term("n", pos[1]))
            rest = pos[2:]
            value: Value | None = None
            model: str | None = None
            if rest and self.ctx.is_model(self, rest[0]) and parse_number(rest[0]) is None:
                model, rest = rest[0], rest[1:]
            elif rest:
                value, rest = to_value(rest[0]), rest[1:]
                if rest:
                    model, rest = rest[0], rest[1:]
            if value is None:
                for i, (k, v) in enumerate(params):
                    if k == p.letter.lower():
                        value = v
                        del params[i]
                        break
            return _device(name, kind, terms, model, value, tuple(params), " ".join(rest + extra), p.loc)
        self.diag("warning", line, f"{name}: unknown element letter {p.letter!r}; pins numbered", "unknown-element")
        terms = tuple(scope.term(str(i + 1), n) for i, n in enumerate(pos))
        return _device(name, DeviceKind.UNKNOWN, terms, None, None, tuple(params), " ".join(extra), p.loc)

    def empty(self) -> bool:
        """Nothing at all was read (only a title and comments)."""
        t = self.top
        return not (t.items or t.subckts or t.params or t.models or self.includes or self.statements)

    def fields(self) -> dict:
        """The Netlist's constructor arguments, with every pending device bound."""
        top = self.top
        return dict(
            title=self.title,
            devices=self.resolve(top),
            subckts=tuple(self.build(s) for s in top.subckts),
            params=tuple(top.params),
            models=tuple(top.models),
            includes=tuple(self.includes),
            statements=tuple(self.statements),
            globals=tuple(self.globals),
        )

    def finish(self) -> Netlist:
        return _netlist(**self.fields())


class _SectionMissing(Exception):
    def __init__(self, section: str) -> None:
        self.section = section


@dataclass
class _Parsed:
    netlist: Netlist | None
    subckt_ports: dict[str, tuple[str, ...]]
    model_names: set[str]


class _Context:
    """State shared by one top-level parse: diagnostics, include cache, what to follow and where."""

    def __init__(self, follow: bool, search: tuple[Path, ...] = ()) -> None:
        self.follow_includes = follow
        self.search = search
        self.diags: list[Diagnostic] = []
        self.cache: dict[tuple[str, str | None], _Parsed] = {}
        self.texts: dict[str, list[tuple[int, str]]] = {}
        self.kv: dict[str, tuple[str, Value]] = {}
        self.tails: dict[str, tuple[tuple[tuple[str, Value], ...], str, bool]] = {}  # see _Reader.mosfet

    def lookup_subckt(self, reader: _Reader, name: str) -> tuple[str, ...] | None:
        return reader.subckt_ports.get(name.lower())

    def is_model(self, reader: _Reader, name: str) -> bool:
        return name.lower() in reader.model_names

    def locate(self, reader: _Reader, path: str) -> Path | None:
        """The first file ``path`` names on the search order, None when there is none."""
        if not self.follow_includes:
            return None
        return next((c for c in _candidates(path, reader.file, self.search) if c.is_file()), None)

    def follow(
        self, reader: _Reader, path: str, section: str | None, lineno: int
    ) -> tuple[Path | None, _Parsed | None]:
        """``(file found, its parsed content)`` for an include line; a file that cannot be found is
        a warning (simulation, which needs it, makes that an error)."""
        if not self.follow_includes:
            return None, None
        candidates = _candidates(path, reader.file, self.search)
        if not candidates:
            return None, None  # a relative path in text without a file and no search path
        p = self.locate(reader, path)
        if p is None:
            looked = ", ".join(dict.fromkeys(str(c.parent) for c in candidates))
            reader.diag("warning", lineno, f"included file not found: {path} (looked in {looked})", "include-missing")
            return None, None
        p = Path(os.path.abspath(p))  # where it was found, whatever directory later readers run in
        key = str(p.resolve())
        link = (key, section)
        if link in reader.chain:
            names = [_show(f, s) for f, s in reader.chain] + [_show(key, section)]
            reader.diag("error", lineno, "include cycle: " + " -> ".join(names), "include-cycle")
            return p, None
        cached = self.cache.get(link)
        if cached is not None:
            return p, cached
        lines = self.texts.get(key)
        if lines is None:
            try:
                source = decode_source(p.read_bytes(), str(p))
            except NetlistParseError as exc:
                self.diags.extend(exc.diagnostics)
                return p, None
            except OSError as exc:
                reader.diag("error", lineno, f"cannot read included file {path}: {exc.strerror or exc}", "io")
                return p, None
            self.diags.extend(source.diagnostics)
            lines = list(_logical_lines(source.text, titled=False))
            self.texts[key] = lines
        sub = _Reader(self, str(p), reader.chain + (link,), included=True)
        try:
            net = sub.read(iter(lines), section)
        except _SectionMissing:
            reader.diag("error", lineno, f"section {section} not found in {path}", "lib-section-missing")
            return p, None
        parsed = _Parsed(net, sub.subckt_ports, sub.model_names)
        self.cache[link] = parsed
        return p, parsed


def _show(file: str, section: str | None) -> str:
    name = os.path.basename(file)
    return f"{name}[{section}]" if section else name


# --------------------------------------------------------------------------------------------
# Include and library lines

INCLUDE_PATH_ENV = "CKT_INCLUDE_PATH"
"""Environment variable of folders (``os.pathsep``-separated) searched for includes after the
including file's own folder and the ``include_path`` argument, like ngspice's ``sourcepath``."""

_INCLUDE_LINE = re.compile(r"\.(include|inc|lib)\s", re.IGNORECASE)
_UNC_ARGUMENT = re.compile(r"(\S+\s+)//(.*)$")
_SECTION_NAME = re.compile(r"[A-Za-z_][\w+-]*")
"""A ``.lib`` section name: a bare word; anything with a dot, slash or colon is a file name."""


def _strip_include_comment(line: str) -> str:
    """An include line without its trailing comment; a path that starts with ``//`` (a UNC path
    written with slashes) is a path, not a comment."""
    unc = _UNC_ARGUMENT.match(line)
    if unc:
        return unc.group(1) + "//" + _strip_inline_comment(unc.group(2))
    return _strip_inline_comment(line)


def _lib_section(line: str) -> str | None:
    """The section a ``.lib NAME`` line opens, or None when the line includes a file: LTspice's
    ``.lib FILE`` has one argument too, told apart by being quoted or looking like a file name."""
    toks = line.split()
    if len(toks) == 2 and _SECTION_NAME.fullmatch(toks[1]):
        return toks[1].lower()
    return None


def _include_target(word: str, rest: str) -> tuple[str, str | None, str]:
    """``(path, section, ignored text)`` of an ``.include``/``.inc``/``.lib`` line's argument.

    A quoted path ends at its closing quote. An unquoted path is the whole argument, spaces and
    all (``C:\\Program Files\\x.lib``), except that a ``.lib`` line's last word is its section when
    it is a bare name.
    """
    rest = rest.strip()
    if not rest:
        raise _LineError(f".{word} without a file")
    if rest[0] in "'\"":
        end = rest.find(rest[0], 1)
        if end < 0:
            raise _LineError(f"unbalanced quote {rest[0]} in .{word} path")
        path, after = rest[1:end], rest[end + 1 :].split()
    else:
        words = rest.split()
        if word == "lib" and len(words) > 1 and _SECTION_NAME.fullmatch(words[-1]):
            path, after = rest[: rest.rfind(words[-1])].rstrip(), [words[-1]]
        else:
            path, after = rest, []
    if not path:
        raise _LineError(f".{word} without a file")
    if word == "lib" and after:
        return path, after[0].lower(), " ".join(after[1:])
    return path, None, " ".join(after)


def _candidates(path: str, including: str | None, search: tuple[Path, ...]) -> list[Path]:
    """Where an include may be, in search order: absolute as written, else the including file's
    folder then each search folder; a path written with backslashes (Windows, ``\\\\server\\x``) is
    also tried with slashes."""
    spellings = [path]
    if "\\" in path and os.sep == "/":
        spellings.append(path.replace("\\", "/"))
    out: list[Path] = []
    for spelling in spellings:
        p = Path(os.path.expanduser(spelling))
        if p.is_absolute():
            out.append(p)
            continue
        if including is not None:
            out.append(Path(including).parent / p)
        out.extend(d / p for d in search)
    return out


def include_search_path(include_path: Sequence[str | Path] = ()) -> tuple[Path, ...]:
    """The folders searched for includes: ``include_path``, then those in ``CKT_INCLUDE_PATH``."""
    env = os.environ.get(INCLUDE_PATH_ENV, "")
    dirs = [*include_path, *(d for d in env.split(os.pathsep) if d)]
    return tuple(Path(os.path.expanduser(str(d))) for d in dirs)


# --------------------------------------------------------------------------------------------
# Entry points


def parse_spice(
    text: str,
    *,
    path: str | Path | None = None,
    follow_includes: bool = True,
    include_path: Sequence[str | Path] = (),
) -> Netlist:
    """Parse a SPICE deck into a ``Netlist``.

    Args:
        text: the deck.
        path: the file it came from; names diagnostics and anchors relative ``.include``/``.lib``.
            Without it relative includes are looked for on the search path only.
        follow_includes: read included files (their content lands in ``Include.netlist``).
        include_path: folders searched for includes after the including file's own folder, before
            those in ``CKT_INCLUDE_PATH``. An include found nowhere is a warning, not an error.

    Raises:
        NetlistParseError: with every diagnostic when any is an error.
    """
    file = str(path) if path is not None else None
    text = check_text(text, file)
    return _parse_top(text, file, _Context(follow_includes, include_search_path(include_path)))


def _parse_top(text: str, file: str | None, ctx: _Context) -> Netlist:
    """Parse with the cyclic garbage collector paused: a big deck allocates millions of acyclic
    tuples and devices, and repeated full collections over them cost a third of the run."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_top_gc_paused(text, file, ctx)
    finally:
        if enabled:
            gc.enable()


def _parse_top_gc_paused(text: str, file: str | None, ctx: _Context) -> Netlist:
    reader = _Reader(ctx, file, ((str(Path(file).resolve()), None),) if file else ())
    reader.consume(_logical_lines(text, titled=True), None)
    if reader.empty() and not any(d.severity == "error" for d in ctx.diags):
        ctx.diags.append(
            Diagnostic("error", "empty netlist (no devices, definitions or statements)", file, None, "empty")
        )
    fields = reader.fields()  # binds instances, which may add diagnostics
    if any(d.severity == "error" for d in ctx.diags):
        raise NetlistParseError(ctx.diags)
    return _netlist(**fields, diagnostics=tuple(ctx.diags))


def read_spice(path: str | Path, *, include_path: Sequence[str | Path] = ()) -> Netlist:
    """Read a SPICE file (decoded by ``ckt.netlist.source``) and parse it with includes followed."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        diag = Diagnostic("error", f"cannot read netlist: {exc.strerror}", file, None, "io")
        raise NetlistParseError([diag]) from None
    source = decode_source(data, file)
    ctx = _Context(True, include_search_path(include_path))
    ctx.diags.extend(source.diagnostics)
    return _parse_top(source.text, file, ctx)
