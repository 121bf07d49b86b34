"""Reading Spectre netlists into the IR.

Spectre differs from SPICE in ways that matter to a reader: an instance is ``NAME (nodes) MASTER
params`` where the master, not the name's first letter, says what the device is; subcircuits are
``subckt``/``ends`` blocks; ``//`` starts a comment; scale factors are case-sensitive (``M`` is
mega, ``m`` milli); ``\\`` escapes one character of a name or, at the end of a line, continues it.

The reader works in two passes so an instance may come before the definition of its subcircuit:
the first turns logical lines into raw records (collecting subcircuit ports and model types), the
second builds frozen IR objects. Every problem becomes a ``Diagnostic`` with file and line; any
error-level one raises ``NetlistParseError`` carrying all of them.

Choices a round trip depends on (``write_spectre`` mirrors them):

* MOSFET, BJT and diode masters (``nmos4``, ``npn``, ``diode``, a declared model) go to
  ``Device.model``; resistor/capacitor/inductor/source primitives keep ``model=None`` and their
  primary parameter (``r``, ``c``, ``l``, ``dc``, ``gain``) becomes ``Device.value``.
* An instance of an undefined master becomes a ``SUBCKT`` device with positional pins ``1, 2...``
  (info diagnostic), since a Spectre instance line carries no pin names.
* A name reused in one scope (the AnalogGenie data does this 2,305 times) keeps both devices: the
  later one becomes ``NAME__2`` (``__3``...) with a warning naming file and line.
* ``simulator lang=spice`` sections are handed to ``parse_spice`` and merged into the scope.
* ``include "file"`` is followed relative to the including file (format detected, cycles and
  missing files are errors), so its subckts and models bind instances; ``section=`` is recorded
  only, and without a ``path`` a relative include is recorded only.
* Statements and includes inside a subckt body are hoisted to the top level with a warning.
* Spectre has no title line, so ``Netlist.title`` is always empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from ckt.errors import CktError, NetlistParseError
from ckt.netlist.detect import detect_format
from ckt.netlist.ir import (
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

# Spectre scale factors (Spectre Circuit Simulator Reference, "Scale factors"): case-sensitive.
SCALE = {"T": 12, "G": 9, "M": 6, "K": 3, "k": 3, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18}
"""Scale factor -> power of ten (applied in decimal, so ``180n`` is exactly the float nearest 180e-9)."""
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?([TGMKkmunpfa]?)")

MOS_MASTERS = frozenset({"nmos", "pmos", "nmos3", "pmos3", "nmos4", "pmos4", "nch", "pch", "nfet", "pfet"})
"""Generic MOSFET masters used without a ``model`` statement (Cadence analogLib style, AnalogGenie)."""
BJT_MASTERS = frozenset({"npn", "pnp"})

# Model-statement types (lower case) by the device family they declare.
MODEL_TYPE_KIND: dict[str, DeviceKind] = {
    **{t: DeviceKind.MOSFET for t in (
        "mos0", "mos1", "mos2", "mos3", "mos9", "mos11", "mos705", "mos902", "mos903", "bsim1", "bsim2",
        "bsim3", "bsim3v3", "bsim4", "bsim6", "bsimbulk", "bsimcmg", "bsimsoi", "b3soipd", "psp102",
        "psp103", "psp104", "ekv", "hisim", "hisim2", "hisimhv", "hvmos")},
    **{t: DeviceKind.BJT for t in ("bjt", "vbic", "hbt", "bjt301", "bjt500", "bjt503", "bjt504",
                                   "mextram", "hicum", "hicum0", "hicum2")},
    **{t: DeviceKind.DIODE for t in ("diode", "juncap", "dio500")},
    **{t: DeviceKind.JFET for t in ("jfet", "jfet100")},
    "resistor": DeviceKind.RESISTOR,
    "capacitor": DeviceKind.CAPACITOR,
    "inductor": DeviceKind.INDUCTOR,
    # SPICE model types, as a SPICE-read netlist written by write_spectre carries them.
    "nmos": DeviceKind.MOSFET, "pmos": DeviceKind.MOSFET, "npn": DeviceKind.BJT, "pnp": DeviceKind.BJT,
    "d": DeviceKind.DIODE, "njf": DeviceKind.JFET, "pjf": DeviceKind.JFET, "r": DeviceKind.RESISTOR,
    "res": DeviceKind.RESISTOR, "c": DeviceKind.CAPACITOR, "l": DeviceKind.INDUCTOR,
}

PRIMITIVES: dict[str, tuple[DeviceKind, str | None]] = {
    "resistor": (DeviceKind.RESISTOR, "r"),
    "capacitor": (DeviceKind.CAPACITOR, "c"),
    "inductor": (DeviceKind.INDUCTOR, "l"),
    "vsource": (DeviceKind.VSOURCE, "dc"),
    "isource": (DeviceKind.ISOURCE, "dc"),
    "vcvs": (DeviceKind.VCVS, "gain"),
    "vccs": (DeviceKind.VCCS, "gm"),
    "cccs": (DeviceKind.CCCS, "gain"),
    "ccvs": (DeviceKind.CCVS, "rm"),
}
"""Value-carrying primitives: master -> (kind, the parameter that becomes ``Device.value``)."""

RCL_VALUE = {DeviceKind.RESISTOR: "r", DeviceKind.CAPACITOR: "c", DeviceKind.INDUCTOR: "l"}
"""The value parameter of an R/C/L bound to a ``model`` (``R1 (a b) rpoly r=1k``)."""

# Node counts each kind accepts, mapped onto the IR pin names in order.
PIN_ORDER: dict[DeviceKind, tuple[tuple[str, ...], ...]] = {
    DeviceKind.MOSFET: (("d", "g", "s"), ("d", "g", "s", "b")),
    DeviceKind.BJT: (("c", "b", "e"), ("c", "b", "e", "sub")),
    DeviceKind.JFET: (("d", "g", "s"),),
    DeviceKind.DIODE: (("p", "n"),),
    DeviceKind.RESISTOR: (("p", "n"),),
    DeviceKind.CAPACITOR: (("p", "n"),),
    DeviceKind.INDUCTOR: (("p", "n"),),
    DeviceKind.VSOURCE: (("p", "n"),),
    DeviceKind.ISOURCE: (("p", "n"),),
    DeviceKind.VCVS: (("p", "n", "cp", "cn"),),
    DeviceKind.VCCS: (("p", "n", "cp", "cn"),),
    DeviceKind.CCCS: (("p", "n"),),
    DeviceKind.CCVS: (("p", "n"),),
}

ANALYSES = frozenset({
    "ac", "dc", "tran", "noise", "xf", "sp", "stb", "pz", "pss", "pac", "pnoise", "pxf", "psp", "qpss",
    "hb", "hbac", "hbnoise", "envlp", "sens", "fourier", "montecarlo", "sweep", "alter", "altergroup",
    "check", "checklimit", "info", "options", "set", "shell", "dcmatch", "loadpull"})
"""Masters that make ``NAME [nodes] MASTER params`` an analysis or control statement, kept verbatim."""

KEPT_KEYWORDS = frozenset({
    "save", "ic", "nodeset", "ahdl_include", "library", "endlibrary", "section", "endsection", "real",
    "statistics", "paramset", "export", "assert", "ground"})
"""Statements that start with a keyword and are kept verbatim (their meaning belongs to a simulator)."""

STATEMENT_WORDS = frozenset({"subckt", "inline", "ends", "simulator", "parameters", "include", "model",
                             "global"}) | KEPT_KEYWORDS
"""First words that make a line a statement; an instance so named is written with an escape."""
_SIMPLE_INSTANCE = re.compile(r"([^\s()\[\]{}=\"\\]+) ?\(([^()\[\]{}=\"\\]*)\) ?([^\s()\[\]{}=\"\\]+)")
"""``NAME (nodes) MASTER`` with nothing to unescape: most dataset lines, read without the tokenizer."""

UNIQUE_SUFFIX = "__"
"""A reused instance name ``MM13`` becomes ``MM13__2``, ``MM13__3``... (see module docstring)."""


def spectre_number(text: str) -> float | None:
    """``text`` as a float when it is a Spectre number (``1.5u``, ``2e-3``, ``10M``), else None."""
    m = _NUMBER.fullmatch(text)
    if not m:
        return None
    scale = m.group(1)
    if not scale:
        return float(text)
    return float(Decimal(text[:-1]).scaleb(SCALE[scale]))


def parse_value(raw: str) -> Value:
    """A parameter value: a float when ``raw`` is a number, otherwise the verbatim ``Expr``."""
    number = spectre_number(raw)
    return Expr(raw) if number is None else number


# --------------------------------------------------------------------------- lexing

class _Tok(NamedTuple):
    kind: str  # "word", "str", or one of ( ) [ ] { } =
    text: str  # a word with its escapes resolved, else the raw text
    start: int
    end: int


_TOKEN = re.compile(r"""([()\[\]{}=])|("(?:[^"\\]|\\.)*"?)|((?:[^\s()\[\]{}="\\]|\\.|\\$)+)""")
_ESCAPE = re.compile(r"\\(.)")


def _tokenize(s: str) -> list[_Tok]:
    """Split one logical line; ``\\x`` puts ``x`` into a word whatever it is."""
    toks: list[_Tok] = []
    for m in _TOKEN.finditer(s):  # whatever the pattern skips is whitespace
        group = m.lastindex
        assert group is not None  # the pattern is three alternatives, each one group
        raw = m.group(group)
        if group == 1:
            toks.append(_Tok(raw, raw, m.start(), m.end()))
        elif group == 2:
            toks.append(_Tok("str", raw, m.start(), m.end()))
        else:
            toks.append(_Tok("word", _ESCAPE.sub(r"\1", raw) if "\\" in raw else raw, m.start(), m.end()))
    return toks


def _strip_comment(line: str) -> str:
    """``line`` without its ``//`` comment (outside strings, not escaped)."""
    if "//" not in line:
        return line
    in_str = False
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            in_str = not in_str
        elif not in_str and line.startswith("//", i):
            return line[:i]
        i += 1
    return line


