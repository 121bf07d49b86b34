"""PyTorch Geometric ``Data`` views of a flat netlist, their exact inverses, and a safe file format.

Both views are homogeneous ``torch_geometric.data.Data`` objects, because GNN encoders and
subgraph samplers for circuits expect one node set with type columns. The pin view's
``node_type`` and directed ``edge_type`` also let ``Data.to_heterogeneous`` (with
``pins.NODE_TYPES`` and ``pins.PYG_EDGE_TYPES``) split it into the ``HeteroData`` layout of the
CirGPS parasitic datasets.

Bipartite (``to_bipartite_pyg``): ``x [D+N, 45]`` (``features.BIPARTITE_NODE_COLUMNS``),
``node_type [D+N]`` (0 device, 1 net), ``edge_index [2, 2E]`` (columns ``0..E-1`` device → net,
``E..2E-1`` the same edges net → device), ``edge_type [2E]`` (index into ``features.EDGE_TYPES``),
``edge_attr [2E, 135]`` (its one-hot).

Pin level (``to_pins_pyg``): ``x [D+P+N, 62]`` (``features.PIN_NODE_COLUMNS``), ``node_type``
(0 device, 1 pin, 2 net — ``pins.NODE_TYPES``), ``edge_index [2, 4P]`` (device → pin, pin → net,
then both reversed, ``P`` columns each), ``edge_type [4P]`` (0 device → pin, 1 pin → net,
2 pin → device, 3 net → pin: ``pins.PYG_EDGE_TYPES``).

Bookkeeping that rebuilds the netlist lives in plain Python attributes (builtins only, see
``ckt.graph.codec``): ``device_names``, ``device_kinds`` (``DeviceKind`` names), ``device_models``,
``device_values``, ``device_params``, ``device_specs``, ``net_names``, ``netlist_meta`` (the
device-less netlist in the ``ckt.netlist/1`` JSON schema); the bipartite view adds ``device_pins``
and ``edge_pins`` (pins of edge column ``i``), the pin view ``pin_names``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch_geometric.data import Data

from ckt.errors import CktError, NetlistError
from ckt.graph import codec
from ckt.graph.bipartite import pins_by_net
from ckt.graph.features import (
    BIPARTITE_NODE_COLUMNS,
    EDGE_TYPES,
    PIN_NODE_COLUMNS,
    device_columns,
    edge_type,
    model_types,
    net_columns,
    pin_columns,
)
from ckt.netlist.inline import inline_includes
from ckt.netlist.ir import Device, DeviceKind, Netlist

FORMAT = "ckt.graph"
FORMAT_VERSION = 1


def _rows(columns: tuple[str, ...], rows: list[dict[str, float]]) -> torch.Tensor:
    index = {c: i for i, c in enumerate(columns)}
    dense = [[0.0] * len(columns) for _ in rows]
    for row, cols in zip(dense, rows):
        for name, v in cols.items():
            row[index[name]] = v
    return torch.tensor(dense, dtype=torch.float).reshape(len(rows), len(columns))


def _both_ways(src: list[int], dst: list[int]) -> torch.Tensor:
    return torch.tensor([src + dst, dst + src], dtype=torch.long).reshape(2, -1)


def _device_bookkeeping(netlist: Netlist) -> dict:
    devs = netlist.devices
    return {
        "device_names": [d.name for d in devs],
        "device_kinds": [d.kind.name for d in devs],
        "device_models": [d.model for d in devs],
        "device_values": [codec.encode_value(d.value) for d in devs],
        "device_params": [codec.encode_params(d.params) for d in devs],
        "device_specs": [d.spec for d in devs],
        "net_names": list(netlist.nets),
        "netlist_meta": codec.encode_meta(netlist),
    }


def _netlist(data: Data, terminals: list[tuple[tuple[str, str], ...]]) -> Netlist:
    """The netlist from ``data``'s bookkeeping, device ``i`` getting ``terminals[i]``."""
    columns = (
        data.device_names, data.device_kinds, data.device_models, data.device_values, data.device_params,
        data.device_specs, terminals,
    )
    if len({len(c) for c in columns}) != 1:
        raise NetlistError(f"device bookkeeping lists differ in length: {[len(c) for c in columns]}")
    devices = []
    for name, kind, model, value, params, spec, terms in zip(*columns):
        if kind not in DeviceKind.__members__:
            raise NetlistError(f"device {name}: unknown device kind {kind!r}")
        devices.append(Device(
            name=name,
            kind=DeviceKind[kind],
            terminals=terms,
            model=model,
            value=codec.decode_value(value),
            params=codec.decode_params(params),
            spec=spec,
        ))
    return replace(codec.decode_meta(data.netlist_meta), devices=tuple(devices))


