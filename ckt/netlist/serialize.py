"""The netlist IR as JSON: a lossless, versioned encoding for caches, datasets and tools in other languages.

This module owns the schema ``ckt.netlist/1``. Every IR field is written, including the ones that
do not take part in equality (source locations, diagnostics, the parsed content of includes), so
``from_dict(to_dict(n)) == n`` and locations survive too. Expressions are ``{"expr": "2*w"}`` and
non-finite floats ``{"float": "inf"}``, so neither can be mistaken for a plain number. On reading,
fields with a default in the IR may be left out; anything else wrong raises ``NetlistParseError``
naming the JSON path of the bad field (``devices[3].kind``).
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from typing import Any, Literal, overload

from ckt.errors import CktError, NetlistParseError
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

SCHEMA = "ckt.netlist/1"

_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}

# ---------------------------------------------------------------- writing


def _value(v: Value | None) -> Any:
    if v is None:
        return None
    if isinstance(v, Expr):
        return {"expr": v.text}
    v = float(v)
    if math.isfinite(v):
        return v
    return {"float": "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}


def _loc(loc: SourceLoc | None) -> dict | None:
    return None if loc is None else {"file": loc.file, "line": loc.line}


def _pairs(items: tuple[tuple[str, Value], ...]) -> list:
    return [[k, _value(v)] for k, v in items]


def _device(d: Device) -> dict:
    return {
        "name": d.name,
        "kind": d.kind.value,
        "terminals": [[p, n] for p, n in d.terminals],
        "model": d.model,
        "value": _value(d.value),
        "params": _pairs(d.params),
        "spec": d.spec,
        "loc": _loc(d.loc),
    }


def _param(p: Param) -> dict:
    return {"name": p.name, "value": _value(p.value), "loc": _loc(p.loc)}


def _model(m: Model) -> dict:
    return {"name": m.name, "type": m.type, "params": _pairs(m.params), "loc": _loc(m.loc)}


def _subckts(subckts: tuple[Subckt, ...]) -> list:
    """The definitions as dicts, nested ones inside their parent's ``subckts`` list.

    Built with an explicit stack (each definition is appended to its parent's list when it is
    reached), so a deck with thousands of nested ``.subckt`` levels does not exhaust Python's stack.
    """
    out: list = []
    stack = [(s, out) for s in reversed(subckts)]
    while stack:
        s, target = stack.pop()
        children: list = []
        d: dict[str, Any] = {
            "name": s.name,
            "ports": list(s.ports),
            "devices": [_device(x) for x in s.devices],
            "params": [_param(p) for p in s.params],
            "models": [_model(m) for m in s.models],
            "subckts": children,
            "loc": _loc(s.loc),
        }
        target.append(d)
        stack.extend((c, children) for c in reversed(s.subckts))
    return out


def _netlist(n: Netlist) -> dict:
    return {
        "title": n.title,
        "devices": [_device(d) for d in n.devices],
        "subckts": _subckts(n.subckts),
        "params": [_param(p) for p in n.params],
        "models": [_model(m) for m in n.models],
        "includes": [
            {
                "path": i.path,
                "section": i.section,
                "netlist": None if i.netlist is None else _netlist(i.netlist),
                "loc": _loc(i.loc),
            }
            for i in n.includes
        ],
        "statements": [{"keyword": s.keyword, "text": s.text, "loc": _loc(s.loc)} for s in n.statements],
        "globals": list(n.globals),
        "diagnostics": [
            {"severity": d.severity, "message": d.message, "file": d.file, "line": d.line, "code": d.code}
            for d in n.diagnostics
        ],
    }


def to_dict(netlist: Netlist) -> dict:
    """A JSON-able dict of the whole IR, tagged ``"schema": "ckt.netlist/1"``."""
    return {"schema": SCHEMA, **_netlist(netlist)}


def dumps(netlist: Netlist, indent: int | None = 2) -> str:
    """``netlist`` as JSON text (strict JSON: no bare NaN/Infinity; non-finite floats are tagged).

    A netlist nested deeper than Python's recursion limit allows (hundreds of ``.subckt`` levels)
    is written without indentation: indented text would grow with the square of the depth.
    """
    d = to_dict(netlist)
    if 3 * _nesting(netlist) < sys.getrecursionlimit() // 2:  # each level: object, list, object
        try:
            return json.dumps(d, indent=indent, allow_nan=False, ensure_ascii=False)
        except RecursionError:
            pass
    return _deep_enough(lambda: _depth(d), json.dumps, d, allow_nan=False, ensure_ascii=False)


def _nesting(netlist: Netlist) -> int:
    """How many ``.subckt`` definitions deep ``netlist`` nests (walked with a stack)."""
    deepest, stack = 0, [(s, 1) for s in netlist.subckts]
    while stack:
        s, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((c, level + 1) for c in s.subckts)
    return deepest


MAX_JSON_DEPTH = 30_000
"""Deepest JSON nesting read or written (about 10,000 nested ``.subckt`` levels): the standard json
module recurses in C, so beyond this the process stack itself is at risk."""


def _depth(obj: Any) -> int:
    """The nesting depth of a JSON-able value, counted without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        x, level = stack.pop()
        if isinstance(x, dict):
            x = list(x.values())
        if isinstance(x, list):
            deepest = max(deepest, level)
            stack.extend((y, level + 1) for y in x if isinstance(y, (dict, list)))
    return deepest