_SIMULATOR = re.compile(r"\s*simulator\s+lang\s*=\s*(\w+)", re.IGNORECASE)


@dataclass
class _Chunk:
    """A logical Spectre line, or a raw ``simulator lang=spice`` section."""

    line: int
    text: str
    spice: bool = False


def _chunks(text: str) -> list[_Chunk]:
    """Logical lines: comments gone, ``\\`` continuations and ``{...}`` blocks joined."""
    out: list[_Chunk] = []
    physical = text.splitlines()
    i = 0
    pending: _Chunk | None = None
    while i < len(physical):
        raw = physical[i]
        lineno = i + 1
        i += 1
        m = _SIMULATOR.match(raw)
        if pending is None and m and m.group(1).lower() == "spice":
            out.append(_Chunk(lineno, raw.strip()))
            start = i
            while i < len(physical):
                m2 = _SIMULATOR.match(physical[i])
                if m2 and m2.group(1).lower() != "spice":
                    break
                i += 1
            out.append(_Chunk(start + 1, "\n".join(physical[start:i]), spice=True))
            continue
        stripped = raw.strip()
        if pending is None and stripped.startswith("*"):
            continue
        body = _rstrip(_strip_comment(raw))
        cont = body.endswith("\\") and not body.endswith("\\\\")
        if cont:
            body = body[:-1]
        if pending is None:
            pending = _Chunk(lineno, body)
        else:
            pending.text = _rstrip(pending.text) + " " + body.lstrip()
        if cont or _open_braces(pending.text):
            continue
        pending.text = _rstrip(pending.text).lstrip()
        if pending.text:
            out.append(pending)
        pending = None
    if pending is not None:
        pending.text = _rstrip(pending.text).lstrip()
        if pending.text:
            out.append(pending)
    return out


