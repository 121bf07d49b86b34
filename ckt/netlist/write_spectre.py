"""The Spectre writer: a ``Netlist`` as deterministic Spectre text that ``parse_spectre`` reads back.

``parse_spectre(write_spectre(n)) == n`` holds for every netlist ``parse_spectre`` produced; the
writer mirrors the reader's choices (see ``ckt.netlist.parse_spectre``):

* Order: ``simulator lang=spectre``, ``global``, ``include``, ``parameters``, ``model``, subckt
  blocks, devices, statements. Spectre has no title line, so a title is written as a comment only.
* An instance is ``NAME (nodes) MASTER value_param=v params``: the master is ``Device.model`` for
  MOSFET/BJT/diode/subcircuit devices and for R/C/L bound to a model, else the primitive
  (``resistor``, ``vsource``...); the primary value goes back to ``r``/``c``/``l``/``dc``/``gain``.
* Numbers are written exactly (shortest ``repr``, never a scale letter: Spectre's ``M`` is mega);
  a non-finite value as ``1e999``/``-1e999``/``nan``, which the readers report; expressions
  verbatim, parenthesised when they hold spaces. Name characters other than letters, digits, ``_``
  and ``!`` are ``\\``-escaped.
* What Spectre cannot say in its own syntax (SPICE dot-statements, devices with a verbatim SPICE
  ``spec`` such as ``AC 1 SIN(...)``, B/S/W/T/K/Z elements) goes into ``simulator lang=spice``
  sections written by ``write_spice``, at the same place, so nothing is dropped.
"""

from __future__ import annotations

import math
import re

from ckt.errors import NetlistError
from ckt.netlist.ir import Device, DeviceKind, Expr, Include, Model, Netlist, Param, Subckt, Value
from ckt.netlist.parse_spectre import PRIMITIVES, RCL_VALUE, STATEMENT_WORDS
from ckt.netlist.units import NON_FINITE_TEXT

__all__ = ["write_spectre"]

_PRIMITIVE_OF: dict[DeviceKind, tuple[str, str | None]] = {kind: (master, vp) for master, (kind, vp) in
                                                           PRIMITIVES.items()}
_MODEL_KINDS = frozenset({DeviceKind.MOSFET, DeviceKind.BJT, DeviceKind.DIODE, DeviceKind.JFET,
                          DeviceKind.SUBCKT, DeviceKind.UNKNOWN})
_UNSAFE = re.compile(r"[^A-Za-z0-9_!]")
INDENT = "    "


def write_spectre(netlist: Netlist) -> str:
    """The netlist as Spectre text (ends with a newline)."""
    out: list[str] = []
    if netlist.title:
        out.append(f"// {netlist.title}")
    out.append("simulator lang=spectre")
    if netlist.globals:
        out.append("global " + " ".join(_name(g) for g in netlist.globals))
    out.extend(_include(inc) for inc in netlist.includes)
    _body(out, netlist.params, netlist.models, netlist.subckts, netlist.devices, "")
    spectre = [s for s in netlist.statements if not s.text.startswith(".")]
    spice = [s for s in netlist.statements if s.text.startswith(".")]
    out.extend(s.text for s in spectre)
    if spice:
        out.extend(_spice_section(Netlist(statements=tuple(spice)), ""))
    return "\n".join(out) + "\n"


def _body(out: list[str], params: tuple[Param, ...], models: tuple[Model, ...], subckts: tuple[Subckt, ...],
          devices: tuple[Device, ...], indent: str) -> None:
    """One scope's lines; nested definitions through an explicit stack, not recursion, so thousands
    of nested levels do not exhaust Python's stack."""
    _scope_head(out, params, models, indent)
    stack: list[tuple[Subckt, str] | list[str]] = [(s, indent) for s in reversed(subckts)]
    while stack:
        item = stack.pop()
        if isinstance(item, list):  # a definition's devices and ``ends``, after its nested ones
            out.extend(item)
            continue
        s, ind = item
        inner = ind + INDENT
        out.append(f"{ind}subckt {_name(s.name)} " + " ".join(_name(p) for p in s.ports))
        _scope_head(out, s.params, s.models, inner)
        tail: list[str] = []
        _devices(tail, s.devices, inner)
        tail.append(f"{ind}ends {_name(s.name)}")
        stack.append(tail)
        stack.extend((c, inner) for c in reversed(s.subckts))
    _devices(out, devices, indent)


def _scope_head(out: list[str], params: tuple[Param, ...], models: tuple[Model, ...], indent: str) -> None:
    out.extend(f"{indent}parameters {p.name}={_value(p.value)}" for p in params)
    out.extend(indent + _model(m) for m in models)


def _devices(out: list[str], devices: tuple[Device, ...], indent: str) -> None:
    run: list[Device] = []  # consecutive devices only SPICE syntax can express
    for d in devices:
        line = _device(d)
        if line is None:
            run.append(d)
            continue
        if run:
            out.extend(_spice_section(Netlist(devices=tuple(run)), indent))
            run = []
        out.append(indent + line)
    if run:
        out.extend(_spice_section(Netlist(devices=tuple(run)), indent))


def _spice_section(part: Netlist, indent: str) -> list[str]:
    """``part`` written by the SPICE writer between ``simulator lang=`` switches (no title, no end)."""
    from ckt.netlist.write import write_spice

    lines = write_spice(part).splitlines()
    body = [ln for ln in lines[1:] if ln.strip().lower() != ".end"]
    return [f"{indent}simulator lang=spice", *body, f"{indent}simulator lang=spectre"]


def _device(d: Device) -> str | None:
    """The Spectre instance line for ``d``, or None when only SPICE syntax can express it."""
    if d.spec:
        return None
    value_param: str | None = None
    if d.kind in _MODEL_KINDS:
        if d.model is None:
            raise NetlistError(f"device {d.name}: a {d.kind.name.lower()} needs a model or subckt name")
        master = d.model
    elif d.kind in RCL_VALUE and d.model is not None:
        master, value_param = d.model, RCL_VALUE[d.kind]
    elif d.kind in _PRIMITIVE_OF and d.model is None:
        master, value_param = _PRIMITIVE_OF[d.kind]
    else:
        return None
    params = list(d.params)
    if d.value is not None:
        if value_param is None:
            raise NetlistError(f"device {d.name}: a {d.kind.name.lower()} has no Spectre value parameter")
        params.insert(0, (value_param, d.value))
    name = _name(d.name)
    if d.name.lower() in STATEMENT_WORDS:
        name = "\\" + name  # an escaped first letter keeps the reader from taking it as a keyword
    tokens = [name, "(" + " ".join(_name(n) for n in d.nets) + ")", _name(master)]
    tokens.extend(f"{k}={_value(v)}" for k, v in params)
    return " ".join(tokens)


def _include(inc: Include) -> str:
    text = f'include "{inc.path}"'
    return text + f" section={inc.section}" if inc.section is not None else text


def _model(m: Model) -> str:
    return " ".join([f"model {_name(m.name)} {m.type}", *(f"{k}={_value(v)}" for k, v in m.params)])


def _name(name: str) -> str:
    return _UNSAFE.sub(lambda mo: "\\" + mo.group(0), name)


def _value(v: Value) -> str:
    if isinstance(v, Expr):
        text = v.text
        if any(c.isspace() for c in text) and not (text[0] in '("[' and text[-1] in ')"]'):
            return f"({text})"
        return text
    if not math.isfinite(v):
        return NON_FINITE_TEXT[repr(v)]  # written, not raised: the readers report it
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)  # plain digits and e-exponent: Spectre scale letters (M is mega) differ from SPICE's

