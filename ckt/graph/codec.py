"""Plain-data encoding of the IR pieces a graph carries besides its tensors.

Graphs keep everything needed to rebuild their netlist exactly. In memory that is IR objects; on disk
(``torch.save`` read back with ``weights_only=True``) and in JSON it must be builtins only — ``None``,
``bool``, ``int``, ``float``, ``str``, lists and dicts — so that loading never unpickles a class. This
module owns that mapping: ``Expr`` values become ``{"expr": text}``, dataclasses become dicts, tuples
become lists; decoding restores the exact IR (source locations are not kept: they never take part
in equality).
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from ckt.errors import NetlistError
from ckt.netlist.ir import (
    Device,
    DeviceKind,
    Diagnostic,
    Expr,
    Include,
    Model,
    Netlist,
    Param,
    Statement,
    Subckt,
    Value,
)


def encode_value(value: Value | None) -> float | dict | None:
    """A float stays a float, an expression becomes ``{"expr": text}``."""
    if value is None or isinstance(value, (int, float)):
        return value
    if isinstance(value, Expr):
        return {"expr": value.text}
    raise NetlistError(f"cannot encode value {value!r} of type {type(value).__name__}")


def decode_value(obj: Any) -> Value | None:
    if obj is None or isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, dict) and set(obj) == {"expr"}:
        return Expr(obj["expr"])
    raise NetlistError(f"not an encoded value: {obj!r}")


def encode_params(params: tuple[tuple[str, Value], ...]) -> list[list]:
    return [[k, encode_value(v)] for k, v in params]


def decode_params(obj: list) -> tuple[tuple[str, Value], ...]:
    return tuple((str(k), decode_value(v)) for k, v in obj)


def encode_device(d: Device) -> dict:
    return {
        "name": d.name,
        "kind": d.kind.name,
        "terminals": [[p, n] for p, n in d.terminals],
        "model": d.model,
        "value": encode_value(d.value),
        "params": encode_params(d.params),
        "spec": d.spec,
    }


def decode_device(obj: dict) -> Device:
    return Device(
        name=obj["name"],
        kind=DeviceKind[obj["kind"]],
        terminals=tuple((p, n) for p, n in obj["terminals"]),
        model=obj["model"],
        value=decode_value(obj["value"]),
        params=decode_params(obj["params"]),
        spec=obj["spec"],
    )


def _encode_model(m: Model) -> dict:
    return {"name": m.name, "type": m.type, "params": encode_params(m.params)}


def _decode_model(o: dict) -> Model:
    return Model(o["name"], o["type"], decode_params(o["params"]))


def _encode_param(p: Param) -> list:
    return [p.name, encode_value(p.value)]


def _decode_param(o: list) -> Param:
    return Param(o[0], decode_value(o[1]))


def _encode_subckt(s: Subckt) -> dict:
    return {
        "name": s.name,
        "ports": list(s.ports),
        "devices": [encode_device(d) for d in s.devices],
        "params": [_encode_param(p) for p in s.params],
        "models": [_encode_model(m) for m in s.models],
        "subckts": [_encode_subckt(c) for c in s.subckts],
    }


def _decode_subckt(o: dict) -> Subckt:
    return Subckt(
        name=o["name"],
        ports=tuple(o["ports"]),
        devices=tuple(decode_device(d) for d in o["devices"]),
        params=tuple(_decode_param(p) for p in o["params"]),
        models=tuple(_decode_model(m) for m in o["models"]),
        subckts=tuple(_decode_subckt(c) for c in o["subckts"]),
    )


def encode_netlist(n: Netlist) -> dict:
    """Every field of ``n`` as builtins, resolved includes and diagnostics included."""
    return {
        "title": n.title,
        "devices": [encode_device(d) for d in n.devices],
        "subckts": [_encode_subckt(s) for s in n.subckts],
        "params": [_encode_param(p) for p in n.params],
        "models": [_encode_model(m) for m in n.models],
        "includes": [
            {
                "path": i.path,
                "section": i.section,
                "netlist": None if i.netlist is None else encode_netlist(i.netlist),
            }
            for i in n.includes
        ],
        "statements": [[s.keyword, s.text] for s in n.statements],
        "globals": list(n.globals),
        "diagnostics": [[d.severity, d.message, d.file, d.line, d.code] for d in n.diagnostics],
    }


def decode_netlist(o: dict) -> Netlist:
    try:
        return Netlist(
            title=o["title"],
            devices=tuple(decode_device(d) for d in o["devices"]),
            subckts=tuple(_decode_subckt(s) for s in o["subckts"]),
            params=tuple(_decode_param(p) for p in o["params"]),
            models=tuple(_decode_model(m) for m in o["models"]),
            includes=tuple(
                Include(i["path"], i["section"], None if i["netlist"] is None else decode_netlist(i["netlist"]))
                for i in o["includes"]
            ),
            statements=tuple(Statement(k, t) for k, t in o["statements"]),
            globals=tuple(o["globals"]),
            diagnostics=tuple(Diagnostic(*d) for d in o["diagnostics"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise NetlistError(f"malformed encoded netlist: {exc!r}") from exc


def graph_to_json(g: nx.Graph) -> dict:
    """``g`` (a bipartite or pin-level view) as networkx node-link data made of builtins only."""
    data = nx.node_link_data(g, edges="edges")
    data["graph"] = {**data["graph"], "netlist": encode_netlist(data["graph"]["netlist"])}
    for node in data["nodes"]:
        if node.get("type") == "device":
            node.update(
                kind=node["kind"].name,
                value=encode_value(node["value"]),
                params=encode_params(node["params"]),
            )
            if "pins" in node:
                node["pins"] = list(node["pins"])
    for edge in data["edges"]:
        if "pins" in edge:
            edge["pins"] = list(edge["pins"])
    return data


def graph_from_json(data: dict) -> nx.Graph:
    """The graph ``graph_to_json`` encoded, with IR values restored."""
    try:
        g = nx.node_link_graph(data, edges="edges")
        g.graph["netlist"] = decode_netlist(g.graph["netlist"])
        for _, attrs in g.nodes(data=True):
            if attrs.get("type") == "device":
                attrs.update(
                    kind=DeviceKind[attrs["kind"]],
                    value=decode_value(attrs["value"]),
                    params=decode_params(attrs["params"]),
                )
                if "pins" in attrs:
                    attrs["pins"] = tuple(attrs["pins"])
        for _, _, attrs in g.edges(data=True):
            if "pins" in attrs:
                attrs["pins"] = tuple(attrs["pins"])
    except (KeyError, TypeError, nx.NetworkXError) as exc:
        raise NetlistError(f"malformed graph JSON: {exc!r}") from exc
    return g
