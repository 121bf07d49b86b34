"""Parameter scopes: turning ``.param`` definitions that reference each other into numbers.

SPICE lets ``.param`` lines refer to parameters defined later in the deck, so a scope is resolved by
dependency order, not text order. This module owns that ordering, the precedence of overrides (what
sizing uses to set design variables by name) and writing new values back into a netlist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

from ckt.errors import CktError, ExpressionError
from ckt.netlist.expr import compile_expr
from ckt.netlist.ir import Expr, Netlist, Param, SourceLoc, Value

E = TypeVar("E", bound=CktError)


def evaluate_value(value: Value, scope: Mapping[str, float]) -> float:
    """A float or ``Expr`` as a float in ``scope``."""
    if isinstance(value, Expr):
        return compile_expr(value.text).evaluate(scope)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ExpressionError(f"not a numeric value or expression: {value!r}")


def located(cls: type[E], loc: SourceLoc | None, message: str, inner: BaseException | None = None) -> E:
    """A ``cls`` error whose message starts with ``file:line:`` and whose ``loc`` attribute keeps the
    place (the innermost one when ``inner`` already had one), so ``ckt check`` can report it as a
    finding at that line."""
    exc = cls(f"{loc}: {message}" if loc is not None else message)
    exc.loc = getattr(inner, "loc", None) or loc  # type: ignore[attr-defined]
    return exc


def _located(p: Param, exc: ExpressionError) -> ExpressionError:
    return located(ExpressionError, p.loc, f"parameter {p.name!r}: {exc}", exc)


def resolve_params(params: Sequence[Param], outer: Mapping[str, float] = {}) -> dict[str, float]:  # noqa: B006
    """Evaluate one scope of definitions, in dependency order.

    Args:
        params: the scope's definitions; a later definition of a name replaces an earlier one.
        outer: enclosing scope; a name defined in ``params`` shadows it.

    Returns:
        ``{lower-case name: value}`` for the names defined in ``params`` only.

    Raises:
        ExpressionError: a cycle (naming every parameter on it) or an undefined name (naming the
            parameter and where it was defined).
    """
    scope = {k.lower(): v for k, v in outer.items()}
    result: dict[str, float] = {}
    for p in sort_params(params):
        key = p.name.lower()
        try:
            value = evaluate_value(p.value, scope)
        except ExpressionError as exc:
            raise _located(p, exc) from None
        scope[key] = value
        result[key] = value
    return result


def sort_params(params: Sequence[Param]) -> list[Param]:
    """The definitions of one scope, each after the ones it reads; a later definition of a name
    replaces an earlier one. Names not defined in ``params`` are outer references and impose no order.

    Raises:
        ExpressionError: a malformed expression, or a cycle naming every parameter on it (also
            as the ``cycle`` attribute, a tuple of names).
    """
    defs: dict[str, Param] = {}
    for p in params:
        key = p.name.lower()
        defs.pop(key, None)  # re-insert so a redefinition sorts where it was last written
        defs[key] = p
    deps: dict[str, list[str]] = {}
    for key, p in defs.items():
        if isinstance(p.value, Expr):
            try:
                names = compile_expr(p.value.text).names
            except ExpressionError as exc:
                raise _located(p, exc) from None
            deps[key] = sorted(n for n in names if n in defs)
        else:
            deps[key] = []
    done: set[str] = set()
    on_path: dict[str, int] = {}
    order: list[str] = []
    for root in deps:
        if root in done:
            continue
        path = [root]
        on_path[root] = 0
        iters = [iter(deps[root])]
        while iters:
            child = next(iters[-1], None)
            if child is None:
                node = path.pop()
                iters.pop()
                del on_path[node]
                done.add(node)
                order.append(node)
            elif child in on_path:
                cycle = path[on_path[child] :] + [child]
                shown = " -> ".join(defs[n].name for n in cycle)
                err = located(ExpressionError, defs[child].loc, f"parameter cycle: {shown}")
                err.cycle = tuple(defs[n].name for n in cycle[:-1])  # type: ignore[attr-defined]
                raise err
            elif child not in done:
                on_path[child] = len(path)
                path.append(child)
                iters.append(iter(deps[child]))
    return [defs[k] for k in order]


def _as_value(v: float | Value) -> Value:
    if isinstance(v, Expr):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    raise ExpressionError(f"not a numeric value or expression: {v!r}")


def global_scope(netlist: Netlist, overrides: Mapping[str, float | Value] = {}) -> dict[str, float]:  # noqa: B006
    """Every global ``.param`` of ``netlist`` (resolved includes too), evaluated.

    ``overrides`` replace the definitions of their names (or add them), so parameters derived from an
    overridden one (``wp2 = 2*wp1``) follow it: this is how sizing sets design variables.
    """
    over = {k.lower(): (k, _as_value(v)) for k, v in overrides.items()}
    params = [p for p in netlist.all_params() if p.name.lower() not in over]
    params += [Param(name, value) for name, value in over.values()]
    return resolve_params(params)


def with_params(netlist: Netlist, values: Mapping[str, float | Value]) -> Netlist:
    """A copy whose top-level ``.param``s named in ``values`` take the new values.

    Matching is case-insensitive and keeps each definition's spelling and location; names the
    netlist does not define are appended as new ``.param``s (they then also override a definition
    that lives in an include, since top-level parameters come last).
    """
    new = {k.lower(): (k, _as_value(v)) for k, v in values.items()}
    params = []
    for p in netlist.params:
        hit = new.get(p.name.lower())
        params.append(p if hit is None else replace(p, value=hit[1]))
    known = {p.name.lower() for p in netlist.params}
    params += [Param(name, value) for key, (name, value) in new.items() if key not in known]
    return replace(netlist, params=tuple(params))