def _deep_enough(depth: Callable[[], int], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; when the json module's C code runs out of recursion (it counts each
    level of nesting against Python's limit), again with the limit raised for ``depth()`` levels, then
    restored. Ordinary netlists never pay for measuring the depth."""
    try:
        return fn(*args, **kwargs)
    except RecursionError:
        pass
    levels = depth()
    if levels > MAX_JSON_DEPTH:
        raise NetlistParseError([Diagnostic(
            "error", f"JSON nested {levels} levels deep; ckt handles at most {MAX_JSON_DEPTH}", code="json")])
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(old + levels + 100)
    try:
        return fn(*args, **kwargs)
    finally:
        sys.setrecursionlimit(old)


# ---------------------------------------------------------------- reading


class _Bad(Exception):
    """A schema violation at a JSON path; turned into a NetlistParseError at the top."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '<root>'}: {message}")


_MISSING = object()


def _fields(obj: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
    if not isinstance(obj, dict):
        raise _Bad(path, f"expected an object, got {type(obj).__name__}")
    unknown = obj.keys() - set(required) - set(optional)
    if unknown:
        raise _Bad(path, f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    for key in required:
        if key not in obj:
            raise _Bad(path, f"missing field {key!r}")
    return obj


def _at(path: str, key: str | int) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)


def _str(obj: dict, key: str, path: str, default: Any = _MISSING, nullable: bool = False) -> Any:
    v = obj.get(key, default)
    if v is None and nullable:
        return None
    if not isinstance(v, str):
        raise _Bad(_at(path, key), f"expected a string{' or null' if nullable else ''}, got {_type(v)}")
    return v


@overload
def _int(obj: dict, key: str, path: str, nullable: Literal[False] = False) -> int: ...
@overload
def _int(obj: dict, key: str, path: str, nullable: bool) -> int | None: ...
def _int(obj: dict, key: str, path: str, nullable: bool = False) -> int | None:
    v = obj.get(key)
    if v is None and nullable:
        return None
    if not isinstance(v, int) or isinstance(v, bool):
        raise _Bad(_at(path, key), f"expected an integer, got {_type(v)}")
    return v


def _type(v: Any) -> str:
    return "null" if v is None else ("missing" if v is _MISSING else type(v).__name__)


def _list(obj: dict, key: str, path: str, item: Callable[[Any, str], Any]) -> tuple:
    v = obj.get(key, [])
    p = _at(path, key)
    if not isinstance(v, list):
        raise _Bad(p, f"expected a list, got {_type(v)}")
    return tuple(item(x, _at(p, i)) for i, x in enumerate(v))


def _read_str(v: Any, path: str) -> str:
    if not isinstance(v, str):
        raise _Bad(path, f"expected a string, got {_type(v)}")
    return v


@overload
def _read_value(v: Any, path: str, nullable: Literal[False] = False) -> Value: ...
@overload
def _read_value(v: Any, path: str, nullable: bool) -> Value | None: ...
def _read_value(v: Any, path: str, nullable: bool = False) -> Value | None:
    if v is None and nullable:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, dict) and len(v) == 1:
        if isinstance(v.get("expr"), str):
            return Expr(v["expr"])
        if isinstance(v.get("float"), str) and v["float"] in _NON_FINITE:
            return _NON_FINITE[v["float"]]
    raise _Bad(path, f"expected a number, {{'expr': text}} or {{'float': 'inf'|'-inf'|'nan'}}, got {v!r:.60}")


