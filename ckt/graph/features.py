"""The fixed vocabularies and feature columns of every graph view.

Everything here is a pure function of the netlist, so the same circuit always gives the same
tensors, and every column has a name (``BIPARTITE_NODE_COLUMNS``, ``PIN_NODE_COLUMNS``,
``EDGE_TYPES``) that ``docs/graphs.md`` lists.

Edge types of the bipartite graph (``EDGE_TYPES``): one entry per device kind and non-empty subset
of that kind's canonical pins (``ckt.netlist.ir.TERMINALS``), kinds in ``DeviceKind`` order, subsets
by size and then by pin order (``mosfet:d``, ``mosfet:g``, ..., ``mosfet:d+g``, ...,
``mosfet:d+g+s+b``), and a last ``other`` entry for subcircuit instances, unknown elements and any
pin set that is not a subset of its kind's canonical pins: 135 types in all.

Bipartite node features ``x`` (``BIPARTITE_NODE_COLUMNS``, 45 columns):

====== ======================= =====================================================================
column name                    meaning
====== ======================= =====================================================================
0      node:device             1 for a device node
1      node:net                1 for a net node
2-22   kind:<KIND>             one-hot device kind, ``DeviceKind`` order (MOSFET ... SUBCKT, UNKNOWN)
23     polarity:n              n-type device (nmos / npn / n-channel JFET), see ``device_polarity``
24     polarity:p              p-type device (pmos / pnp / p-channel JFET)
25     net:ground              net name looks like ground (``is_ground_name``)
26     net:supply              net name looks like a supply rail (``is_supply_name``)
27     value:log10             log10 ``|value|`` of the device's primary value (R, C, L, gain, DC)
28     value:mask              1 when column 27 holds a number (a finite non-zero float)
29-30  w:log10, w:mask         same for the ``w`` parameter (metres)
31-32  l:log10, l:mask         same for ``l``
33-34  m:log10, m:mask         same for the multiplier ``m``
35     value:negative          1 when the primary value is negative (a VCCS of negative
                               transconductance inverts where a positive one does not; ``log10|v|``
                               alone cannot tell them apart)
36-44  role:<ROLE>             the net's role by its name (``NET_ROLES``): input, output, bias,
                               reference, common_mode, clock, control, rf, logic
====== ======================= =====================================================================

Pin-level node features (``PIN_NODE_COLUMNS``, 62 columns): ``node:device``, ``node:pin``,
``node:net``, then the 21 kind columns and 2 polarity columns (device nodes), 16 ``pin:<role>``
columns (pin nodes; roles are the union of canonical pin names in first-seen ``TERMINALS`` order,
then ``pin:other`` for subcircuit/unknown pins), the 2 net flags (net nodes), the 8 numeric
columns and ``value:negative`` (device nodes), the 9 role columns (net nodes).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from itertools import combinations

from ckt.netlist.ir import TERMINALS, Device, DeviceKind, Netlist

KINDS: tuple[DeviceKind, ...] = tuple(DeviceKind)
"""Device kinds in one-hot order."""

OTHER_EDGE_TYPE = "other"


def _edge_types() -> tuple[str, ...]:
    names: list[str] = []
    for kind in KINDS:
        pins = TERMINALS.get(kind, ())
        for size in range(1, len(pins) + 1):
            for subset in combinations(pins, size):
                names.append(f"{kind.name.lower()}:{'+'.join(subset)}")
    names.append(OTHER_EDGE_TYPE)
    return tuple(names)


EDGE_TYPES: tuple[str, ...] = _edge_types()
"""Bipartite edge-type names; an edge's ``etype`` indexes this tuple."""

_EDGE_TYPE_INDEX = {name: i for i, name in enumerate(EDGE_TYPES)}

PIN_ROLES: tuple[str, ...] = tuple(dict.fromkeys(p for pins in TERMINALS.values() for p in pins)) + ("other",)
"""Pin-role one-hot order for pin nodes."""

