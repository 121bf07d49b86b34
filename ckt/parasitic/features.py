"""Model inputs computable from any pin-level graph: the digtime training graph and a user's netlist.

A model that is to annotate arbitrary netlists may only read what every netlist's pin view
(``ckt.graph.to_pyg.to_pins_pyg``) has, so ``graph_inputs`` reduces ``PIN_NODE_COLUMNS`` to
``FEATURES``: node type, device kind (MOSFET or other), pin role (d/g/s/b/other), W and L (log10,
offset to about zero, with presence masks), whether a pin sits on a rail, the node's fan-out (pins
on a net, pins of a device, as ``log1p``), a device's share of pins on rails, for a net the load
it drives (how many gate and other — drain, source, bulk, passive — pins sit on it, and their summed
W, log10 and offset) and for a pin the fan-out of its net: the sums a layout's wire and diffusion
capacitance grows with, which mean-aggregating message passing cannot count. Digtime's own
undocumented statistics (``x_digtime``) are deliberately not used.

Rail nets (ground and supply by name, digtime's two rails) couple everything to everything, so
their edges are left out of message passing (CirGPS drops them too) and they are never targets;
what they tell is kept in ``pin:on_rail`` and ``rail_share``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Data

from ckt.errors import DatasetError
from ckt.graph.features import PIN_NODE_COLUMNS

FEATURES: tuple[str, ...] = (
    "node:device", "node:pin", "node:net", "kind:mosfet", "kind:other",
    "pin:d", "pin:g", "pin:s", "pin:b", "pin:other",
    "w:log10", "w:mask", "l:log10", "l:mask", "pin:on_rail", "fanout:log1p", "rail_share",
    "net:gates:log1p", "net:diffusions:log1p", "net:gate_w:log10", "net:diffusion_w:log10", "pin:net_fanout:log1p",
)
"""Input columns of every parasitic model, in order."""

W_OFFSET, L_OFFSET = 6.5, 7.0
"""Added to log10 W and log10 L (metres) so 28 nm sizes sit near zero."""

_COL = {c: i for i, c in enumerate(PIN_NODE_COLUMNS)}


@dataclass(frozen=True, slots=True)
class GraphInputs:
    """What a parasitic model reads of one pin-level graph.

    Attributes:
        x: ``[N, len(FEATURES)]`` node features.
        edge_index: ``[2, E]`` message-passing edges (the pin view's, those touching a rail dropped).
        edge_type: ``[E]`` their pin-view edge types (0 device→pin, 1 pin→net, 2, 3 reversed).
        node_type: ``[N]`` 0 device, 1 pin, 2 net.
        rail: ``[N]`` True on rail nets.
    """

    x: Tensor
    edge_index: Tensor
    edge_type: Tensor
    node_type: Tensor
    rail: Tensor

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])


def graph_inputs(data: Data) -> GraphInputs:
    """``FEATURES`` and the rail-free message-passing edges of a pin-level ``Data``.

    Raises:
        DatasetError: ``data`` is not in the pin-view layout (62 columns, node and edge types).
    """
    x, node_type = data.x, getattr(data, "node_type", None)
    if node_type is None or x.dim() != 2 or x.shape[1] != len(PIN_NODE_COLUMNS) or "edge_type" not in data:
        raise DatasetError("parasitic models read the pin-level view (ckt.graph.to_pyg.to_pins_pyg)")
    n = x.shape[0]
    col = lambda name: x[:, _COL[name]]  # noqa: E731
    rail = (node_type == 2) & ((col("net:ground") > 0) | (col("net:supply") > 0))
    half = data.edge_index.shape[1] // 2
    forward, kinds = data.edge_index[:, :half], data.edge_type[:half]
    dev_pin, pin_net = forward[:, kinds == 0], forward[:, kinds == 1]
    on_rail = torch.zeros(n, dtype=torch.bool)
    on_rail[pin_net[0][rail[pin_net[1]]]] = True
    degree = torch.bincount(dev_pin[0], minlength=n) + torch.bincount(pin_net[1], minlength=n)
    rail_pins = torch.zeros(n).index_add_(0, dev_pin[0], on_rail[dev_pin[1]].float())
    is_pin = col("node:pin")
    roles = [col(f"pin:{r}") for r in ("d", "g", "s", "b")]
    mosfet = col("kind:MOSFET")
    feats = [
        col("node:device"), is_pin, col("node:net"), mosfet, col("node:device") - mosfet,
        *roles, is_pin - sum(roles),
        (col("w:log10") + W_OFFSET) * col("w:mask"), col("w:mask"),
        (col("l:log10") + L_OFFSET) * col("l:mask"), col("l:mask"),
        on_rail.float(), torch.log1p(degree.float()) * (1 - is_pin),
        rail_pins / degree.clamp_min(1) * col("node:device"),
    ]
    pin_w = torch.zeros(n)
    pin_w[dev_pin[1]] = (10 ** col("w:log10") * col("w:mask"))[dev_pin[0]]
    gate = col("pin:g")[pin_net[0]]
    sums = []
    for weight in (gate, 1 - gate):
        k = torch.zeros(n).index_add_(0, pin_net[1], weight * is_pin[pin_net[0]])
        w = torch.zeros(n).index_add_(0, pin_net[1], weight * pin_w[pin_net[0]])
        sums.append((torch.log1p(k), torch.where(w > 0, torch.log10(w.clamp_min(1e-30)) + W_OFFSET, 0.0)))
    net_fanout = torch.zeros(n)
    net_fanout[pin_net[0]] = torch.log1p(degree[pin_net[1]].float())
    feats += [sums[0][0], sums[1][0], sums[0][1], sums[1][1], net_fanout]
    keep = ~(rail[data.edge_index[0]] | rail[data.edge_index[1]])
    return GraphInputs(x=torch.stack(feats, dim=1).float(), edge_index=data.edge_index[:, keep],
                       edge_type=data.edge_type[keep], node_type=node_type, rail=rail)


PAIR_FEATURES: tuple[str, ...] = ("same_device", "same_net", "one_device_apart", "shared_nets:log1p")
"""Structural relation of a coupling pair's two ends (pins or nets), read from the edges a model may
use: two pins of one device; ends on one net; one end's net reached through the other end's device;
how many nets the ends' neighbourhoods (a pin: its device's nets; a net: the nets of the devices on
it) share. Coupling is a matter of layout proximity, which the schematic shows only this way."""


def pair_features(edge_index: Tensor, edge_type: Tensor, node_type: Tensor, links: Tensor) -> Tensor:
    """``[L, len(PAIR_FEATURES)]`` for the pairs ``links [2, L]``, over the edges given."""
    n = node_type.numel()
    pin_dev = [-1] * n
    pin_net = [-1] * n
    for (a, b), t in zip(edge_index.t().tolist(), edge_type.tolist()):
        if t == 0:
            pin_dev[b] = a
        elif t == 1:
            pin_net[a] = b
    kinds = node_type.tolist()
    dev_nets: dict[int, set[int]] = {}
    net_devs: dict[int, set[int]] = {}
    for p in range(n):
        if kinds[p] == 1 and pin_dev[p] >= 0 and pin_net[p] >= 0:
            dev_nets.setdefault(pin_dev[p], set()).add(pin_net[p])
            net_devs.setdefault(pin_net[p], set()).add(pin_dev[p])
    near_cache: dict[int, set[int]] = {}

    def own_net(u: int) -> int:
        return u if kinds[u] == 2 else pin_net[u]

    def near(u: int) -> set[int]:
        if u not in near_cache:
            if kinds[u] == 2:
                near_cache[u] = {m for d in net_devs.get(u, ()) for m in dev_nets.get(d, ())}
            else:
                near_cache[u] = set(dev_nets.get(pin_dev[u], ()))
        return near_cache[u]

    rows = []
    for u, v in links.t().tolist():
        nu, nv = own_net(u), own_net(v)
        same_dev = kinds[u] == kinds[v] == 1 and pin_dev[u] >= 0 and pin_dev[u] == pin_dev[v]
        apart = (nu >= 0 and nu in near(v)) or (nv >= 0 and nv in near(u))
        rows.append((float(same_dev), float(nu >= 0 and nu == nv), float(apart),
                     float(torch.log1p(torch.tensor(float(len(near(u) & near(v))))))))
    return torch.tensor(rows, dtype=torch.float).reshape(-1, len(PAIR_FEATURES))