def _read_pair_str(v: Any, path: str) -> tuple[str, str]:
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)):
        raise _Bad(path, "expected a [string, string] pair")
    return (v[0], v[1])


def _read_pair_value(v: Any, path: str) -> tuple[str, Value]:
    if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)):
        raise _Bad(path, "expected a [name, value] pair")
    return (v[0], _read_value(v[1], _at(path, 1)))


def _read_loc(obj: dict, path: str) -> SourceLoc | None:
    v = obj.get("loc")
    if v is None:
        return None
    p = _at(path, "loc")
    _fields(v, p, ("line",), ("file",))
    return SourceLoc(_str(v, "file", p, None, nullable=True), _int(v, "line", p))


_KINDS = {k.value: k for k in DeviceKind}


def _read_device(v: Any, path: str) -> Device:
    _fields(v, path, ("name", "kind", "terminals"), ("model", "value", "params", "spec", "loc"))
    kind = v["kind"]
    if not isinstance(kind, str) or kind not in _KINDS:
        raise _Bad(_at(path, "kind"), f"expected one of {', '.join(_KINDS)}, got {kind!r:.40}")
    return Device(
        name=_str(v, "name", path),
        kind=_KINDS[kind],
        terminals=_list(v, "terminals", path, _read_pair_str),
        model=_str(v, "model", path, None, nullable=True),
        value=_read_value(v.get("value"), _at(path, "value"), nullable=True),
        params=_list(v, "params", path, _read_pair_value),
        spec=_str(v, "spec", path, ""),
        loc=_read_loc(v, path),
    )


def _read_param(v: Any, path: str) -> Param:
    _fields(v, path, ("name", "value"), ("loc",))
    return Param(_str(v, "name", path), _read_value(v["value"], _at(path, "value")), _read_loc(v, path))


def _read_model(v: Any, path: str) -> Model:
    _fields(v, path, ("name", "type"), ("params", "loc"))
    params = _list(v, "params", path, _read_pair_value)
    return Model(_str(v, "name", path), _str(v, "type", path), params, _read_loc(v, path))


def _read_subckt(v: Any, path: str) -> Subckt:
    """One definition and every definition nested in it, read without recursion: the dicts are
    listed parent first, then built children first (a frozen ``Subckt`` needs its children)."""
    order: list[tuple[dict, str, list]] = []
    stack = [(v, path)]
    while stack:
        obj, p = stack.pop()
        _fields(obj, p, ("name", "ports"), ("devices", "params", "models", "subckts", "loc"))
        kids = obj.get("subckts", [])
        if not isinstance(kids, list):
            raise _Bad(_at(p, "subckts"), f"expected a list, got {_type(kids)}")
        order.append((obj, p, kids))
        base = _at(p, "subckts")
        stack.extend((kid, _at(base, i)) for i, kid in reversed(list(enumerate(kids))))
    built: dict[int, Subckt] = {}
    for obj, p, kids in reversed(order):
        built[id(obj)] = _built(
            p,
            Subckt,
            name=_str(obj, "name", p),
            ports=_list(obj, "ports", p, _read_str),
            devices=_list(obj, "devices", p, _read_device),
            params=_list(obj, "params", p, _read_param),
            models=_list(obj, "models", p, _read_model),
            subckts=tuple(built.pop(id(kid)) for kid in kids),
            loc=_read_loc(obj, p),
        )
    return built[id(v)]


