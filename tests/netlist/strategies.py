"""Hypothesis strategies for random netlist IR objects, shared by the serializer and writer tests.

Names are drawn from small alphabets so collisions (and the IR's duplicate-name checks) are
exercised; ``unique_by`` keeps generated netlists valid. Values mix finite floats, infinities and
expressions; ``allow_nan`` is off by default because NaN never compares equal.
"""

from __future__ import annotations

from hypothesis import strategies as st

from ckt.netlist.ir import (
    TERMINALS,
    Device,
    DeviceKind,
    Diagnostic,
    Expr,
    Include,
    Model,
    Netlist,
    Param,
    SourceLoc,
    Statement,
    Subckt,
)

identifiers = st.builds(str.__add__, st.sampled_from("abmnqwxyz"), st.text("abmnq01_", max_size=4))
nets = st.one_of(st.sampled_from(["0", "gnd", "vdd", "out", "in"]), identifiers)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
expressions = st.sampled_from(["2*w", "w/l + 1u", "max(a, b)", "{vdd/2}", "c ? 1 : 2", "sqrt(x)^2"]).map(Expr)


def values(allow_nan: bool = False) -> st.SearchStrategy:
    """Floats (including infinities, and NaN when asked) and expressions."""
    return st.one_of(st.floats(allow_nan=allow_nan, allow_infinity=True), expressions)


locs = st.one_of(st.none(), st.builds(SourceLoc, st.one_of(st.none(), texts), st.integers(1, 10**6)))
kw_params = st.lists(st.tuples(identifiers, values()), max_size=3).map(tuple)


@st.composite
def devices(draw, kind: DeviceKind | None = None, name: str | None = None) -> Device:
    """A device of ``kind`` (any kind by default) with that kind's pins."""
    kind = kind if kind is not None else draw(st.sampled_from(list(DeviceKind)))
    pins = TERMINALS.get(kind) or tuple(str(i + 1) for i in range(draw(st.integers(0, 4))))
    return Device(
        name=name if name is not None else kind.letter.replace("?", "U") + draw(identifiers),
        kind=kind,
        terminals=tuple((p, draw(nets)) for p in pins),
        model=draw(st.one_of(st.none(), identifiers)),
        value=draw(st.one_of(st.none(), values())),
        params=draw(kw_params),
        spec=draw(st.one_of(st.just(""), texts)),
        loc=draw(locs),
    )


def device_lists(max_size: int = 5) -> st.SearchStrategy:
    return st.lists(devices(), max_size=max_size, unique_by=lambda d: d.name.lower()).map(tuple)


params = st.builds(Param, identifiers, values(), locs)
models = st.builds(
    Model, identifiers, st.sampled_from(["nmos", "pmos", "npn", "d", "r"]), kw_params, locs
)
statements = st.builds(Statement, st.sampled_from([".ac", ".tran", ".op", ".option"]), texts, locs)
diagnostics = st.builds(
    Diagnostic,
    st.sampled_from(["error", "warning", "info"]),
    texts,
    st.one_of(st.none(), texts),
    st.one_of(st.none(), st.integers(1, 1000)),
    st.sampled_from(["", "W001"]),
)


def subckts(depth: int = 1) -> st.SearchStrategy:
    """Subcircuit definitions nested at most ``depth`` levels."""
    children = st.just(()) if depth <= 0 else st.lists(subckts(depth - 1), max_size=1).map(tuple)
    return st.builds(
        Subckt,
        identifiers,
        st.lists(nets, max_size=4, unique_by=str.lower).map(tuple),
        device_lists(),
        st.lists(params, max_size=3).map(tuple),
        st.lists(models, max_size=2).map(tuple),
        children,
        locs,
    )


def netlists(depth: int = 1) -> st.SearchStrategy:
    """Whole netlists; includes carry a small parsed netlist of their own down to ``depth`` levels."""
    if depth <= 0:
        inner = st.none()
    else:
        inner = st.one_of(
            st.none(),
            st.builds(
                Netlist,
                devices=device_lists(2),
                params=st.lists(params, max_size=2).map(tuple),
                models=st.lists(models, max_size=1).map(tuple),
                includes=st.lists(st.builds(Include, texts, st.none(), netlists(depth - 1)), max_size=1).map(tuple),
            ),
        )
    includes = st.builds(Include, texts, st.one_of(st.none(), identifiers), inner, locs)
    return st.builds(
        Netlist,
        title=texts,
        devices=device_lists(),
        subckts=st.lists(subckts(), max_size=2).map(tuple),
        params=st.lists(params, max_size=3).map(tuple),
        models=st.lists(models, max_size=2).map(tuple),
        includes=st.lists(includes, max_size=2).map(tuple),
        statements=st.lists(statements, max_size=2).map(tuple),
        globals=st.lists(nets, max_size=2).map(tuple),
        diagnostics=st.lists(diagnostics, max_size=2).map(tuple),
    )