def to_bipartite_pyg(netlist: Netlist) -> Data:
    """The bipartite device–net view as ``Data`` (layout in the module docstring); devices of
    included files count."""
    netlist = inline_includes(netlist, libraries=False)
    devs = netlist.devices
    nets = netlist.nets
    net_id = {n: len(devs) + i for i, n in enumerate(nets)}
    src: list[int] = []
    dst: list[int] = []
    etypes: list[int] = []
    edge_pins: list[list[str]] = []
    for i, d in enumerate(devs):
        for net, pins in pins_by_net(d).items():
            src.append(i)
            dst.append(net_id[net])
            etypes.append(edge_type(d.kind, pins))
            edge_pins.append(list(pins))
    models = model_types(netlist)
    rows = [device_columns(d, models) for d in devs] + [net_columns(n) for n in nets]
    edge_type_t = torch.tensor(etypes + etypes, dtype=torch.long)
    return Data(
        x=_rows(BIPARTITE_NODE_COLUMNS, rows),
        node_type=torch.tensor([0] * len(devs) + [1] * len(nets), dtype=torch.long),
        edge_index=_both_ways(src, dst),
        edge_type=edge_type_t,
        edge_attr=torch.nn.functional.one_hot(edge_type_t, len(EDGE_TYPES)).float(),
        num_nodes=len(devs) + len(nets),
        graph_view="bipartite",
        device_pins=[list(d.pins) for d in devs],
        edge_pins=edge_pins,
        **_device_bookkeeping(netlist),
    )


def from_bipartite_pyg(data: Data) -> Netlist:
    """The netlist a ``to_bipartite_pyg`` graph was made from, rebuilt from its ``edge_index``.

    Raises:
        NetlistError: ``data`` is not a bipartite view or its edges and bookkeeping disagree.
    """
    _check_view(data, "bipartite")
    names, net_names = data.device_names, data.net_names
    n_dev = len(names)
    n_edges = len(data.edge_pins)
    if data.edge_index.shape != (2, 2 * n_edges):
        raise NetlistError(f"edge_index has shape {tuple(data.edge_index.shape)}, expected (2, {2 * n_edges})")
    net_of: list[dict[str, str]] = [{} for _ in range(n_dev)]
    for (dev, net), pins in zip(data.edge_index[:, :n_edges].t().tolist(), data.edge_pins):
        if not (0 <= dev < n_dev <= net < n_dev + len(net_names)):
            raise NetlistError(f"edge {dev} -> {net} does not join a device to a net")
        for pin in pins:
            if pin in net_of[dev]:
                raise NetlistError(f"pin {pin} of device {names[dev]} is on two nets")
            net_of[dev][pin] = net_names[net - n_dev]
    terminals = []
    for i, pins in enumerate(data.device_pins):
        if set(net_of[i]) != set(pins):
            raise NetlistError(f"device {names[i]}: edges name pins {sorted(net_of[i])}, device has {pins}")
        terminals.append(tuple((p, net_of[i][p]) for p in pins))
    return _netlist(data, terminals)


