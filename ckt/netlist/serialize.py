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
from typing import Any, Callable

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


def _subckt(s: Subckt) -> dict:
    return {
        "name": s.name,
        "ports": list(s.ports),
        "devices": [_device(d) for d in s.devices],
        "params": [_param(p) for p in s.params],
        "models": [_model(m) for m in s.models],
        "subckts": [_subckt(c) for c in s.subckts],
        "loc": _loc(s.loc),
    }


def _netlist(n: Netlist) -> dict:
    return {
        "title": n.title,
        "devices": [_device(d) for d in n.devices],
        "subckts": [_subckt(s) for s in n.subckts],
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
    """``netlist`` as JSON text (strict JSON: no bare NaN/Infinity)."""
    return json.dumps(to_dict(netlist), indent=indent, allow_nan=False, ensure_ascii=False)


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
    _fields(v, path, ("name", "ports"), ("devices", "params", "models", "subckts", "loc"))
    return _built(
        path,
        Subckt,
        name=_str(v, "name", path),
        ports=_list(v, "ports", path, _read_str),
        devices=_list(v, "devices", path, _read_device),
        params=_list(v, "params", path, _read_param),
        models=_list(v, "models", path, _read_model),
        subckts=_list(v, "subckts", path, _read_subckt),
        loc=_read_loc(v, path),
    )


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
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NetlistParseError(
            [Diagnostic("error", f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno, code="json")]
        ) from None
    return from_dict(d)