NUMERIC_PARAMS: tuple[str, ...] = ("value", "w", "l", "m")
"""Device quantities given as log10 + mask column pairs (``value`` is ``Device.value``)."""

_NUMERIC_COLUMNS = tuple(f"{q}:{c}" for q in NUMERIC_PARAMS for c in ("log10", "mask"))
_SIGN_COLUMN = "value:negative"
_KIND_COLUMNS = tuple(f"kind:{k.name}" for k in KINDS)
_POLARITY_COLUMNS = ("polarity:n", "polarity:p")
_NET_COLUMNS = ("net:ground", "net:supply")

NET_ROLES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((f"role:{name}", re.compile(pattern, re.IGNORECASE))
                                                           for name, pattern in (
    ("input", r"^[vi]?in(_?[pnm+-])?\d*$"),
    ("output", r"^[vi]?out(_?[pnm+-])?\d*$"),
    ("bias", r"^([vi]b[np]?\d*|[vi]bias[a-z0-9_]*|[vi]bb\d*|iref\d*)$"),
    ("reference", r"^v?ref[a-z0-9_]*$"),
    ("common_mode", r"^v?cm[a-z0-9_]*$"),
    ("clock", r"^v?(clk|ckl|clock|phi)[a-z0-9_]*$"),
    ("control", r"^v?(cont|ctrl|ctl|tune)[a-z0-9_]*$"),
    ("rf", r"^v?(lo|rf|if)(_?[pnm+-])?\d*$"),
    ("logic", r"^v?(logic|latch|hold|track)[a-z0-9_]*$"),
))
"""A net's role as designers name pins (``VIN1``, ``out_p``, ``VB2``/``IBIAS``, ``VREF``, ``VCM``,
``CLK``, ``VCTRL``, ``LO``/``RF``/``IF``, ``VLATCH``): what a port is for says much of what a circuit
is (a mixer has LO and RF ports, a comparator a clock) and where its signal enters and leaves."""
_ROLE_COLUMNS = tuple(name for name, _ in NET_ROLES)

BIPARTITE_NODE_COLUMNS: tuple[str, ...] = (
    ("node:device", "node:net") + _KIND_COLUMNS + _POLARITY_COLUMNS + _NET_COLUMNS + _NUMERIC_COLUMNS
    + (_SIGN_COLUMN,) + _ROLE_COLUMNS
)
PIN_NODE_COLUMNS: tuple[str, ...] = (
    ("node:device", "node:pin", "node:net")
    + _KIND_COLUMNS
    + _POLARITY_COLUMNS
    + tuple(f"pin:{r}" for r in PIN_ROLES)
    + _NET_COLUMNS
    + _NUMERIC_COLUMNS
    + (_SIGN_COLUMN,)
    + _ROLE_COLUMNS
)

_GROUND = re.compile(r"^(0|[ad]?gnd[a-z0-9_]*|ground|vgnd)!?$", re.IGNORECASE)
_SUPPLY = re.compile(r"^([ad]?v(dd|cc|ss|ee)[a-z0-9_]*|vpwr|vgnd)!?$", re.IGNORECASE)


def is_ground_name(net: str) -> bool:
    """Ground by name: ``0``, ``gnd`` (with an ``a``/``d`` prefix or any suffix), ``ground``,
    ``vgnd``; a trailing ``!`` (global marker) is allowed. Case-insensitive."""
    return bool(_GROUND.match(net))


def is_supply_name(net: str) -> bool:
    """A supply rail by name: ``vdd``/``vcc``/``vss``/``vee`` with an optional ``a``/``d`` prefix and
    any suffix (``VDD``, ``avdd``, ``vdd_h``, ``vss!``), and ``vpwr``/``vgnd`` (SkyWater names).
    ``vss``/``vee`` count as supplies, not ground: many circuits bias them below 0 V."""
    return bool(_SUPPLY.match(net))