def to_pins_pyg(netlist: Netlist) -> Data:
    """The pin-level device–pin–net view as ``Data`` (layout in the module docstring); devices of
    included files count."""
    netlist = inline_includes(netlist, libraries=False)
    devs = netlist.devices
    nets = netlist.nets
    n_pin = sum(len(d.terminals) for d in devs)
    net_id = {n: len(devs) + n_pin + i for i, n in enumerate(nets)}
    dev_src: list[int] = []
    pin_ids: list[int] = []
    net_dst: list[int] = []
    pin_rows: list[dict[str, float]] = []
    pin_names: list[str] = []
    for i, d in enumerate(devs):
        for pin, net in d.terminals:
            dev_src.append(i)
            pin_ids.append(len(devs) + len(pin_names))
            net_dst.append(net_id[net])
            pin_rows.append(pin_columns(d.kind, pin))
            pin_names.append(pin)
    models = model_types(netlist)
    rows = [device_columns(d, models) for d in devs] + pin_rows + [net_columns(n) for n in nets]
    return Data(
        x=_rows(PIN_NODE_COLUMNS, rows),
        node_type=torch.tensor([0] * len(devs) + [1] * n_pin + [2] * len(nets), dtype=torch.long),
        edge_index=_both_ways(dev_src + pin_ids, pin_ids + net_dst),
        edge_type=torch.arange(4).repeat_interleave(n_pin),
        num_nodes=len(devs) + n_pin + len(nets),
        graph_view="pins",
        pin_names=pin_names,
        **_device_bookkeeping(netlist),
    )


def from_pins_pyg(data: Data) -> Netlist:
    """The netlist a ``to_pins_pyg`` graph was made from, rebuilt from its ``edge_index``.

    Raises:
        NetlistError: ``data`` is not a pin-level view or a pin lacks exactly one device and one net.
    """
    _check_view(data, "pins")
    pin_names, net_names = data.pin_names, data.net_names
    n_dev, n_pin = len(data.device_names), len(pin_names)
    owner: list[int | None] = [None] * n_pin
    net: list[str | None] = [None] * n_pin
    first_net = n_dev + n_pin
    half = data.edge_index.shape[1] // 2
    for (a, b), t in zip(data.edge_index[:, :half].t().tolist(), data.edge_type[:half].tolist()):
        if t == 0 and 0 <= a < n_dev <= b < first_net and owner[b - n_dev] is None:
            owner[b - n_dev] = a
        elif t == 1 and n_dev <= a < first_net <= b < first_net + len(net_names) and net[a - n_dev] is None:
            net[a - n_dev] = net_names[b - first_net]
        else:
            raise NetlistError(f"edge {a} -> {b} of type {t} does not fit a pin-level graph")
    terminals: list[list[tuple[str, str]]] = [[] for _ in range(n_dev)]
    for k, (dev, n) in enumerate(zip(owner, net)):
        if dev is None or n is None:
            raise NetlistError(f"pin node {n_dev + k} ({pin_names[k]}) lacks a device or a net")
        terminals[dev].append((pin_names[k], n))
    return _netlist(data, [tuple(t) for t in terminals])


def _check_view(data: Data, view: str) -> None:
    found = getattr(data, "graph_view", None)
    if found != view:
        raise NetlistError(f"not a {view} netlist graph (graph_view={found!r})")


def save_graph(data: Data, path: str | Path) -> None:
    """Write ``data`` as a dict of tensors and builtins, readable with ``weights_only=True``."""
    torch.save({"format": FORMAT, "version": FORMAT_VERSION, "data": data.to_dict()}, path)


def load_graph(path: str | Path) -> Data:
    """Read a ``save_graph`` file without unpickling any class (``torch.load(weights_only=True)``).

    Raises:
        CktError: the file is not a ckt graph, or it holds anything but tensors and builtins.
    """
    try:
        obj = torch.load(path, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError or zipfile errors
        if isinstance(exc, OSError):
            raise
        raise CktError(f"{path}: not a ckt graph file: {exc}") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or obj.get("version") != FORMAT_VERSION:
        raise CktError(f"{path}: not a ckt graph file (format {FORMAT} version {FORMAT_VERSION})")
    return Data.from_dict(obj["data"])