def _rstrip(text: str) -> str:
    """``text`` without trailing whitespace, except one escaped whitespace character (``a\\ ``)."""
    stripped = text.rstrip()
    tail = len(stripped) - len(stripped.rstrip("\\"))
    if tail % 2 and len(stripped) < len(text):
        return stripped + text[len(stripped)]
    return stripped


def _open_braces(text: str) -> bool:
    """Whether a ``{`` block is still open (escaped braces, ``\\{``, do not count)."""
    bare = _ESCAPE.sub("", text) if "\\" in text else text
    return bare.count("{") > bare.count("}")


# --------------------------------------------------------------------------- pass 1: records

@dataclass
class _Inst:
    name: str
    nodes: list[str]
    master: str
    params: list[tuple[str, Value]]
    loc: SourceLoc


_Parts = tuple[list[Device], list[Param], list[Model], list[Include], list[Statement]]
"""One scope's devices, params, models, includes and statements, in file order."""


@dataclass
class _Scope:
    """One subcircuit body (or the top level) as read, before IR objects are built."""

    name: str | None = None
    ports: tuple[str, ...] = ()
    loc: SourceLoc | None = None
    items: list = field(default_factory=list)  # _Inst | Param | Model | Include | Statement | Device
    subckts: list[_Scope] = field(default_factory=list)
    extra_subckts: list[Subckt] = field(default_factory=list)  # from spice sections


