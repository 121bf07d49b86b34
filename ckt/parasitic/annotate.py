"""Estimated ground capacitance of a netlist's nets, and the netlist with them as capacitors.

``estimate_ground_caps`` runs a trained parasitic model (default: the shipped
``ckt/checkpoints/parasitic``) on the pin-level view of the top level and of every subcircuit
definition, each on its own devices; ``w``/``l`` written as expressions of global ``.param`` values
are evaluated first, so a sizable DUT is read at its current sizes. Rail nets (ground and supply by
name) get no estimate: they are driven, and their capacitance does not load a signal.

What the estimate is worth: the shipped model learned from one post-layout 28 nm digital block
(CirGPS digtime: minimum-length MOSFETs, W 55 nm–2.4 µm, fan-outs of standard cells and an array).
It has never seen resistors, capacitors, long-channel analog devices, matched or guarded layout,
nor any other process, so on an analog netlist it gives the order of magnitude a compact 28 nm
layout would add to each net from its fan-out and device sizes (typically 0.1–10 fF), not a
number to sign off on: W/L beyond the training range are extrapolated, and nets on non-MOSFET
devices are judged on fan-out alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ckt.errors import CktError, NetlistError
from ckt.graph.to_pyg import to_pins_pyg
from ckt.netlist.inline import inline_includes
from ckt.netlist.ir import Device, DeviceKind, Netlist
from ckt.netlist.params import evaluate_value, global_scope
from ckt.parasitic.features import graph_inputs
from ckt.parasitic.model import ParasiticModel
from ckt.parasitic.tasks import bucket_names, bucket_of
from ckt.parasitic.train import load_model

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "parasitic" / "best.pt"
CAP_PREFIX = "CPAR_"


@dataclass(frozen=True, slots=True)
class NetEstimate:
    """One net's estimated ground capacitance.

    Attributes:
        scope: ``""`` for the top level, else the subcircuit the net belongs to.
        net: its name.
        farads: the estimate.
        bucket: the training bucket (farad range) the estimate falls in.
        fanout: pins on the net.
    """

    scope: str
    net: str
    farads: float
    bucket: str
    fanout: int


def _sized(devices: tuple[Device, ...], scope: dict[str, float]) -> tuple[Device, ...]:
    """Devices with ``w``/``l``/``m`` expressions replaced by their values where they evaluate."""
    out = []
    for d in devices:
        updates = {}
        for name in ("w", "l", "m"):
            v = d.param(name)
            if v is not None and not isinstance(v, (int, float)):
                try:
                    updates[name] = evaluate_value(v, scope)
                except CktError:
                    pass
        out.append(d.with_params(**updates) if updates else d)
    return tuple(out)


@torch.no_grad()
def _estimate(model: ParasiticModel, netlist: Netlist, scope_name: str) -> list[NetEstimate]:
    if not netlist.devices:
        return []
    data = to_pins_pyg(netlist)
    inputs = graph_inputs(data)
    nets = inline_includes(netlist, libraries=False).nets
    first = data.num_nodes - len(nets)
    index = torch.tensor([first + i for i, _ in enumerate(nets)], dtype=torch.long)
    model.eval()
    h = model.encode(inputs.x, inputs.edge_index, inputs.edge_type)
    g, _ = model.ground_outputs(h, inputs.x, index)
    log_c = g * model.net_std + model.net_mean
    names = bucket_names(model.edges)
    buckets = bucket_of(log_c, model.edges)
    fanout = torch.bincount(data.edge_index[1, data.edge_type == 1], minlength=data.num_nodes)
    return [NetEstimate(scope_name, net, float(10 ** float(log_c[i])), names[int(buckets[i])], int(fanout[first + i]))
            for i, net in enumerate(nets) if not bool(inputs.rail[first + i])]


def estimate_ground_caps(netlist: Netlist, checkpoint: str | Path | None = None,
                         scope: str | None = None) -> tuple[NetEstimate, ...]:
    """Estimated ground capacitance of every non-rail net of the top level and of each subcircuit
    (only of subcircuit ``scope`` when given; ``""`` is the top level).

    Raises:
        CheckpointError: the checkpoint is missing or not a parasitic model.
        NetlistError: ``scope`` names no subcircuit of the netlist.
    """
    model, _ = load_model(checkpoint or DEFAULT_CHECKPOINT)
    try:
        values = global_scope(netlist)
    except CktError:
        values = {}
    flat = inline_includes(netlist, libraries=False)
    if scope and scope not in {s.name for s in flat.subckts}:
        raise NetlistError(f"no subcircuit {scope!r} to estimate parasitics of")
    out = []
    if not scope:
        out += _estimate(model, replace(flat, devices=_sized(flat.devices, values), subckts=()), "")
    for sub in flat.subckts:
        if scope is None or sub.name == scope:
            body = Netlist(title=sub.name, devices=_sized(sub.devices, values), models=flat.models)
            out += _estimate(model, body, sub.name)
    return tuple(out)


def _cap_name(net: str, taken: set[str]) -> str:
    base = CAP_PREFIX + (re.sub(r"[^A-Za-z0-9_]", "_", net) or "net")
    name, k = base, 2
    while name.lower() in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name.lower())
    return name


def with_parasitic_caps(netlist: Netlist, estimates: tuple[NetEstimate, ...], ground: str = "0") -> Netlist:
    """``netlist`` with one capacitor ``CPAR_<net> <net> <ground> <farads>`` per estimate, placed in
    the estimate's scope (top level or its subcircuit).

    Raises:
        NetlistError: an estimate names a subcircuit the netlist does not define, or a bad value.
    """
    by_scope: dict[str, list[NetEstimate]] = {}
    for e in estimates:
        if not (math.isfinite(e.farads) and e.farads > 0):
            raise NetlistError(f"parasitic estimate for net {e.net}: not a positive capacitance ({e.farads})")
        by_scope.setdefault(e.scope, []).append(e)

    def caps(devices: tuple[Device, ...], items: list[NetEstimate]) -> tuple[Device, ...]:
        taken = {d.name.lower() for d in devices}
        return devices + tuple(Device(name=_cap_name(e.net, taken), kind=DeviceKind.CAPACITOR,
                                      terminals=(("p", e.net), ("n", ground)), value=e.farads) for e in items)

    subckts = {s.name: s for s in netlist.subckts}
    unknown = sorted(set(by_scope) - set(subckts) - {""})
    if unknown:
        raise NetlistError(f"parasitic estimates for undefined subcircuit(s): {', '.join(unknown)}")
    new_subs = tuple(replace(s, devices=caps(s.devices, by_scope[s.name])) if s.name in by_scope else s
                     for s in netlist.subckts)
    return replace(netlist, devices=caps(netlist.devices, by_scope.get("", [])), subckts=new_subs)
