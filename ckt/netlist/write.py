"""The SPICE writer: a ``Netlist`` as deterministic ngspice text that ``parse_spice`` reads back equal.

Order: title, ``.include``/``.lib`` lines (never their content), ``.global``, ``.param``, ``.model``,
``.subckt`` blocks, devices, statements verbatim, ``.end``. Numbers use ``format_number`` (exact),
expressions are written ``{expr}``. Lines longer than ``WIDTH`` are wrapped with ``+`` continuations
between tokens.

Device names: SPICE decides a device's kind from its first letter, so a name whose first letter is
not its kind's letter (an IR built from Spectre: subcircuit instance ``I4``) is written with the
letter prefixed (``XI4``); unknown-kind devices whose name starts with a known letter get ``U``.
A prefixed name that collides with another device gets ``__2``, ``__3``... appended.

Known limits of the round trip (the reader cannot tell these apart in SPICE text): a subcircuit's
parameters are all written as header defaults (body ``.param`` lines become header entries); an
R/C/L with a model but no value reads back with the model name as its value unless the model card
is in the deck; an unknown-kind device without a model reads its last net back as the model (the
reader takes the last positional token of ``A N O P U Y`` elements as their model, as ngspice does).
"""

from __future__ import annotations

from ckt.netlist.ir import LETTER_KIND, Device, DeviceKind, Expr, Include, Model, Netlist, Param, Subckt, Value
from ckt.netlist.units import format_number

__all__ = ["write_spice", "WIDTH"]

WIDTH = 100
"""Soft line width: longer cards are continued on ``+`` lines."""


def write_spice(netlist: Netlist) -> str:
    """The deck for ``netlist`` as SPICE text (ends with ``.end`` and a newline)."""
    out: list[str] = [_title(netlist.title)]
    out.extend(_include(inc) for inc in netlist.includes)
    if netlist.globals:
        out.append(_wrap([".global", *netlist.globals]))
    out.extend(_param(p) for p in netlist.params)
    out.extend(_model(m) for m in netlist.models)
    for s in netlist.subckts:
        _subckt(s, out)
    out.extend(_devices(netlist.devices))
    out.extend(st.text for st in netlist.statements)
    out.append(".end")
    return "\n".join(out) + "\n"


def _title(title: str) -> str:
    """``.title`` (read back verbatim, comment characters and all); no title is a ``*`` comment."""
    return f".title {title}" if title else "* untitled"


def _value(v: Value) -> str:
    if isinstance(v, Expr):
        return "{" + v.text + "}"
    return format_number(v)


def _kv(params) -> list[str]:
    return [f"{k}={_value(v)}" for k, v in params]


def _wrap(tokens: list[str]) -> str:
    """Join tokens with spaces, continuing on ``+`` lines past ``WIDTH`` characters."""
    lines: list[str] = []
    cur = tokens[0]
    for tok in tokens[1:]:
        if len(cur) + 1 + len(tok) > WIDTH:
            lines.append(cur)
            cur = "+ " + tok
        else:
            cur += " " + tok
    lines.append(cur)
    return "\n".join(lines)


def _include(inc: Include) -> str:
    # The reader ends a quoted path at its closing quote: quote with the one the path lacks.
    q = "'" if '"' in inc.path and "'" not in inc.path else '"'
    if inc.section is not None:
        return f".lib {q}{inc.path}{q} {inc.section}"
    return f".include {q}{inc.path}{q}"


def _param(p: Param) -> str:
    return f".param {p.name}={_value(p.value)}"


def _model(m: Model) -> str:
    if not m.params:
        return f".model {m.name} {m.type}"
    return _wrap([f".model {m.name} {m.type} (", *_kv(m.params), ")"])


def _subckt(s: Subckt, out: list[str]) -> None:
    """``s`` and the definitions nested in it, with an explicit stack (thousands of nested levels
    must not exhaust Python's): a definition's ``.ends`` and devices wait on the stack below its
    nested definitions."""
    stack: list[Subckt | str] = [s]
    while stack:
        item = stack.pop()
        if isinstance(item, str):  # the tail of a definition whose nested ones are written
            out.append(item)
            continue
        out.append(_wrap([".subckt", item.name, *item.ports, *_kv((p.name, p.value) for p in item.params)]))
        out.extend(_model(m) for m in item.models)
        tail = "\n".join([*_devices(item.devices), f".ends {item.name}"])
        stack.append(tail)
        stack.extend(reversed(item.subckts))


def _devices(devices: tuple[Device, ...]) -> list[str]:
    taken = {d.name.lower() for d in devices}
    lines: list[str] = []
    for d in devices:
        name = _spice_name(d, taken)
        lines.append(_wrap(_device_tokens(d, name)))
    return lines


def _spice_name(d: Device, taken: set[str]) -> str:
    first = d.name[:1].upper()
    if d.kind is DeviceKind.UNKNOWN:
        if first not in LETTER_KIND:
            return d.name
        name = "U" + d.name
    elif first == d.kind.letter:
        return d.name
    else:
        name = d.kind.letter + d.name
    base, n = name, 2
    while name.lower() in taken:
        name = f"{base}__{n}"
        n += 1
    taken.add(name.lower())
    return name


def _device_tokens(d: Device, name: str) -> list[str]:
    toks = [name, *d.nets]
    kind = d.kind
    spec = [d.spec] if d.spec else []
    value = [_value(d.value)] if d.value is not None else []
    model = [d.model] if d.model else []
    if kind in (DeviceKind.VSOURCE, DeviceKind.ISOURCE):
        return toks + (["DC", *value] if value else []) + spec + _kv(d.params)
    if kind is DeviceKind.MUTUAL:
        return toks + spec + value
    if kind in (DeviceKind.CCCS, DeviceKind.CCVS, DeviceKind.CSWITCH) and not d.spec.upper().startswith("POLY"):
        # spec is the controlling source, then extra tokens (written last, where they read back)
        control, _, extra = d.spec.partition(" ")
        return toks + ([control] if control else []) + model + value + _kv(d.params) + ([extra] if extra else [])
    if kind in (DeviceKind.CCCS, DeviceKind.CCVS):
        return toks + spec + value + _kv(d.params)
    if kind is DeviceKind.BEHAVIORAL:
        return toks + spec + _kv(d.params)
    if kind is DeviceKind.SWITCH:
        return toks + model + value + _kv(d.params) + spec
    if kind in (DeviceKind.RESISTOR, DeviceKind.CAPACITOR, DeviceKind.INDUCTOR):
        # spec last: after a key=value every positional token reads back into spec
        return toks + value + model + _kv(d.params) + spec
    if kind is DeviceKind.UNKNOWN and name[:1] in "aA" and d.spec:
        # an XSPICE port template from the reader: '*' (or '~*') where each net goes, in order
        slots = d.spec.split()
        if sum(t in ("*", "~*") for t in slots) == len(d.terminals):
            nets = iter(d.nets)
            ports = [next(nets) if t == "*" else "~" + next(nets) if t == "~*" else t for t in slots]
            return [name, *ports, *model, *_kv(d.params)]
    if kind in (DeviceKind.SUBCKT, DeviceKind.UNKNOWN):
        return toks + model + _kv(d.params) + spec
    return toks + model + value + _kv(d.params) + spec
