"""Electrical rule checks on a netlist: the mistakes that make a deck fail or lie before it is simulated.

Every finding is a ``Diagnostic`` with ``code``, ``file`` and ``line`` (from the device that shows it).

=================== ======== ==============================================================
code                severity when
=================== ======== ==============================================================
floating-net        warning  a net touches exactly one device pin (ground, ``.global`` nets and,
                             inside a subcircuit definition, its ports are exempt; so is a net
                             whose one device sets its voltage: V, E, H or B source), counting a
                             B source's ``v(net)`` references as touches; top-level nets named
                             like a supply or ground rail are exempt too, since dataset netlists
                             (AnalogGenie) list them as ports
shorted-device      warning  every terminal of a device (two or more) is on the same net
no-ground           error    the top level has devices but no ``0``/``gnd`` net, nor a net named
                             like a ground rail (``vss``, ``gnd!``, ``agnd``, ``dgnd``...)
no-ground           warning  only a ground-rail name is present in a deck with sources: ngspice
                             needs node ``0`` (dataset netlists without sources use VSS freely)
no-supply           warning  the top level has transistors but no voltage source and no net named
                             like a supply (``vdd``, ``vcc``, ``avdd``, ``vpwr``...)
duplicate-name      (reader) the readers' duplicate-instance findings, re-reported as they are
undefined-model     warning  a transistor/diode model is not defined, but it is a generic name
                             (``nmos4``, ``pmos4``, ``npn``... bind it to a PDK: one finding per
                             name, at its first use) or an include was not resolved (the model may
                             live there)
undefined-model     error    otherwise
undefined-subckt    warning  an instance's subcircuit is not defined, but it is a known dataset
                             cell (``INVERTER``, ``XOR``...) or an include was not resolved
undefined-subckt    error    otherwise
pin-count           error    an instance's node count differs from its definition's port count
expression          error    what evaluating the deck rejects, as a simulator would: a ``.param``
                             cycle, an undefined name, a math error, a value that is not finite
                             (``.param x=1e308*1e308``), an overflowing power (``2**2**2**2**2**2``);
                             at the line of the definition or instance (each global ``.param`` on
                             its own)
hierarchy           error    what flattening rejects: recursive instantiation, a hierarchy deeper
                             than ``MAX_HIERARCHY`` (one finding per distinct top-level master)
flatten             warning  flattening's own warnings (an instance sets a parameter its subcircuit
                             does not declare, which ngspice ignores; an expression in a spec), and
                             an expression that only the symbolic flattening refuses (it grows past
                             ``MAX_EXPR_CHARS`` as text though its value is fine)
=================== ======== ==============================================================

Net rules (floating, shorted) run on the flattened netlist when ``flatten`` is true, so a subcircuit
port left open inside but driven from outside is fine, and a net reported floating is named by its
hierarchical path (``xop.n5``); definitions that are never instantiated are checked on their own.
With ``flatten=False`` (or when flattening fails) every definition and the top level are checked
separately, and the deck is not evaluated (no ``expression``/``hierarchy``/``flatten`` findings).
A binned model set (``nch.0``, ``nch.1``...) defines the name ``nch``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

from ckt.errors import CktError, ExpressionError
from ckt.netlist.inline import inline_includes
from ckt.netlist.ir import Device, DeviceKind, Diagnostic, Expr, Netlist, Param, SourceLoc, Subckt

GENERIC_MODELS = frozenset({"nmos4", "pmos4", "nmos", "pmos", "nfet", "pfet", "npn", "pnp", "diode", "d"})
"""Model names that stand for "a transistor/diode of this type" in datasets and generated netlists."""

DATASET_CELLS = frozenset({"inverter", "transmission_gate", "xor", "pfd", "and", "nand", "nor", "or", "dff"})
"""Digital cells that dataset netlists (AnalogGenie) instantiate without a definition."""

GROUND_NETS = frozenset({"0", "gnd"})
GROUND_RAIL = re.compile(r"^(vss|gnd!|agnd|dgnd|vssa|avss|dvss|vgnd|vss\d*|gnd\d+)$", re.IGNORECASE)
SUPPLY_RAIL = re.compile(r"^(vdd|vcc|avdd|dvdd|vdda|vddd|vpwr|vdd!|vcc!|vdd\d*|vcc\d*|vdd_\w+)$", re.IGNORECASE)
MODEL_KINDS = frozenset({DeviceKind.MOSFET, DeviceKind.BJT, DeviceKind.DIODE, DeviceKind.JFET, DeviceKind.MESFET})
DUPLICATE_CODES = frozenset({"duplicate-name"})
SOURCES = frozenset({DeviceKind.VSOURCE, DeviceKind.ISOURCE})
VOLTAGE_SETTING = frozenset({DeviceKind.VSOURCE, DeviceKind.VCVS, DeviceKind.CCVS, DeviceKind.BEHAVIORAL})
_V_REF = re.compile(r"\bv\s*\(\s*([^,()\s]+)\s*(?:,\s*([^,()\s]+)\s*)?\)", re.IGNORECASE)


def check(netlist: Netlist, *, flatten: bool = True) -> list[Diagnostic]:
    """Run every rule on ``netlist``; findings in the order: reader duplicates, definitions,
    evaluation and flattening, connectivity, ground/supply. Devices of included files are checked
    where they are included (``inline_includes``); library definitions never instantiated are not."""
    netlist = inline_includes(netlist, libraries=False)
    out: list[Diagnostic] = [d for d in netlist.diagnostics if d.code in DUPLICATE_CODES]
    out += _definitions(netlist, _has_unresolved(netlist))
    flat = None
    if flatten:
        found, flat = _evaluation(netlist)
        taken = {(d.file, d.line) for d in out if d.severity == "error" and d.line is not None}
        out += [d for d in found if (d.file, d.line) not in taken or d.line is None]
    out += _connectivity(netlist, flat)
    out += _rails(netlist)
    return out


def _evaluation(netlist: Netlist) -> tuple[list[Diagnostic], Netlist | None]:
    """Findings from resolving the parameters and flattening the deck as a simulator would, and the
    symbolic flat netlist (None when flattening is rejected) for the net rules."""
    from ckt.netlist.flatten import flatten as do_flatten

    out, good = _global_params(netlist)
    symbolic: CktError | None = None
    try:
        flat = do_flatten(netlist, evaluate=False)
    except CktError as exc:
        flat, symbolic = None, exc
    if flat is not None:
        known = set(netlist.diagnostics)
        out += [d for d in flat.diagnostics if d.code == "flatten" and d not in known]
    # evaluated with the parameters that could be resolved (failed ones are already reported)
    rejected = _flatten_errors(_with_globals(netlist, good))
    out += [d for d in rejected if d not in out]
    if symbolic is not None and not rejected:  # only the symbolic form fails (an expression bomb)
        out.append(replace(_finding(symbolic), severity="warning", code="flatten",
                           message=f"{_finding(symbolic).message}; net rules ran per definition"))
    return out, flat


def _global_params(netlist: Netlist) -> tuple[list[Diagnostic], tuple[Param, ...]]:
    """One finding per global ``.param`` that cannot be evaluated (each cycle once; a parameter that
    only fails because it reads a failed one is not repeated), and the others evaluated."""
    from ckt.netlist.expr import compile_expr
    from ckt.netlist.params import evaluate_value, sort_params

    params = list(netlist.all_params())
    out: list[Diagnostic] = []
    failed: set[str] = set()
    while True:
        try:
            order = sort_params(params)
            break
        except CktError as exc:
            out.append(_finding(exc))
            cycle = {n.lower() for n in getattr(exc, "cycle", ())}
            if not cycle:  # a malformed expression: find which, one definition at a time
                for p in params:
                    try:
                        sort_params([p])
                    except CktError:
                        cycle.add(p.name.lower())
            if not cycle:
                return out, ()
            failed |= cycle
            params = [p for p in params if p.name.lower() not in cycle]
    scope: dict[str, float] = {}
    good: list[Param] = []
    for p in order:
        key = p.name.lower()
        if isinstance(p.value, Expr) and not compile_expr(p.value.text).names.isdisjoint(failed):
            failed.add(key)
            continue
        try:
            scope[key] = evaluate_value(p.value, scope)
        except CktError as exc:
            failed.add(key)
            out.append(_finding(exc, p.loc, f"parameter {p.name!r}: {exc}"))
            continue
        good.append(Param(p.name, scope[key], p.loc))
    return out, tuple(good)


def _with_globals(netlist: Netlist, params: tuple[Param, ...]) -> Netlist:
    """``netlist`` whose global parameters are exactly ``params`` (those of its includes moved here)."""
    def strip(n: Netlist) -> Netlist:
        includes = tuple(replace(i, netlist=strip(i.netlist)) if i.netlist is not None else i for i in n.includes)
        return replace(n, params=(), includes=includes)

    return replace(strip(netlist), params=params)


def _flatten_errors(netlist: Netlist) -> list[Diagnostic]:
    """What flattening (evaluated) rejects: the whole deck first; when it fails, each distinct
    top-level master on its own, so two broken subcircuits give two findings."""
    from ckt.netlist.flatten import flatten as do_flatten

    def attempt(n: Netlist) -> Diagnostic | None:
        try:
            do_flatten(n, evaluate=True)
        except CktError as exc:
            return _finding(exc)
        return None

    first = attempt(netlist)
    if first is None:
        return []
    out = [first]
    masters: dict[str, Device] = {}
    for d in netlist.devices:
        if d.kind is DeviceKind.SUBCKT and d.model:
            masters.setdefault(d.model.lower(), d)
    for d in masters.values():
        found = attempt(replace(netlist, devices=(d,)))
        if found is not None and found not in out:
            out.append(found)
    return out


def _finding(exc: CktError, loc: SourceLoc | None = None, message: str | None = None) -> Diagnostic:
    """An error finding for a rejection, at the innermost place the error knows (``loc`` attribute
    set by ``ckt.netlist.params.located``)."""
    loc = loc or getattr(exc, "loc", None)
    code = "expression" if isinstance(exc, ExpressionError) else "hierarchy"
    text = message or str(exc)
    if loc is not None:
        text = text.removeprefix(f"{loc}: ")  # the finding itself carries file and line
    return Diagnostic("error", text, loc.file if loc else None, loc.line if loc else None, code)


def _has_unresolved(netlist: Netlist) -> bool:
    """Whether some include, at any depth, was not read (so a missing definition may be there)."""
    return any(inc.netlist is None or _has_unresolved(inc.netlist) for inc in netlist.includes)


def _diag(severity: str, message: str, dev: Device | None, code: str) -> Diagnostic:
    loc = dev.loc if dev is not None else None
    return Diagnostic(severity, message, loc.file if loc else None, loc.line if loc else None, code)


def _scopes(netlist: Netlist) -> Iterable[tuple[Subckt | None, tuple[Device, ...]]]:
    """The top level (None) and every definition written in this netlist (not its includes)."""
    yield None, netlist.devices
    stack = list(netlist.subckts)
    while stack:
        s = stack.pop(0)
        yield s, s.devices
        stack[:0] = s.subckts


def _definitions(netlist: Netlist, unresolved: bool) -> list[Diagnostic]:
    models = {m.name.lower() for m in netlist.all_models()}
    bins = {name.rsplit(".", 1)[0] for name in models if "." in name}
    out: list[Diagnostic] = []
    generic: dict[str, tuple[int, list[tuple[Device, str]]]] = {}  # model -> (index in out, uses)
    for scope, devices in _scopes(netlist):
        where = f" (in subckt {scope.name})" if scope is not None else ""
        for dev in devices:
            if dev.kind in MODEL_KINDS and dev.model:
                key = dev.model.lower()
                if key in models or key in bins:
                    continue
                if key in GENERIC_MODELS:
                    if key not in generic:
                        generic[key] = (len(out), [])
                        out.append(_diag("warning", "", dev, "undefined-model"))  # message written below
                    generic[key][1].append((dev, where))
                elif unresolved:
                    out.append(_diag("warning", f"{dev.name}{where}: model {dev.model!r} is not defined here "
                                     "(an include was not read)", dev, "undefined-model"))
                else:
                    out.append(_diag("error", f"{dev.name}{where}: model {dev.model!r} is not defined", dev,
                                     "undefined-model"))
            elif dev.kind is DeviceKind.SUBCKT and dev.model:
                definition = netlist.subckt(dev.model)
                if definition is None:
                    if dev.model.lower() in DATASET_CELLS:
                        out.append(_diag("warning", f"{dev.name}{where}: subcircuit {dev.model!r} is a dataset cell "
                                         "without a definition", dev, "undefined-subckt"))
                    elif unresolved:
                        out.append(_diag("warning", f"{dev.name}{where}: subcircuit {dev.model!r} is not defined here "
                                         "(an include was not read)", dev, "undefined-subckt"))
                    else:
                        out.append(_diag("error", f"{dev.name}{where}: subcircuit {dev.model!r} is not defined", dev,
                                         "undefined-subckt"))
                elif len(definition.ports) != len(dev.terminals):
                    out.append(_diag("error", f"{dev.name}{where}: {len(dev.terminals)} nodes but subcircuit "
                                     f"{definition.name} has {len(definition.ports)} ports", dev, "pin-count"))
    for index, uses in generic.values():
        (dev, where), more = uses[0], len(uses) - 1
        also = f" (and {more} more device(s))" if more else ""
        out[index] = replace(out[index], message=f"{dev.name}{where}{also}: model {dev.model!r} is generic and not "
                             "defined; bind the netlist to a PDK before simulating")
    return out


def _connectivity(netlist: Netlist, flat: Netlist | None) -> list[Diagnostic]:
    """Net rules on the flat netlist when there is one, else on every scope separately."""
    exempt = GROUND_NETS | {g.lower() for g in netlist.globals}
    if flat is not None and netlist.devices:
        out = _net_rules(flat.devices, "", exempt | _rail_nets(flat.devices))
        for s in flat.subckts:  # definitions never instantiated
            out += _net_rules(s.devices, f" (in subckt {s.name})", exempt | {p.lower() for p in s.ports})
        return out
    out = []
    for scope, devices in _scopes(netlist):
        if scope is None:
            out += _net_rules(devices, "", exempt | _rail_nets(devices))
        else:
            out += _net_rules(devices, f" (in subckt {scope.name})", exempt | {p.lower() for p in scope.ports})
    return out


def _rail_nets(devices: tuple[Device, ...]) -> set[str]:
    return {n.lower() for d in devices for n in d.nets if GROUND_RAIL.match(n) or SUPPLY_RAIL.match(n)}


def _net_rules(devices: tuple[Device, ...], where: str, exempt: set[str] | frozenset[str]) -> list[Diagnostic]:
    touches: dict[str, list[Device]] = defaultdict(list)
    out = []
    for dev in devices:
        nets = {n.lower() for n in dev.nets}
        if len(dev.terminals) >= 2 and len(nets) == 1:
            out.append(_diag("warning", f"{dev.name}{where}: all {len(dev.terminals)} terminals on net "
                             f"{dev.nets[0]!r}", dev, "shorted-device"))
        for net in dev.nets:
            touches[net.lower()].append(dev)
        if dev.kind is DeviceKind.BEHAVIORAL:
            for m in _V_REF.finditer(dev.spec):
                for net in filter(None, m.groups()):
                    touches[net.lower()].append(dev)
    spelled = {n.lower(): n for d in devices for n in d.nets}
    for key, devs in touches.items():
        if len(devs) == 1 and key not in exempt and key in spelled and devs[0].kind not in VOLTAGE_SETTING:
            out.append(_diag("warning", f"net {spelled[key]!r}{where} is floating: only {devs[0].name} "
                             "connects to it", devs[0], "floating-net"))
    return out


def _rails(netlist: Netlist) -> list[Diagnostic]:
    devices = netlist.devices
    if not devices:
        return []
    nets = {n.lower() for n in netlist.nets}
    first = devices[0]
    out = []
    if not nets & GROUND_NETS:
        rails = sorted(n for n in netlist.nets if GROUND_RAIL.match(n))
        if not rails:
            out.append(_diag("error", "no ground: no net is 0 or gnd, nor named like a ground rail (vss)", first,
                             "no-ground"))
        elif any(d.kind in SOURCES for d in devices):
            out.append(_diag("warning", f"no node 0: {rails[0]} is not ground to SPICE; tie it to 0", first,
                             "no-ground"))
    has_transistors = any(d.kind in MODEL_KINDS - {DeviceKind.DIODE} or d.kind is DeviceKind.SUBCKT for d in devices)
    supply = any(d.kind is DeviceKind.VSOURCE for d in devices) or any(SUPPLY_RAIL.match(n) for n in netlist.nets)
    if has_transistors and not supply:
        out.append(_diag("warning", "no supply: no voltage source and no net named like a supply (vdd)", first,
                         "no-supply"))
    return out