def _read_include(v: Any, path: str) -> Include:
    _fields(v, path, ("path",), ("section", "netlist", "loc"))
    inner = v.get("netlist")
    return Include(
        path=_str(v, "path", path),
        section=_str(v, "section", path, None, nullable=True),
        netlist=None if inner is None else _read_netlist(inner, _at(path, "netlist")),
        loc=_read_loc(v, path),
    )


def _read_statement(v: Any, path: str) -> Statement:
    _fields(v, path, ("keyword", "text"), ("loc",))
    return Statement(_str(v, "keyword", path), _str(v, "text", path), _read_loc(v, path))


def _read_diagnostic(v: Any, path: str) -> Diagnostic:
    _fields(v, path, ("severity", "message"), ("file", "line", "code"))
    return Diagnostic(
        _str(v, "severity", path),
        _str(v, "message", path),
        _str(v, "file", path, None, nullable=True),
        _int(v, "line", path, nullable=True),
        _str(v, "code", path, ""),
    )


_NETLIST_FIELDS = (
    "title", "devices", "subckts", "params", "models", "includes", "statements", "globals", "diagnostics"
)


def _read_netlist(v: Any, path: str, extra: tuple[str, ...] = ()) -> Netlist:
    _fields(v, path, extra, _NETLIST_FIELDS)
    return _built(
        path,
        Netlist,
        title=_str(v, "title", path, ""),
        devices=_list(v, "devices", path, _read_device),
        subckts=_list(v, "subckts", path, _read_subckt),
        params=_list(v, "params", path, _read_param),
        models=_list(v, "models", path, _read_model),
        includes=_list(v, "includes", path, _read_include),
        statements=_list(v, "statements", path, _read_statement),
        globals=_list(v, "globals", path, _read_str),
        diagnostics=_list(v, "diagnostics", path, _read_diagnostic),
    )


def _built(path: str, cls: type, **fields: Any) -> Any:
    """``cls(**fields)``, reporting the IR's own consistency errors (duplicate names) at ``path``."""
    try:
        return cls(**fields)
    except CktError as exc:
        raise _Bad(path, str(exc)) from None


def from_dict(d: Any) -> Netlist:
    """The netlist encoded by ``d`` (as made by ``to_dict``).

    Raises:
        NetlistParseError: a wrong or missing ``schema``, or a field of the wrong shape (the
            diagnostic names its path).
    """
    try:
        if not isinstance(d, dict):
            raise _Bad("", f"expected an object, got {_type(d)}")
        if d.get("schema") != SCHEMA:
            raise _Bad("schema", f"expected {SCHEMA!r}, got {d.get('schema', 'nothing')!r:.40}")
        return _read_netlist(d, "", ("schema",))
    except _Bad as exc:
        raise NetlistParseError([Diagnostic("error", str(exc), code="schema")]) from None


def loads(text: str | bytes) -> Netlist:
    """The netlist in JSON ``text`` (bytes are decoded by ``ckt.netlist.source``, a BOM is dropped);
    bad JSON or schema raise ``NetlistParseError``."""
    from ckt.netlist.source import check_text, decode_source

    text = decode_source(text).text if isinstance(text, bytes) else check_text(text)
    try:
        d = _deep_enough(lambda: _brackets(text), json.loads, text)
    except json.JSONDecodeError as exc:
        raise NetlistParseError(
            [Diagnostic("error", f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno, code="json")]
        ) from None
    return from_dict(d)


def _brackets(text: str) -> int:
    """The nesting depth of JSON ``text`` (strings skipped), counted without recursion."""
    depth = deepest = 0
    for ch in _STRUCTURE.findall(text):
        if ch:
            depth += 1 if ch in "[{" else -1
            deepest = max(deepest, depth)
    return deepest


_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|([\[\]{}])')
