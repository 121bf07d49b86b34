"""Does a generated circuit have a DC operating point? The simulation half of validity.

The rules (``ckt.gen.rules``) judge the graph; this asks ngspice. A circuit of any type is given
mid-range sizes (the geometric middle of ``ckt.gen.export``'s ranges: the sizes a designer would
start a search from), its MOSFETs are bound to a PDK, and its ports are driven the way a bench
would: ``VDD`` at the PDK's supply, ``VSS`` at 0 V, every other ``V*`` port at half the supply,
every ``I*`` port fed 10 µA from ``VDD``; outputs are left to the circuit. The digital cells that
AnalogGenie instantiates (``INVERTER``, ``XOR``, ``TRANSMISSION_GATE``) are flattened into the
transistors its ``{ID}_full.cir`` files define them with, so a circuit holding one is checked too.
``.option rshunt`` puts 1 TΩ from every node to ground so that a node held only by capacitors (a
switched-capacitor summing node) has a defined DC level: the question here is whether the nonlinear
solve converges, the topology being the rules' business.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

from ckt.errors import ExportError, NetlistError
from ckt.gen.export import (
    AREA_RANGE,
    BJT_CARD,
    C_RANGE,
    DIODE_CARD,
    IND_RANGE,
    L_SPAN,
    MODELS,
    R_RANGE,
    W_SPAN,
    size_limits,
)
from ckt.netlist.flatten import flatten
from ckt.netlist.ir import Device, DeviceKind, Model, Netlist, Subckt
from ckt.netlist.parse_spectre import parse_spectre
from ckt.netlist.write import write_spice
from ckt.pdk.bind import bind
from ckt.pdk.registry import Pdk, get_pdk
from ckt.sim.analyses import Op, Options, statements
from ckt.sim.result import SimJob, SimResult

if TYPE_CHECKING:
    from ckt.sim.executor_base import Executor

BIAS_CURRENT = 10e-6
RSHUNT = 1e12
_SUPPLIES = {"VDD", "VSS", "GND", "0"}
_SAFE = re.compile(r"[^A-Za-z0-9_]")


CELLS = """\
subckt INVERTER A Q VDD VSS
    M0 (Q A VDD VDD) pmos4
    M1 (Q A VSS VSS) nmos4
ends INVERTER
subckt XOR A B VDD VSS Y
    M4 (Y A B VDD) pmos4
    M2 (Y B A VDD) pmos4
    M0 (net8 A VDD VDD) pmos4
    M5 (Y net8 B VSS) nmos4
    M3 (Y B net8 VSS) nmos4
    M1 (net8 A VSS VSS) nmos4
ends XOR
subckt TRANSMISSION_GATE A B C VDD VSS
    M1 (A C B VSS) nmos4
    M13 (A net9 B VDD) pmos4
    I0 (C net9 VDD VSS) INVERTER