@lru_cache(maxsize=4096)
def edge_type(kind: DeviceKind, pins: tuple[str, ...]) -> int:
    """Index in ``EDGE_TYPES`` of the edge on which a ``kind`` device puts ``pins`` on one net."""
    canonical = TERMINALS.get(kind, ())
    if not pins or len(set(pins)) != len(pins) or not set(pins) <= set(canonical):
        return _EDGE_TYPE_INDEX[OTHER_EDGE_TYPE]
    ordered = "+".join(p for p in canonical if p in pins)
    return _EDGE_TYPE_INDEX[f"{kind.name.lower()}:{ordered}"]


_N_TYPES = {"nmos", "npn", "njf", "nfet", "nch"}
_P_TYPES = {"pmos", "pnp", "pjf", "pfet", "pch"}
_N_NAME = re.compile(r"(^n|nmos|nfet|nch|npn)", re.IGNORECASE)
_P_NAME = re.compile(r"(^p|pmos|pfet|pch|pnp)", re.IGNORECASE)


def model_types(netlist: Netlist) -> dict[str, str]:
    """``.model`` name (lower-case) → type for every card the netlist can see; the first one wins,
    as in ``Netlist.all_models`` order."""
    types: dict[str, str] = {}
    for m in netlist.all_models():
        types.setdefault(m.name.lower(), m.type)
    return types


def device_polarity(device: Device, models: dict[str, str] | None = None) -> str | None:
    """``"n"``, ``"p"`` or None for MOSFETs, BJTs, JFETs and MESFETs (None for other kinds).

    The ``.model`` card's type (``models``, from ``model_types``) decides when the netlist defines
    the model; otherwise the model name does: a name containing ``nmos``/``nfet``/``nch``/``npn``
    (or starting with ``n``) is n-type, likewise for p; a name matching both or neither gives None.
    """
    if device.kind not in (DeviceKind.MOSFET, DeviceKind.BJT, DeviceKind.JFET, DeviceKind.MESFET):
        return None
    if device.model is None:
        return None
    card = (models or {}).get(device.model.lower())
    if card in _N_TYPES:
        return "n"
    if card in _P_TYPES:
        return "p"
    is_n, is_p = bool(_N_NAME.search(device.model)), bool(_P_NAME.search(device.model))
    if is_n == is_p:
        return None
    return "n" if is_n else "p"


def numeric_features(device: Device) -> list[float]:
    """``[log10|v|, mask]`` for each of ``NUMERIC_PARAMS``; ``[0, 0]`` when the quantity is absent,
    an expression, zero or not finite."""
    out: list[float] = []
    for q in NUMERIC_PARAMS:
        v = device.value if q == "value" else device.param(q)
        if isinstance(v, (int, float)) and v != 0 and math.isfinite(v):
            out += [math.log10(abs(v)), 1.0]
        else:
            out += [0.0, 0.0]
    return out


def device_columns(device: Device, models: dict[str, str] | None = None) -> dict[str, float]:
    """The non-zero feature columns of a device node, by column name (``models`` as for
    ``device_polarity``)."""
    cols = {"node:device": 1.0, f"kind:{device.kind.name}": 1.0}
    pol = device_polarity(device, models)
    if pol is not None:
        cols[f"polarity:{pol}"] = 1.0
    for name, v in zip(_NUMERIC_COLUMNS, numeric_features(device)):
        if v:
            cols[name] = v
    if isinstance(device.value, (int, float)) and device.value < 0:
        cols[_SIGN_COLUMN] = 1.0
    return cols


def net_columns(net: str) -> dict[str, float]:
    """The non-zero feature columns of a net node, by column name."""
    cols = {"node:net": 1.0}
    if is_ground_name(net):
        cols["net:ground"] = 1.0
    if is_supply_name(net):
        cols["net:supply"] = 1.0
    bare = net.rstrip("!")
    for name, pattern in NET_ROLES:
        if pattern.match(bare):
            cols[name] = 1.0
    return cols


def pin_columns(kind: DeviceKind, pin: str) -> dict[str, float]:
    """The non-zero feature columns of a pin node: its role among its kind's canonical pins."""
    role = pin if pin in TERMINALS.get(kind, ()) else "other"
    return {"node:pin": 1.0, f"pin:{role}": 1.0}
