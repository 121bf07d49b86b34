"""What a simulator sees: a netlist with the content of its resolved includes put in place.

ngspice reads an ``.include`` (or a ``.lib`` section) as if its lines stood where the include line
is. The readers keep the include structure instead (``Include.netlist``), so writers can emit the
``.include`` line rather than a copy of the file; every view that reasons about the circuit (the
parse summary, graphs, flattening, rule checks) calls ``inline_includes`` at its entry so devices
kept in an included file count like any other.

Merging rules, at every include depth:

* devices and statements of an include go where the include line was (before the first device
  or statement of the including file written after it; at the end when locations are unknown);
* subcircuits and models follow the including file's own (lookups take the first definition of a
  name, so the including file's definitions keep precedence, as ``Netlist.subckt`` has it);
* parameters of an include come before the including file's own (later ones win, as
  ``Netlist.all_params`` has it); ``.global`` nets are united;
* an include that was not resolved stays an ``Include``;
* a device name already taken (the same cell file included twice) is renamed ``NAME__2``
  (``__3``...) with a ``duplicate-name`` warning, as the SPICE reader does within one file.

With ``libraries=False`` an include whose content holds no device at any depth (a model or
subcircuit library) stays a resolved ``Include``: its definitions remain reachable through
``Netlist.all_subckts``/``all_models``/``all_params``, and a flattened deck written from the result
still loads the library by its include line instead of carrying a copy of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TypeVar

from ckt.netlist.ir import Device, Diagnostic, Include, Netlist, SourceLoc, Statement

__all__ = ["inline_includes"]

_Item = TypeVar("_Item", Device, Statement)


def inline_includes(netlist: Netlist, *, libraries: bool = True) -> Netlist:
    """``netlist`` with every resolved include's content merged in place (rules in the module
    docstring); ``netlist`` itself when there is nothing to merge.

    Args:
        netlist: a netlist as a reader returns it.
        libraries: also merge includes that only define subcircuits, models or parameters.
    """
    merged = _merge(netlist, libraries)
    if merged is None:
        return netlist
    fields, renamed = merged
    return Netlist(**fields, diagnostics=netlist.diagnostics + renamed)


def _carries_devices(netlist: Netlist) -> bool:
    return bool(netlist.devices) or any(
        inc.netlist is not None and _carries_devices(inc.netlist) for inc in netlist.includes
    )


def _merge(netlist: Netlist, libraries: bool) -> tuple[dict, tuple[Diagnostic, ...]] | None:
    """The merged constructor fields and the rename warnings, or None when nothing merges."""
    chosen = {
        id(inc) for inc in netlist.includes
        if inc.netlist is not None and (libraries or _carries_devices(inc.netlist))
    }
    if not chosen:
        return None
    devices: list[tuple[SourceLoc | None, tuple[Device, ...]]] = []
    statements: list[tuple[SourceLoc | None, tuple[Statement, ...]]] = []
    subckts = list(netlist.subckts)
    models = list(netlist.models)
    params: list = []
    globals_ = list(netlist.globals)
    includes: list[Include] = []
    warnings: list[Diagnostic] = []
    for inc in netlist.includes:
        content = inc.netlist
        if content is None or id(inc) not in chosen:
            includes.append(inc)
            continue
        inner = _merge(content, libraries)
        fields, more = inner if inner is not None else (_fields(content), ())
        warnings += more
        devices.append((inc.loc, fields["devices"]))
        statements.append((inc.loc, fields["statements"]))
        subckts += fields["subckts"]
        models += fields["models"]
        params += fields["params"]
        globals_ += [g for g in fields["globals"] if g.lower() not in {x.lower() for x in globals_}]
        includes += fields["includes"]
    placed = _place(netlist.devices, devices)
    unique, renamed = _unique_names(placed)
    return (
        {
            "title": netlist.title,
            "devices": unique,
            "subckts": tuple(subckts),
            "params": tuple(params) + netlist.params,
            "models": tuple(models),
            "includes": tuple(includes),
            "statements": _place(netlist.statements, statements),
            "globals": tuple(globals_),
        },
        tuple(warnings) + renamed,
    )


def _fields(netlist: Netlist) -> dict:
    return {
        "title": netlist.title, "devices": netlist.devices, "subckts": netlist.subckts, "params": netlist.params,
        "models": netlist.models, "includes": netlist.includes, "statements": netlist.statements,
        "globals": netlist.globals,
    }


def _place(own: tuple[_Item, ...], inserts: Iterable[tuple[SourceLoc | None, tuple[_Item, ...]]]) -> tuple[_Item, ...]:
    """``own`` with each insert put before the first own item written after its include line."""
    out: list[_Item] = []
    i = 0
    for loc, items in inserts:
        if loc is not None:
            while i < len(own):
                at = own[i].loc
                if at is None or at.line > loc.line:
                    break
                out.append(own[i])
                i += 1
        else:
            out.extend(own[i:])
            i = len(own)
        out.extend(items)
    out.extend(own[i:])
    return tuple(out)


def _unique_names(devices: tuple[Device, ...]) -> tuple[tuple[Device, ...], tuple[Diagnostic, ...]]:
    """``devices`` with clashing names (case-insensitive) renamed, and a warning per rename."""
    first: dict[str, Device] = {}
    out: list[Device] = []
    warnings: list[Diagnostic] = []
    for d in devices:
        key = d.name.lower()
        if key in first:
            n = 2
            while f"{key}__{n}" in first:
                n += 1
            new = f"{d.name}__{n}"
            where = first[key].loc or "<string>"
            loc = d.loc
            warnings.append(Diagnostic(
                "warning", f"duplicate instance name {d.name} (first at {where}); renamed {new}",
                loc.file if loc else None, loc.line if loc else None, "duplicate-name",
            ))
            d = replace(d, name=new)
            key = new.lower()
        first[key] = d
        out.append(d)
    return tuple(out), tuple(warnings)
