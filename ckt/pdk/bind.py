"""Binding generic transistors to a PDK: ``nmos4``/``pmos4`` devices become the technology's devices.

Netlists from datasets, generators and the bundled examples name transistors generically (``nmos4``,
``pmos4``: four-terminal D G S B). ``bind`` rewrites them for one ``Pdk``:

* model-style PDKs (PTM, gf180): the M device keeps everything and its model is renamed;
* subckt-style PDKs (sky130): the M device becomes an X instance of the PDK subcircuit with pins
  ``d g s b``; W, L, AS, AD, PS, PD are converted from metres to the PDK's length unit (a float is
  divided, an expression is wrapped: ``w`` -> ``(w)/1e-06``). ``m``, ``nf`` and others pass through.

Which names count as generic is the ``generic`` argument (case-insensitive); a name's polarity is its
first letter (``n...`` or ``p...``), so ``generic=("nmos4", "pmos4", "nmos", "pmos")`` also binds
plain ``nmos``/``pmos``. Plain ``nmos``/``pmos`` are not bound by default because they are the real
model names of the PTM cards.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from ckt.errors import PdkError
from ckt.netlist.ir import Device, DeviceKind, Expr, Include, Netlist, Subckt, Value
from ckt.pdk.registry import Pdk, models_root

GENERIC = ("nmos4", "pmos4")
LENGTH_PARAMS = {"w": 1, "l": 1, "as": 2, "ad": 2, "ps": 1, "pd": 1}
"""Parameters converted to the PDK length unit, with the power of length they carry."""


def bind(netlist: Netlist, pdk: Pdk, *, generic: tuple[str, ...] = GENERIC, corner: str | None = None) -> Netlist:
    """A copy of ``netlist`` whose generic MOSFETs (top level and in every subckt) are ``pdk`` devices.

    The PDK's model files for ``corner`` are appended to ``includes`` (absolute paths, unresolved)
    unless an include of the same file and section is already there. Includes that only define the
    generic models (``pdk_models/generic/*.lib``, see ``generic_card``) are dropped.

    Raises:
        PdkError: a generic name does not start with ``n`` or ``p``, or the corner is unknown.
    """
    polarity: dict[str, str] = {}
    for name in generic:
        if name[:1].lower() not in ("n", "p"):
            raise PdkError(f"generic device name {name!r} must start with 'n' or 'p' to give its polarity")
        polarity[name.lower()] = pdk.nmos if name[:1].lower() == "n" else pdk.pmos
    kept = tuple(inc for inc in netlist.includes if not _generic_include(inc, polarity))
    have = {(inc.path, inc.section) for inc in kept}
    includes = kept + tuple(i for i in pdk.includes(corner) if (i.path, i.section) not in have)
    return replace(
        netlist,
        devices=_bind_devices(netlist.devices, pdk, polarity),
        subckts=tuple(_bind_subckt(s, pdk, polarity) for s in netlist.subckts),
        includes=includes,
    )


def _generic_include(inc: Include, polarity: dict[str, str]) -> bool:
    """An include that only defines the generic models (a ``generic_card`` file), useless once bound."""
    content = inc.netlist
    if content is None:
        path = Path(inc.path)
        return path.parent.name == "generic" and path.parent.parent.name == "pdk_models"
    names = {m.name.lower() for m in content.all_models()}
    return bool(names) and names <= set(polarity) and not content.devices and not content.subckts


def _bind_subckt(sub: Subckt, pdk: Pdk, polarity: dict[str, str]) -> Subckt:
    return replace(
        sub,
        devices=_bind_devices(sub.devices, pdk, polarity),
        subckts=tuple(_bind_subckt(s, pdk, polarity) for s in sub.subckts),
    )


def _bind_devices(devices: tuple[Device, ...], pdk: Pdk, polarity: dict[str, str]) -> tuple[Device, ...]:
    taken = {d.name.lower() for d in devices}
    out = []
    for dev in devices:
        target = polarity.get((dev.model or "").lower()) if dev.kind is DeviceKind.MOSFET else None
        if target is None:
            out.append(dev)
        elif pdk.device_style == "model":
            out.append(replace(dev, model=target))
        else:
            name = _instance_name(dev.name, taken)
            out.append(
                replace(
                    dev,
                    name=name,
                    kind=DeviceKind.SUBCKT,
                    model=target,
                    params=tuple((k, _scale(k, v, pdk.length_unit)) for k, v in dev.params),
                )
            )
    return tuple(out)


def _instance_name(name: str, taken: set[str]) -> str:
    """``M1`` -> ``XM1`` (``XM1_2``... when that name is already used in the same scope)."""
    base = candidate = "X" + name
    n = 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate.lower())
    return candidate


def _scale(key: str, value: Value, unit: float) -> Value:
    power = LENGTH_PARAMS.get(key)
    if power is None or unit == 1.0:
        return value
    factor = unit**power
    if isinstance(value, Expr):
        return Expr(f"({value.text})/{factor:.6g}")
    return float(f"{value / factor:.12g}")


def pdk_deck_header(pdk: Pdk, corner: str | None = None) -> list[str]:
    """The lines a testbench puts before its circuit to load ``pdk`` (includes, temperature).

    ``pdk.spice_options`` cannot go into the deck (ngspice reads them before loading it); they
    appear here as a comment so a hand-run deck says what it needs.
    """
    lines = [f"* PDK {pdk.name}: {pdk.description}"]
    if pdk.spice_options:
        lines.append(f"* run with: {'; '.join(pdk.spice_options)} (in .spiceinit or before loading)")
    for inc in pdk.includes(corner):
        lines.append(f'.lib "{inc.path}" {inc.section}' if inc.section else f'.include "{inc.path}"')
    lines.append(f".temp {pdk.temperature:g}")
    return lines


_MODEL_LINE = re.compile(r"^(\s*\.model\s+)(\S+)(\s+)(nmos|pmos)\b", re.IGNORECASE | re.MULTILINE)


def generic_card(pdk: Pdk) -> str:
    """A copy of a single-file model-style PDK card whose models are named ``nmos4``/``pmos4``.

    ngspice has no model alias, so a plain deck written with generic devices includes such a copy
    (``pdk_models/generic/<name>.lib``) to run as is. Everything but the model names is verbatim.

    Raises:
        PdkError: the PDK is subckt-style, has several files, or its card defines no nmos/pmos model.
    """
    if pdk.device_style != "model" or len(pdk.files) != 1 or pdk.corners:
        raise PdkError(f"PDK {pdk.name}: a generic card needs a single-file model-style PDK")
    source = pdk.files[0]
    text = source.read_text()
    wanted = {pdk.nmos.lower(): "nmos4", pdk.pmos.lower(): "pmos4"}
    found: set[str] = set()

    def rename(m: re.Match[str]) -> str:
        new = wanted.get(m.group(2).lower())
        if new is None:
            return m.group(0)
        found.add(new)
        return f"{m.group(1)}{new}{m.group(3)}{m.group(4)}"

    body = _MODEL_LINE.sub(rename, text)
    if found != {"nmos4", "pmos4"}:
        raise PdkError(f"{source}: no .model {pdk.nmos}/{pdk.pmos} card to rename")
    rel = source.relative_to(models_root()) if source.is_relative_to(models_root()) else source
    head = (
        f"* Generated by ckt.pdk.bind.generic_card from {rel.as_posix()} (PDK {pdk.name}):\n"
        f"* the models {pdk.nmos}/{pdk.pmos} are renamed nmos4/pmos4; every other line is verbatim.\n"
    )
    return head + body