ends TRANSMISSION_GATE
"""
"""AnalogGenie's digital cells, as the subcircuit definitions in its ``{ID}_full.cir`` files
(e.g. 400, 438) give them."""


@lru_cache(maxsize=1)
def _cells() -> tuple[Subckt, ...]:
    return parse_spectre(CELLS, path="ckt.gen.dcop.CELLS", follow_includes=False).subckts


def _flat(devices: tuple[Device, ...]) -> tuple[Device, ...]:
    """``devices`` with every instance of a ``CELLS`` cell replaced by its transistors."""
    try:
        return flatten(Netlist(devices=devices, subckts=_cells()), sep="_").devices
    except NetlistError as exc:
        raise ExportError(str(exc)) from None


def _geo(lo: float, hi: float) -> float:
    return float(f"{math.sqrt(lo * hi):.4g}")


def _sized(d: Device, lmin: float, wmin: float) -> Device:
    if d.kind is DeviceKind.MOSFET:
        if (d.model or "").lower() not in ("nmos4", "pmos4"):
            raise ExportError(f"MOSFET {d.name} has model {d.model!r}; expected nmos4 or pmos4")
        return replace(d, value=None, params=(("w", _geo(wmin, W_SPAN * wmin)), ("l", _geo(lmin, L_SPAN * lmin))))
    if d.kind in (DeviceKind.BJT, DeviceKind.DIODE):
        model = MODELS.get((d.model or "").lower())
        if model is None:
            raise ExportError(f"{d.name} has model {d.model!r}; expected npn, pnp or diode")
        return replace(d, value=None, model=model, params=(("area", _geo(*AREA_RANGE)),))
    ranges = {DeviceKind.RESISTOR: R_RANGE, DeviceKind.CAPACITOR: C_RANGE, DeviceKind.INDUCTOR: IND_RANGE}
    if d.kind not in ranges:
        what = f"an instance of {d.model}" if d.kind is DeviceKind.SUBCKT else f"a {d.kind.name.lower()}"
        raise ExportError(f"device {d.name} is {what}; a DC check sizes MOSFETs, R, C, L, BJTs and diodes")
    return replace(d, value=_geo(*ranges[d.kind]), params=())


def dc_deck(netlist: Netlist, ports: Iterable[str], pdk: str | Pdk = "ptm180") -> str:
    """The ``.op`` deck of ``netlist`` at mid-range sizes with its ports driven (module docstring).

    Raises:
        ExportError: a device the check cannot size (an instance of a subcircuit other than
            ``CELLS``, a source, an unknown model).
    """
    pdk = get_pdk(pdk) if isinstance(pdk, str) else pdk
    lmin, wmin = size_limits(pdk)
    devices = [_sized(d, lmin, wmin) for d in _flat(netlist.devices)]
    nets = set(netlist.nets)
    sources: list[Device] = []
    for port in sorted({p for p in ports if p in nets} | ({"VDD", "VSS"} & nets)):
        up, tag = port.upper(), _SAFE.sub("_", port)
        if up == "VDD":
            sources.append(Device(f"Vdc_{tag}", DeviceKind.VSOURCE, (("p", port), ("n", "0")), value=pdk.vdd))
        elif up == "VSS":
            sources.append(Device(f"Vdc_{tag}", DeviceKind.VSOURCE, (("p", port), ("n", "0")), value=0.0))
        elif up in _SUPPLIES:
            continue
        elif up.startswith("I") and "VDD" in nets and not up.startswith("IOUT"):
            sources.append(Device(f"Idc_{tag}", DeviceKind.ISOURCE, (("p", "VDD"), ("n", port)), value=BIAS_CURRENT))
        elif up.startswith("V") and not up.startswith("VOUT"):
            sources.append(Device(f"Vdc_{tag}", DeviceKind.VSOURCE, (("p", port), ("n", "0")), value=pdk.vdd / 2))
    used = {d.model for d in devices if d.kind in (DeviceKind.BJT, DeviceKind.DIODE)}
    models = tuple(Model(m, "d" if m == "ckt_diode" else m[4:], DIODE_CARD if m == "ckt_diode" else BJT_CARD)
                   for m in MODELS.values() if m in used)
    deck = Netlist(title="ckt.gen.dcop: DC operating point at mid-range sizes", devices=(*devices, *sources),
                   models=models,
                   statements=(*statements([Options((("rshunt", RSHUNT),)), Op()]),))
    return write_spice(bind(deck, pdk))


def dc_operating_points(circuits: Sequence[tuple[Netlist, Iterable[str]]], pdk: str | Pdk = "ptm180",
                        executor: Executor | None = None, timeout_s: float = 20.0,
                        vectors: bool = False) -> list[SimResult | None]:
    """Per ``(netlist, ports)``: ngspice's result for its ``dc_deck`` (with the operating point's
    vectors when ``vectors``), or None when the circuit holds a device the check cannot size. The
    decks run as one batch, in parallel on the executor's workers."""
    decks: list[str | None] = []
    for netlist, ports in circuits:
        try:
            decks.append(dc_deck(netlist, ports, pdk))
        except ExportError:
            decks.append(None)
    jobs = [SimJob(deck=d, timeout_s=timeout_s, vectors=vectors) for d in decks if d is not None]
    if executor is None:
        from ckt.sim.executor import default_executor

        executor = default_executor()
    results = iter(executor.map(jobs) if jobs else [])
    return [next(results) if d is not None else None for d in decks]


def dc_converges(circuits: Sequence[tuple[Netlist, Iterable[str]]], pdk: str | Pdk = "ptm180",
                 executor: Executor | None = None, timeout_s: float = 20.0) -> list[bool]:
    """Per ``(netlist, ports)``: whether ngspice finds the DC operating point of its ``dc_deck``
    (False when the simulation fails or times out, or the circuit holds a device the check cannot
    size)."""
    return [r is not None and r.ok for r in dc_operating_points(circuits, pdk, executor, timeout_s)]