class _Reader:
    def __init__(self, path: str | None, follow: bool, chain: tuple[str, ...]) -> None:
        self.file = path
        self.follow = follow
        self.chain = chain  # resolved files being read, outermost first (include cycles)
        self.diags: list[Diagnostic] = []
        self.ports: dict[str, tuple[str, ...]] = {}  # subckt name -> ports (both cases)
        self.model_types: dict[str, str] = {}
        # Statements and includes found inside subckt bodies are hoisted to the top level.
        self.hoisted: list[Statement | Include] = []
        self.globals: list[str] = []  # Spectre globals are global wherever they are declared

    def diag(self, severity: str, line: int | None, message: str, code: str) -> None:
        self.diags.append(Diagnostic(severity, message, self.file, line, code))

    # ---- pass 1
    def read(self, text: str) -> _Scope:
        top = _Scope()
        stack = [top]
        for chunk in _chunks(text):
            if chunk.spice:
                self._spice_section(chunk, stack[-1])
                continue
            loc = SourceLoc(self.file, chunk.line)
            simple = _SIMPLE_INSTANCE.fullmatch(chunk.text)
            if simple and simple.group(1).lower() not in STATEMENT_WORDS and simple.group(3).lower() not in ANALYSES:
                stack[-1].items.append(_Inst(simple.group(1), simple.group(2).split(), simple.group(3), [], loc))
                continue
            toks = _tokenize(chunk.text)
            if not self._well_formed(toks, chunk.line):
                continue
            first = toks[0]
            # An escaped first character (``\model``) makes a name, never a keyword.
            key = first.text.lower() if "\\" not in chunk.text[first.start:first.end] else ""
            if key == "inline" and len(toks) > 1 and toks[1].text.lower() == "subckt":
                toks, key = toks[1:], "subckt"
            if key == "subckt":
                scope = self._subckt_header(toks, loc)
                if scope is not None:
                    stack[-1].subckts.append(scope)
                    stack.append(scope)
            elif key == "ends":
                self._ends(toks, stack, chunk.line)
            elif key == "simulator":
                continue  # lang=spectre (spice sections are cut out by _chunks); options need no IR
            elif key == "parameters":
                stack[-1].items.extend(Param(n, v, loc) for n, v in self._pairs(toks[1:], chunk.text, loc) or ())
            elif key == "include":
                inc = self._include(toks, chunk.text, loc)
                if inc is not None:
                    stack[-1].items.append(inc)
            elif key == "model":
                model = self._model(toks, chunk.text, loc)
                if model is not None:
                    stack[-1].items.append(model)
            elif key == "global":
                self.globals.extend(t.text for t in toks[1:] if t.kind == "word")
            elif key in KEPT_KEYWORDS:
                stack[-1].items.append(Statement(key, chunk.text, loc))
            else:
                self._instance(toks, chunk.text, loc, stack[-1])
        for scope in stack[1:]:
            self.diag("error", scope.loc.line if scope.loc else None,
                      f"subckt {scope.name} is never closed by 'ends'", "unclosed-subckt")
        return top

    def _well_formed(self, toks: list[_Tok], line: int) -> bool:
        """Brackets balance and the line starts with a name (else an error diagnostic)."""
        depth = 0
        for t in toks:
            if t.kind in ("(", "["):
                depth += 1
            elif t.kind in (")", "]"):
                depth -= 1
                if depth < 0:
                    break
        if depth != 0:
            self.diag("error", line, "unbalanced parentheses", "parens")
            return False
        if not toks or toks[0].kind != "word":
            self.diag("error", line, f"a statement must start with a name, not {toks[0].text!r}", "syntax")
            return False
        return True

    def _spice_section(self, chunk: _Chunk, scope: _Scope) -> None:
        if not chunk.text.strip():
            return
        from ckt.netlist.parse_spice import parse_spice  # lazy: only files that switch language need it

        # Blank lines keep ngspice-style line numbers equal to this file's; the first is the title.
        padded = "\n" * (chunk.line - 1) + chunk.text + "\n"
        try:
            sub = parse_spice(padded, path=self.file, follow_includes=self.follow)
        except NetlistParseError as exc:
            self.diags.extend(d for d in exc.diagnostics if d.code != "empty")  # a section of comments
            return
        self.diags.extend(sub.diagnostics)
        scope.items.extend(sub.devices)
        scope.items.extend(sub.params)
        scope.items.extend(sub.models)
        scope.items.extend(sub.includes)
        scope.items.extend(sub.statements)
        scope.extra_subckts.extend(sub.subckts)
        self.globals.extend(sub.globals)
        for s in sub.subckts:
            self._remember_ports(s.name, s.ports)
        for m in sub.models:
            self.model_types.setdefault(m.name.lower(), m.type)

    def _remember_ports(self, name: str, ports: tuple[str, ...]) -> None:
        self.ports.setdefault(name, ports)
        self.ports.setdefault(name.lower(), ports)

    def _subckt_header(self, toks: list[_Tok], loc: SourceLoc) -> _Scope | None:
        if len(toks) < 2 or toks[1].kind != "word":
            self.diag("error", loc.line, "subckt needs a name", "syntax")
            return None
        name = toks[1].text
        ports = [t.text for t in toks[2:] if t.kind == "word"]
        odd = [t.text for t in toks[2:] if t.kind not in ("word", "(", ")")]
        if odd:
            self.diag("error", loc.line, f"unexpected {odd[0]!r} in the ports of subckt {name}", "syntax")
        dup = sorted({p for p in ports if [q.lower() for q in ports].count(p.lower()) > 1})
        if dup:
            self.diag("error", loc.line, f"subckt {name} lists port(s) {', '.join(dup)} twice", "dup-port")
            ports = list(dict.fromkeys(ports))  # still open the scope, so its 'ends' matches
        if name.lower() in self.ports:
            self.diag("error", loc.line, f"subckt {name} is defined twice", "dup-subckt")
        self._remember_ports(name, tuple(ports))
        return _Scope(name, tuple(ports), loc)

    def _ends(self, toks: list[_Tok], stack: list[_Scope], line: int) -> None:
        if len(stack) == 1:
            self.diag("error", line, "'ends' without an open subckt", "ends")
            return
        scope = stack.pop()
        if len(toks) > 1 and toks[1].text != scope.name:
            self.diag("error", line, f"'ends {toks[1].text}' closes subckt {scope.name}", "ends")

    def _pairs(self, toks: list[_Tok], text: str, loc: SourceLoc) -> list[tuple[str, Value]] | None:
        """``name=value`` pairs. A value runs over touching tokens and whole bracket groups
        (``max(a,b)``, ``(lp + 10n)``, ``[1 2]``, ``"file"``) and is kept verbatim unless it is a number."""
        out: list[tuple[str, Value]] = []
        i = 0
        while i < len(toks):
            if not (toks[i].kind == "word" and i + 1 < len(toks) and toks[i + 1].kind == "="):
                self.diag("error", loc.line, f"expected name=value, got {toks[i].text!r}", "param")
                return None
            name = toks[i].text.lower()
            j = k = i + 2
            if j >= len(toks) or toks[j].kind not in ("word", "str", "(", "["):
                self.diag("error", loc.line, f"parameter {name} has no value", "param")
                return None
            depth = 0
            while k < len(toks):
                kind = toks[k].kind
                if kind == "=" and depth == 0:
                    break
                if kind in ("(", "["):
                    depth += 1
                elif kind in (")", "]"):
                    depth -= 1
                k += 1
                if depth == 0 and (k == len(toks) or toks[k].start > toks[k - 1].end):
                    break  # whitespace outside brackets ends the value
            raw = text[toks[j].start:toks[k - 1].end]
            out.append((name, parse_value(raw) if k == j + 1 and toks[j].kind == "word" else Expr(raw)))
            i = k
        return out

    def _include(self, toks: list[_Tok], text: str, loc: SourceLoc) -> Include | None:
        if len(toks) < 2 or toks[1].kind not in ("str", "word"):
            self.diag("error", loc.line, "include needs a file name", "include")
            return None
        path = toks[1].text.strip('"') if toks[1].kind == "str" else toks[1].text
        pairs = self._pairs(toks[2:], text, loc) or []
        section = next((str(v) for k, v in pairs if k == "section"), None)
        return self._resolve(Include(path, section, None, loc))

    def _resolve(self, inc: Include) -> Include:
        """``inc`` with its parsed content when it can be followed; its subckts and models then
        bind this file's instances. Relative paths need this file's path to anchor them."""
        line = inc.loc.line if inc.loc else None
        target = Path(inc.path).expanduser()
        if not self.follow:
            return inc
        if not target.is_absolute():
            if self.file is None:
                return inc
            target = Path(self.file).parent / target
        if inc.section is not None:
            self.diag("info", line, f"include {inc.path} section={inc.section} is not followed (library "
                      "sections are kept, not selected)", "include-section")
            return inc
        if not target.is_file():
            self.diag("warning", line, f"included file not found: {inc.path} (looked for {target})", "include-missing")
            return inc
        key = str(target.resolve())
        if key in self.chain:
            self.diag("error", line, "include cycle: " + " -> ".join([*self.chain, key]), "include-cycle")
            return inc
        from ckt.netlist.source import read_source

        try:
            source = read_source(target)
            self.diags.extend(source.diagnostics)
            text = source.text
            fmt = detect_format(target, text)
            if fmt == "spectre":
                sub = _parse(text, str(target), True, self.chain + (key,))
            elif fmt == "spice":
                from ckt.netlist.parse_spice import parse_spice

                sub = parse_spice(text, path=target)
            else:
                self.diag("error", line, f"cannot include {inc.path}: it is a {fmt} file", "include")
                return inc
        except NetlistParseError as exc:
            self.diags.extend(exc.diagnostics)
            return inc
        except CktError as exc:
            self.diag("error", line, str(exc), "include")
            return inc
        for sc in sub.all_subckts():
            self._remember_ports(sc.name, sc.ports)
        for m in sub.all_models():
            self.model_types.setdefault(m.name.lower(), m.type)
        self.diags.extend(sub.diagnostics)
        return Include(inc.path, inc.section, sub, inc.loc)

    def _model(self, toks: list[_Tok], text: str, loc: SourceLoc) -> Model | None:
        if len(toks) < 3 or toks[1].kind != "word" or toks[2].kind != "word":
            self.diag("error", loc.line, "model needs a name and a type", "model")
            return None
        pairs = self._pairs(toks[3:], text, loc)
        if pairs is None:
            return None
        self.model_types.setdefault(toks[1].text.lower(), toks[2].text.lower())
        return Model(toks[1].text, toks[2].text.lower(), tuple(pairs), loc)

    def _instance(self, toks: list[_Tok], text: str, loc: SourceLoc, scope: _Scope) -> None:
        name = toks[0].text
        if len(toks) > 1 and toks[1].kind == "(":
            close = next(i for i in range(2, len(toks)) if toks[i].kind == ")")
            if any(t.kind != "word" for t in toks[2:close]):
                self.diag("error", loc.line, f"instance {name}: nodes must be names", "syntax")
                return
            nodes = [t.text for t in toks[2:close]]
            rest = toks[close + 1:]
            if not rest or rest[0].kind != "word" or (len(rest) > 1 and rest[1].kind == "="):
                self.diag("error", loc.line, f"instance {name} has no master (device type) after its nodes",
                          "no-master")
                return
            master, params = rest[0].text, rest[1:]
        else:
            first_param = next((i for i in range(1, len(toks)) if toks[i].kind == "="), len(toks) + 1) - 1
            words = toks[1:min(first_param, len(toks))]
            if not words or any(t.kind != "word" for t in words):
                self.diag("error", loc.line, f"statement {name!r} has no master (device type)", "no-master")
                return
            nodes, master, params = [t.text for t in words[:-1]], words[-1].text, toks[1 + len(words):]
        if master.lower() in ANALYSES and master.lower() not in self.ports and master.lower() not in self.model_types:
            scope.items.append(Statement(master.lower(), text, loc))
            return
        pairs = self._pairs(params, text, loc)
        if pairs is not None:
            scope.items.append(_Inst(name, nodes, master, pairs, loc))

    # ---- pass 2
    def build(self, top: _Scope) -> tuple[list[Device], list[Param], list[Model], list[Include],
                                           list[Statement], list[Subckt]]:
        """``top``'s parts with its definitions built, walked with an explicit stack (one entry per
        open definition, not one Python frame) so nesting depth is not bounded by the recursion limit.
        Each scope's items are built before its children, and a definition is closed after them."""
        stack: list[tuple[_Scope, _Parts, list[Subckt]]] = [(top, self._items(top), [])]
        children = [iter(top.subckts)]
        while True:
            child = next(children[-1], None)
            if child is not None:
                stack.append((child, self._items(child), []))
                children.append(iter(child.subckts))
                continue
            children.pop()
            scope, (devices, params, models, includes, statements), subckts = stack.pop()
            subckts.extend(scope.extra_subckts)
            if not stack:
                return devices, params, models, includes, statements, subckts
            stack[-1][2].append(self._subckt(scope, (devices, params, models, includes, statements), subckts))

    def _items(self, scope: _Scope) -> _Parts:
        """``scope``'s own items sorted by kind, instances bound to devices (definitions aside)."""
        devices: list[Device] = []
        params, models, includes, statements = [], [], [], []
        used: dict[str, int | None] = {}  # lower-case name -> line it was first used on
        # New names avoid every name the scope spells out, even one that comes later.
        written = {item.name.lower() for item in scope.items if isinstance(item, (_Inst, Device))}
        for item in scope.items:
            if isinstance(item, (_Inst, Device)):
                dev = self._device(item) if isinstance(item, _Inst) else item
                if dev is not None:
                    devices.append(self._unique(dev, used, written, scope))
            elif isinstance(item, Param):
                params.append(item)
            elif isinstance(item, Model):
                models.append(item)
            elif isinstance(item, Include):
                includes.append(item)
            else:
                statements.append(item)
        return devices, params, models, includes, statements

    def _subckt(self, scope: _Scope, parts: _Parts, subckts: list[Subckt]) -> Subckt:
        """The definition ``scope`` from its parts; its includes and statements move to the top level."""
        devices, params, models, includes, statements = parts
        hoisted: list[Statement | Include] = [*includes, *statements]
        for st in hoisted:
            self.diag("warning", st.loc.line if st.loc else None,
                      f"{type(st).__name__.lower()} inside subckt {scope.name} is read as top-level", "scope")
        self.hoisted.extend(hoisted)
        return Subckt(scope.name or "", scope.ports, tuple(devices), tuple(params), tuple(models),
                      tuple(subckts), scope.loc)

    def _unique(self, dev: Device, used: dict[str, int | None], written: set[str], scope: _Scope) -> Device:
        name = dev.name
        if name.lower() in used:
            k = 2
            while f"{name}{UNIQUE_SUFFIX}{k}".lower() in used.keys() | written:
                k += 1
            new = f"{name}{UNIQUE_SUFFIX}{k}"
            where = f"subckt {scope.name}" if scope.name else "the top level"
            self.diag("warning", dev.loc.line if dev.loc else None,
                      f"instance name {name} (line {used[name.lower()]}) is used again in {where}; "
                      f"this device is kept as {new}",
                      "duplicate-name")
            dev = Device(new, dev.kind, dev.terminals, dev.model, dev.value, dev.params, dev.spec, dev.loc)
        used[dev.name.lower()] = dev.loc.line if dev.loc else None
        return dev

    def _device(self, inst: _Inst) -> Device | None:
        master, low = inst.master, inst.master.lower()
        line = inst.loc.line
        ports = self.ports.get(master, self.ports.get(low))
        if ports is not None:
            if len(ports) != len(inst.nodes):
                self.diag("error", line, f"instance {inst.name} of subckt {master} has {len(inst.nodes)} "
                          f"node(s); the definition has {len(ports)} port(s)", "pin-count")
                return None
            return Device(inst.name, DeviceKind.SUBCKT, tuple(zip(ports, inst.nodes)), master, None,
                          tuple(inst.params), "", inst.loc)
        value_param: str | None = None
        model: str | None = master
        if low in self.model_types:
            kind = MODEL_TYPE_KIND.get(self.model_types[low], DeviceKind.UNKNOWN)
        elif low in MOS_MASTERS:
            kind = DeviceKind.MOSFET
        elif low in BJT_MASTERS:
            kind = DeviceKind.BJT
        elif low == "diode":
            kind = DeviceKind.DIODE
        elif low in PRIMITIVES:
            kind, value_param = PRIMITIVES[low]
            model = None
        else:
            self.diag("info", line, f"instance {inst.name}: no definition of {master} here, pins are "
                      "positional", "undefined-master")
            pins = tuple(str(i + 1) for i in range(len(inst.nodes)))
            return Device(inst.name, DeviceKind.SUBCKT, tuple(zip(pins, inst.nodes)), master, None,
                          tuple(inst.params), "", inst.loc)
        if kind in (DeviceKind.RESISTOR, DeviceKind.CAPACITOR, DeviceKind.INDUCTOR) and model is not None:
            value_param = RCL_VALUE[kind]
        if kind is DeviceKind.UNKNOWN:
            pins = tuple(str(i + 1) for i in range(len(inst.nodes)))
        else:
            fitting = next((p for p in PIN_ORDER[kind] if len(p) == len(inst.nodes)), None)
            if fitting is None:
                counts = " or ".join(str(len(p)) for p in PIN_ORDER[kind])
                self.diag("error", line, f"instance {inst.name} ({master}, a {kind.name.lower()}) has "
                          f"{len(inst.nodes)} node(s); it needs {counts}", "pin-count")
                return None
            pins = fitting
        params = list(inst.params)
        value: Value | None = None
        if value_param is not None:
            for i, (k, v) in enumerate(params):
                if k == value_param:
                    value = v
                    del params[i]
                    break
        return Device(inst.name, kind, tuple(zip(pins, inst.nodes)), model, value, tuple(params), "", inst.loc)


