"""Plain-data encoding of what a graph carries besides its tensors, and node-link JSON of graphs.

Graphs keep everything needed to rebuild their netlist exactly. In memory that is IR objects; on
disk (``torch.save`` read back with ``weights_only=True``) and in JSON it must be builtins only —
``None``, ``bool``, ``int``, ``float``, ``str``, lists and dicts — so that loading never unpickles a
class. Values follow the ``ckt.netlist/1`` JSON schema of ``ckt.netlist.serialize`` (expressions
``{"expr": text}``, non-finite floats ``{"float": "inf"}``), and the non-device part of a netlist is
stored with ``serialize.to_dict``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import networkx as nx

from ckt.errors import NetlistError
from ckt.netlist import serialize
from ckt.netlist.ir import DeviceKind, Expr, Netlist, Value

_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def encode_value(value: Value | None) -> float | dict | None:
    """A finite float stays a float; an expression becomes ``{"expr": text}``, inf/nan
    ``{"float": "inf"}``."""
    if value is None:
        return None
    if isinstance(value, Expr):
        return {"expr": value.text}
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            return value
        return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    raise NetlistError(f"cannot encode value {value!r} of type {type(value).__name__}")


def decode_value(obj: Any) -> Value | None:
    if obj is None or (isinstance(obj, (int, float)) and not isinstance(obj, bool)):
        return obj
    if isinstance(obj, dict) and len(obj) == 1:
        if isinstance(obj.get("expr"), str):
            return Expr(obj["expr"])
        if obj.get("float") in _NON_FINITE:
            return _NON_FINITE[obj["float"]]
    raise NetlistError(f"not an encoded value: {obj!r:.60}")


def encode_params(params: tuple[tuple[str, Value], ...]) -> list[list]:
    return [[k, encode_value(v)] for k, v in params]


def decode_params(obj: list) -> tuple[tuple[str, Value], ...]:
    try:
        pairs = [(str(k), decode_value(v)) for k, v in obj]
    except (TypeError, ValueError) as exc:
        raise NetlistError(f"not encoded parameters: {obj!r:.60}") from exc
    out: list[tuple[str, Value]] = []
    for k, v in pairs:
        if v is None:  # a parameter always has a value; only a device's own value may be absent
            raise NetlistError(f"not encoded parameters: {k} has no value")
        out.append((k, v))
    return tuple(out)


def encode_meta(netlist: Netlist) -> dict:
    """Everything of ``netlist`` but its devices, as ``serialize.to_dict`` writes it."""
    return serialize.to_dict(replace(netlist, devices=()))


def decode_meta(obj: dict) -> Netlist:
    """The device-less netlist ``encode_meta`` wrote (``NetlistParseError`` when malformed)."""
    return serialize.from_dict(obj)


def graph_to_json(g: nx.Graph) -> dict:
    """``g`` (a bipartite or pin-level view) as networkx node-link data made of builtins only."""
    data = nx.node_link_data(g, edges="edges")
    data["graph"] = {**data["graph"], "netlist": encode_meta(data["graph"]["netlist"])}
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
        g.graph["netlist"] = decode_meta(g.graph["netlist"])
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
