"""Hierarchy flattening: every known subcircuit instance replaced by its devices.

Graph views, rule checks and the simulator testbenches want one flat list of devices with stable
names, so this module owns how a hierarchy is expanded: naming (``X1.X2.M3``, ``X1.net5``),
parameter scoping and the instance multiplier ``m``.

Scoping (dynamic, as HSPICE does it): a subcircuit instance sees its parent's scope (the global
``.param``s at the top), shadowed by the subcircuit's header defaults and body ``.param``s, shadowed
by the instance's own overrides (``X1 a b opamp w=2u``), which are evaluated in the parent's scope.

``evaluate=True`` turns every value into a float. ``evaluate=False`` keeps values symbolic: each
reference to a subcircuit-local parameter is replaced by that parameter's (parenthesised, itself
rewritten) expression, so the flat netlist's expressions only read global ``.param``s and sizing can
still override those by name. Only numeric fields are rewritten: a device's verbatim ``spec`` (a
source's ``SIN(...)``, a B-source expression) is kept as written, except that the device names a
current-controlled source or a coupling ``K`` refers to are renamed with the hierarchy; a spec
inside a subcircuit that holds an expression gets a warning, since its references are not renamed.

The instance multiplier ``m`` (when the subcircuit does not declare a parameter ``m``) multiplies
the ``m`` of every device that takes one, through every level, as HSPICE and Spectre define it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import overload

from ckt.errors import ExpressionError, NetlistError
from ckt.netlist.expr import compile_expr, substitute
from ckt.netlist.inline import inline_includes
from ckt.netlist.ir import Device, DeviceKind, Diagnostic, Expr, Model, Netlist, Param, Subckt, Value
from ckt.netlist.params import global_scope, located, resolve_params, sort_params

GROUND = frozenset({"0", "gnd"})
"""Net names (lower-case) that are ground in every scope."""

MAX_HIERARCHY = 5000
"""Deepest instance nesting flattened; deeper means a generated netlist gone wrong. Flattening uses an
explicit stack, so this bound is about output size (names grow with depth), not Python's stack."""

_MULTIPLIED = frozenset(
    {
        DeviceKind.MOSFET,
        DeviceKind.BJT,
        DeviceKind.DIODE,
        DeviceKind.JFET,
        DeviceKind.MESFET,
        DeviceKind.RESISTOR,
        DeviceKind.CAPACITOR,
        DeviceKind.INDUCTOR,
        DeviceKind.SUBCKT,
    }
)
"""Kinds that take ngspice's parallel multiplier ``m``, which an instance's ``m`` multiplies."""

_BIN = re.compile(r"\.\d+$")
"""The suffix of a binned model card (``nch.3``), which devices reference by family name."""

MAX_EXPR_CHARS = 100_000
"""Longest expression symbolic flattening builds: substituting parameters that each use the one
before twice doubles the text per definition (an expression bomb), which is refused with this bound."""

_ATOM = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
"""One name or unsigned number: safe to substitute without parentheses (``-1`` is not: ``x^2``)."""

_NAMES_DEVICES = frozenset({DeviceKind.CCCS, DeviceKind.CCVS, DeviceKind.CSWITCH, DeviceKind.MUTUAL})
"""Kinds whose ``spec`` names other devices (controlling source, coupled inductors)."""


class _Def:
    """What expanding a subcircuit needs, computed once per definition."""

    __slots__ = ("sub", "ports", "param_names", "device_names", "model_names", "local_defs")

    def __init__(self, sub: Subckt) -> None:
        self.sub = sub
        self.ports = sub.ports
        self.param_names = {p.name.lower() for p in sub.params}
        self.device_names = {d.name.lower() for d in sub.devices}
        # a device names a binned family (``nch``) whose cards are ``nch.1``, ``nch.2``...
        self.model_names = {m.name.lower() for m in sub.models}
        self.model_names |= {_BIN.sub("", name) for name in self.model_names}
        self.local_defs = {s.name.lower(): s for s in sub.subckts}