def parse_spectre(text: str, *, path: str | Path | None = None, follow_includes: bool = True) -> Netlist:
    """Read Spectre netlist ``text``.

    Args:
        text: the netlist.
        path: the file it came from; names diagnostics and anchors relative ``include`` files.
        follow_includes: read included files (Spectre or SPICE, detected) into ``Include.netlist``;
            ``include ... section=`` is recorded, not followed.

    Raises:
        NetlistParseError: with every diagnostic (file, line) when any is an error.
    """
    file = str(path) if path is not None else None
    return _parse(text, file, follow_includes, (str(Path(file).resolve()),) if file else ())


def _parse(text: str, file: str | None, follow: bool, chain: tuple[str, ...]) -> Netlist:
    reader = _Reader(file, follow, chain)
    top = reader.read(text)
    if not (top.items or top.subckts or top.extra_subckts or reader.globals or reader.diags):
        reader.diag("error", None, "empty netlist (no devices, definitions or statements)", "empty")
    try:
        devices, params, models, includes, statements, subckts = reader.build(top)
    except CktError as exc:  # an IR invariant the reader did not foresee
        reader.diag("error", None, str(exc), "ir")
        raise NetlistParseError(reader.diags) from exc
    if any(d.severity == "error" for d in reader.diags):
        raise NetlistParseError(reader.diags)
    return Netlist(
        title="",
        devices=tuple(devices),
        subckts=tuple(subckts),
        params=tuple(params),
        models=tuple(models),
        includes=tuple(includes + [h for h in reader.hoisted if isinstance(h, Include)]),
        statements=tuple(statements + [h for h in reader.hoisted if isinstance(h, Statement)]),
        globals=tuple(dict.fromkeys(reader.globals)),
        diagnostics=tuple(reader.diags),
    )