def flatten(netlist: Netlist, *, sep: str = ".", evaluate: bool = True) -> Netlist:
    """Expand every instance of a known subcircuit, recursively.

    Args:
        netlist: the hierarchical netlist; definitions in resolved includes count as known, and
            devices of included files are flattened where they are included (``inline_includes``;
            pure libraries stay include lines).
        sep: joins instance path and local name (``X1.X2.M3``, ``X1.net5``).
        evaluate: floats everywhere (True) or symbolic expressions over global ``.param``s (False).

    Returns:
        A netlist without the expanded definitions (unused ones are kept). Ground (``0``, ``gnd``) and
        ``.global`` nets keep their names. Models defined inside a subcircuit are emitted once per
        distinct evaluated parameter set, renamed after the first instance using it (``X1.nch``,
        binned cards ``X1.nch.1``...). Instances of undefined subcircuits stay ``X`` devices and get a
        warning diagnostic.

    Raises:
        ExpressionError: an undefined parameter or bad expression, with ``file:line``.
        NetlistError: recursive instantiation (naming the chain) or a port-count mismatch.
    """
    return _Flattener(inline_includes(netlist, libraries=False), sep, evaluate).run()


class _Flattener:
    def __init__(self, netlist: Netlist, sep: str, evaluate: bool) -> None:
        self.netlist = netlist
        self.sep = sep
        self.evaluate = evaluate
        self.defs: dict[str, Subckt] = {}
        for s in netlist.all_subckts():
            self.defs.setdefault(s.name.lower(), s)
        self.info: dict[int, _Def] = {}
        self.globals = GROUND | {g.lower() for g in netlist.globals}
        self.devices: list[Device] = []
        self.models: list[Model] = []
        self.expanded: set[str] = set()
        self.undefined: dict[str, list] = {}  # model -> [count, first flat name, its loc]
        self.diagnostics: list[Diagnostic] = []
        self.rewritten: dict[tuple, Value] = {}  # symbolic mode: (text, bindings used) -> result
        self.model_sets: dict[tuple, str] = {}  # (definition, its models evaluated) -> prefix used
        self.unknown_overrides: set[tuple[str, str]] = set()

    def run(self) -> Netlist:
        n = self.netlist
        env: dict = global_scope(n) if self.evaluate else {}
        self.models = [self.model(m, "", env) for m in n.models]
        self.emit(n.devices, "", "", {}, env, None, (), None)
        if self.evaluate:
            last = {p.name.lower(): p for p in n.params}
            params = tuple(Param(p.name, env[k], p.loc) for k, p in last.items())
        else:
            params = n.params
        for model, (count, name, loc) in self.undefined.items():
            more = f" (and {count - 1} more instance(s))" if count > 1 else ""
            self.diagnostics.append(
                Diagnostic(
                    "warning",
                    f"subcircuit {model!r} is not defined; {name}{more} kept as an instance",
                    loc.file if loc else None,
                    loc.line if loc else None,
                    code="undefined-subckt",
                )
            )
        return Netlist(
            title=n.title,
            devices=tuple(self.devices),
            subckts=tuple(s for s in n.subckts if s.name.lower() not in self.expanded),
            params=params,
            models=tuple(self.models),
            includes=n.includes,
            statements=n.statements,
            globals=n.globals,
            diagnostics=n.diagnostics + tuple(self.diagnostics),
        )

    # ------------------------------------------------------------ values

    @overload
    def value(self, v: Value, env: Mapping, where: Device | Model) -> Value: ...
    @overload
    def value(self, v: Value | None, env: Mapping, where: Device | Model) -> Value | None: ...
    def value(self, v: Value | None, env: Mapping, where: Device | Model) -> Value | None:
        """``v`` in ``env``: a float (evaluate) or an expression over global names."""
        if v is None:
            return None
        if not isinstance(v, Expr):
            return float(v) if self.evaluate else v
        if self.evaluate:
            try:
                return compile_expr(v.text).evaluate(env)
            except ExpressionError as exc:
                raise located(ExpressionError, where.loc, f"{where.name}: {exc}", exc) from None
        names = compile_expr(v.text).names
        if not env or names.isdisjoint(env):
            return v
        key = (v.text, tuple(sorted((n, env[n]) for n in names if n in env)))
        done = self.rewritten.get(key)
        if done is None:
            done = self.rewritten[key] = self._rewrite(v.text, env, where)
        return done

    @staticmethod
    def _rewrite(text: str, env: Mapping[str, str], where: Device | Model) -> Value:
        text = _substitute(text, env, where)
        compiled = compile_expr(text)
        if not compiled.names:  # a literal in disguise, e.g. "(1000.0)"
            try:
                return compiled.evaluate()
            except ExpressionError:
                pass  # left for whoever evaluates it to report where
        return Expr(text)

    def model(self, m: Model, prefix: str, env: Mapping) -> Model:
        return Model(prefix + m.name, m.type, tuple((k, self.value(v, env, m)) for k, v in m.params), m.loc)

    def _text(self, v: Value) -> str:
        """``v`` as text to substitute for a name: parenthesised unless it is one name or number, so
        a parameter passed down a deep hierarchy does not nest one ``(`` per level."""
        text = v.text.strip() if isinstance(v, Expr) else repr(float(v))
        return text if _ATOM.fullmatch(text) else f"({text})"

    def _scale(self, v: Value | None, mult: Value) -> Value:
        """``v`` (1 when absent) times a multiplier, keeping symbolic values symbolic."""
        if v is None:
            return mult
        if isinstance(v, Expr) or isinstance(mult, Expr):
            return Expr(f"{self._text(v)}*{self._text(mult)}")
        return float(v) * float(mult)

    # ------------------------------------------------------------ expansion

    def emit(
        self,
        devices: tuple[Device, ...],
        prefix: str,
        model_prefix: str,
        netmap: Mapping[str, str],
        env: Mapping,
        mult: Value | None,
        chain: tuple[str, ...],
        info: _Def | None,
    ) -> None:
        """Append flattened ``devices`` of one scope (``prefix`` ``""`` at the top level) and, depth
        first in device order, of every instance under it.

        An explicit stack of scopes, not recursion: a hierarchy thousands of levels deep is flattened
        without reaching Python's recursion limit.
        """
        keys = frozenset(c.lower() for c in chain)
        stack = [_Scope(self, devices, prefix, model_prefix, netmap, env, mult, chain, keys, info)]
        while stack:
            scope = stack[-1]
            d = next(scope.devices, None)
            if d is None:
                stack.pop()
                continue
            if d.kind is DeviceKind.SUBCKT and d.model is not None:
                key = d.model.lower()
                sub = (scope.info.local_defs.get(key) if scope.info else None) or self.defs.get(key)
                if sub is not None:
                    stack.append(self.expand(d, sub, scope))
                    continue
                seen = self.undefined.setdefault(d.model.lower(), [0, scope.prefix + d.name, d.loc])
                seen[0] += 1
            self.devices.append(self.device(d, scope))

    def device(self, d: Device, scope: _Scope) -> Device:
        """One leaf device of ``scope`` with flat name, nets, values and multiplier."""
        prefix, info, mult, value = scope.prefix, scope.info, scope.mult, scope.value
        params = tuple((k, value(v, d)) for k, v in d.params)
        if mult is not None:
            if d.kind in _MULTIPLIED:
                merged = dict(params)
                merged["m"] = self._scale(merged.get("m"), mult)
                params = tuple(merged.items())
            elif not (isinstance(mult, float) and mult == 1.0):
                self._warn(d, prefix, f"{d.kind.name.lower()} cannot be multiplied by the instance m; kept once")
        model = d.model
        if info is not None and model is not None and model.lower() in info.model_names:
            model = scope.model_prefix + model
        spec = d.spec
        if prefix and d.kind in _NAMES_DEVICES and info is not None:
            spec = " ".join(prefix + t if t.lower() in info.device_names else t for t in spec.split(" "))
        elif prefix and (d.kind is DeviceKind.BEHAVIORAL or "{" in spec or "'" in spec):
            self._warn(d, prefix, "expression in its specification kept verbatim: parameter and node "
                       "references inside it are not renamed by flattening")
        return Device(
            name=prefix + d.name,
            kind=d.kind,
            terminals=tuple((pin, scope.net(n)) for pin, n in d.terminals),
            model=model,
            value=value(d.value, d),
            params=params,
            spec=spec,
            loc=d.loc,
        )

    def expand(self, inst: Device, sub: Subckt, parent: _Scope) -> _Scope:
        """The scope of instance ``inst`` of ``sub`` inside ``parent``: nets, parameters, models."""
        prefix, net, env, mult, chain = parent.prefix, parent.net, parent.env, parent.mult, parent.chain
        key = sub.name.lower()
        where = inst.loc
        if key in parent.chain_keys:
            names = " -> ".join((*chain, sub.name))
            raise located(NetlistError, where, f"recursive subcircuit instantiation: {names}")
        if len(chain) >= MAX_HIERARCHY:
            raise located(
                NetlistError, where, f"subcircuit hierarchy deeper than {MAX_HIERARCHY} levels at {inst.name}"
            )
        info = self.info.get(id(sub))
        if info is None:
            info = self.info[id(sub)] = _Def(sub)
        if len(inst.terminals) != len(info.ports):
            raise located(
                NetlistError, where, f"{prefix + inst.name} connects {len(inst.terminals)} net(s) but subcircuit "
                f"{sub.name!r} has {len(info.ports)} port(s)"
            )
        self.expanded.add(key)
        path = prefix + inst.name + self.sep
        netmap = {port.lower(): net(n) for port, (_, n) in zip(info.ports, inst.terminals)}

        overrides: dict[str, Value] = {}
        for k, v in inst.params:
            k = k.lower()
            value = self.value(v, env, inst)
            if k == "m" and "m" not in info.param_names:
                mult = value if mult is None else self._scale(mult, value)
            else:
                overrides[k] = value
        for k in overrides.keys() - info.param_names:
            if (key, k) not in self.unknown_overrides:  # once per subcircuit and name, not per instance
                self.unknown_overrides.add((key, k))
                self._warn(inst, prefix, f"sets {k!r}, which subcircuit {sub.name!r} does not declare")
        local = [p for p in sub.params if p.name.lower() not in overrides]
        if self.evaluate:
            if overrides or local:
                outer = {**env, **overrides}
                try:
                    env = {**outer, **resolve_params(local, outer)}
                except ExpressionError as exc:
                    raise located(ExpressionError, where, f"in {prefix + inst.name} ({sub.name}): {exc}", exc) from None
        elif overrides or local:
            env = {**env, **{k: self._text(v) for k, v in overrides.items()}}
            for p in sort_params(local):
                v = p.value
                if isinstance(v, Expr) and not compile_expr(v.text).names.isdisjoint(env):
                    v = Expr(_substitute(v.text, env, p))
                env[p.name.lower()] = self._text(v)

        model_prefix = path
        if sub.models:
            # instances that evaluate the local models identically share one renamed copy
            cards = tuple(self.model(m, "", env) for m in sub.models)
            model_prefix = self.model_sets.setdefault((id(sub), cards), path)
            if model_prefix == path:
                self.models += [replace(m, name=path + m.name) for m in cards]
        return _Scope(self, sub.devices, path, model_prefix, netmap, env, mult, (*chain, sub.name),
                      parent.chain_keys | {key}, info)

    def _warn(self, d: Device, prefix: str, message: str) -> None:
        self.diagnostics.append(
            Diagnostic(
                "warning",
                f"{prefix + d.name}: {message}",
                d.loc.file if d.loc else None,
                d.loc.line if d.loc else None,
                code="flatten",
            )
        )



def _substitute(text: str, env: Mapping[str, str], where: Device | Model | Param) -> str:
    """``substitute`` bounded by ``MAX_EXPR_CHARS``, so an expression bomb is an error at its line."""
    out = substitute(text, env)
    if len(out) > MAX_EXPR_CHARS:
        raise located(ExpressionError, where.loc, f"{where.name}: expression grows beyond {MAX_EXPR_CHARS} "
                      "characters when subcircuit parameters are substituted (an expression bomb?)")
    return out


class _Scope:
    """One subcircuit instance being flattened (or the top level): where its devices go and how
    their nets and values are mapped. Caches are per scope: its devices repeat the same few
    net names and expressions."""

    __slots__ = ("flattener", "devices", "prefix", "model_prefix", "netmap", "env", "mult", "chain", "chain_keys",
                 "info", "top", "memo", "values")

    def __init__(self, flattener: _Flattener, devices: tuple[Device, ...], prefix: str, model_prefix: str,
                 netmap: Mapping[str, str], env: Mapping, mult: Value | None, chain: tuple[str, ...],
                 chain_keys: frozenset[str], info: _Def | None) -> None:
        self.flattener = flattener
        self.devices = iter(devices)
        self.prefix = prefix
        self.model_prefix = model_prefix
        self.netmap = netmap
        self.env = env
        self.mult = mult
        self.chain = chain
        self.chain_keys = chain_keys
        self.info = info
        self.top = not prefix
        self.memo: dict[str, str] = {}
        self.values: dict[Expr, Value] = {}

    @overload
    def value(self, v: Value, d: Device) -> Value: ...
    @overload
    def value(self, v: Value | None, d: Device) -> Value | None: ...
    def value(self, v: Value | None, d: Device) -> Value | None:
        if not isinstance(v, Expr):
            return v if v is None or not self.flattener.evaluate else float(v)
        out = self.values.get(v)
        if out is None:
            out = self.values[v] = self.flattener.value(v, self.env, d)
        return out

    def net(self, name: str) -> str:
        flat = self.memo.get(name)
        if flat is None:
            key = name.lower()
            flat = self.netmap.get(key) or (name if self.top or key in self.flattener.globals else self.prefix + name)
            self.memo[name] = flat
        return flat
