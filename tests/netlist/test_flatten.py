"""Hierarchy flattening: names, nets, parameter scoping, multipliers, models and error cases."""

from __future__ import annotations

import time

import pytest

from ckt.errors import ExpressionError, NetlistError
from ckt.netlist.expr import evaluate
from ckt.netlist.flatten import flatten
from ckt.netlist.ir import Device, DeviceKind, Expr, Include, Model, Netlist, Param, SourceLoc, Subckt
from ckt.netlist.params import global_scope

K = DeviceKind


def val(v):
    return Expr(v) if isinstance(v, str) else v


def mos(name, d, g, s, b, model="nch", **params):
    return Device(name, K.MOSFET, (("d", d), ("g", g), ("s", s), ("b", b)), model, None,
                  tuple((k, val(v)) for k, v in params.items()))


def res(name, p, n, value):
    return Device(name, K.RESISTOR, (("p", p), ("n", n)), None, val(value))


def inst(name, model, *nets, line=None, **params):
    return Device(name, K.SUBCKT, tuple((str(i + 1), n) for i, n in enumerate(nets)), model, None,
                  tuple((k, val(v)) for k, v in params.items()), loc=SourceLoc("top.cir", line) if line else None)


def P(name, value):
    return Param(name, val(value))


INV = Subckt(
    "inv",
    ("a", "y", "vdd"),
    devices=(
        mos("M1", "y", "a", "0", "0", w="wn", l="lg"),
        mos("M2", "y", "a", "vdd", "vdd", model="pch", w="wp"),
        res("R1", "y", "mid", "rval"),
    ),
    params=(P("wn", 1e-6), P("wp", "2*wn"), P("rval", 1e3)),
)
BUF = Subckt(
    "BUF",
    ("in", "out", "vdd"),
    devices=(inst("X1", "inv", "in", "n1", "vdd"), inst("X2", "INV", "n1", "out", "vdd", wn="3*lg")),
    params=(P("lg", 1.8e-7),),
)


def deck(*devices, params=(P("lg", 1e-7),), subckts=(INV, BUF), **kw):
    return Netlist(devices=tuple(devices), subckts=subckts, params=params, **kw)


def by_name(n: Netlist) -> dict[str, Device]:
    return {d.name: d for d in n.devices}


def test_two_level_names_and_nets():
    flat = flatten(deck(inst("Xb", "buf", "in", "out", "vdd")))
    assert list(by_name(flat)) == ["Xb.X1.M1", "Xb.X1.M2", "Xb.X1.R1", "Xb.X2.M1", "Xb.X2.M2", "Xb.X2.R1"]
    d = by_name(flat)
    assert d["Xb.X1.M1"].terminals == (("d", "Xb.n1"), ("g", "in"), ("s", "0"), ("b", "0"))
    assert d["Xb.X2.M2"].nets == ("out", "Xb.n1", "vdd", "vdd")
    assert d["Xb.X1.R1"].nets == ("Xb.n1", "Xb.X1.mid")
    assert flat.subckts == ()  # both definitions were expanded


def test_custom_separator():
    flat = flatten(deck(inst("Xb", "buf", "a", "b", "vdd")), sep="/")
    assert "Xb/X1/M1" in by_name(flat)
    assert by_name(flat)["Xb/X1/R1"].nets == ("Xb/n1", "Xb/X1/mid")


def test_scope_precedence_global_default_override():
    # global lg=1e-7 is shadowed inside BUF by its default lg=1.8e-7; X2 overrides wn in BUF's scope
    flat = by_name(flatten(deck(inst("Xb", "buf", "in", "out", "vdd"))))
    assert flat["Xb.X1.M1"].param("w") == 1e-6  # inv default
    assert flat["Xb.X1.M1"].param("l") == pytest.approx(1.8e-7)  # BUF default beats global
    assert flat["Xb.X2.M1"].param("w") == pytest.approx(3 * 1.8e-7)  # override, evaluated in BUF's scope
    assert flat["Xb.X2.M2"].param("w") == pytest.approx(6 * 1.8e-7)  # derived default follows override
    top = by_name(flatten(deck(inst("X9", "inv", "a", "b", "vdd", WN=5e-6))))
    assert top["X9.M1"].param("l") == 1e-7  # global seen through the instance
    assert top["X9.M2"].param("w") == 1e-5


def test_global_params_collapse_to_floats():
    n = deck(inst("X1", "inv", "a", "b", "vdd"), params=(P("lg", "2*unit"), P("unit", 5e-8)))
    flat = flatten(n)
    assert [(p.name, p.value) for p in flat.params] == [("lg", 1e-7), ("unit", 5e-8)]
    assert by_name(flat)["X1.M1"].param("l") == 1e-7


def test_globals_and_ground_stay_global():
    cells = (res("R1", "a", "VDD", 1.0), res("R2", "a", "GND", 1.0), res("R3", "a", "x", 1.0))
    sub = Subckt("cell", ("a",), devices=cells)
    n = Netlist(devices=(inst("X1", "cell", "n"),), subckts=(sub,), globals=("vdd",))
    d = by_name(flatten(n))
    assert d["X1.R1"].nets == ("n", "VDD")
    assert d["X1.R2"].nets == ("n", "GND")
    assert d["X1.R3"].nets == ("n", "X1.x")


def test_ports_match_case_insensitively():
    sub = Subckt("cell", ("IN",), devices=(res("R1", "in", "0", 1.0),))
    assert by_name(flatten(Netlist(devices=(inst("X1", "cell", "top"),), subckts=(sub,))))["X1.R1"].nets == ("top", "0")


def test_unknown_subckt_kept_with_one_warning_per_name():
    n = deck(
        inst("X1", "dff", "d", "q", line=4, w="lg*2"),
        inst("Xb", "buf", "in", "out", "vdd"),
        inst("X2", "DFF", "q", "d", line=9),
        subckts=(INV, BUF, Subckt("unused", ("p",))),
    )
    flat = flatten(n)
    d = by_name(flat)
    assert d["X1"].kind is K.SUBCKT and d["X1"].param("w") == pytest.approx(2e-7)
    assert "X2" in d
    warnings = [w for w in flat.warnings if w.code == "undefined-subckt"]
    assert len(warnings) == 1
    assert (warnings[0].file, warnings[0].line) == ("top.cir", 4)
    assert "'dff' is not defined; X1 (and 1 more instance(s))" in warnings[0].message
    assert [s.name for s in flat.subckts] == ["unused"]


def test_unknown_subckt_inside_hierarchy_gets_hierarchical_name():
    sub = Subckt("wrap", ("a",), devices=(inst("Xpdk", "sky130_fd_pr__nfet_01v8", "a", "int"),))
    flat = flatten(Netlist(devices=(inst("X1", "wrap", "n"),), subckts=(sub,)))
    assert flat.devices[0].name == "X1.Xpdk"
    assert flat.devices[0].nets == ("n", "X1.int")


def test_definitions_from_includes_are_used():
    lib = Netlist(subckts=(INV,), params=(P("lg", 2e-7),))
    n = Netlist(devices=(inst("X1", "inv", "a", "b", "vdd"),), includes=(Include("cells.lib", None, lib),))
    assert by_name(flatten(n))["X1.M1"].param("l") == 2e-7


def test_recursion_names_the_chain():
    a = Subckt("a", ("p",), devices=(inst("X1", "b", "p"),))
    b = Subckt("b", ("p",), devices=(inst("X2", "A", "p", line=None),))
    n = Netlist(devices=(inst("Xtop", "a", "n", line=3),), subckts=(a, b))
    with pytest.raises(NetlistError, match="recursive subcircuit instantiation: a -> b -> a"):
        flatten(n)


def test_port_count_mismatch_is_an_error():
    with pytest.raises(NetlistError, match=r"top.cir:5: X1 connects 2 net\(s\) but subcircuit 'inv' has 3 port\(s\)"):
        flatten(deck(inst("X1", "inv", "a", "b", line=5)))


def test_undefined_parameter_names_file_line_and_device():
    sub = Subckt("cell", ("a",), devices=(res("R1", "a", "0", "rx*2"),))
    n = Netlist(devices=(inst("X1", "cell", "n", line=8),), subckts=(sub,))
    with pytest.raises(ExpressionError, match=r"R1: undefined parameter 'rx' in 'rx\*2'"):
        flatten(n)
    bad_override = Netlist(devices=(inst("X1", "cell", "n", line=8, rx="nope"),), subckts=(sub,))
    with pytest.raises(ExpressionError, match=r"top.cir:8: X1: undefined parameter 'nope'"):
        flatten(bad_override)


def test_instance_multiplier_multiplies_devices_and_nests():
    sub = Subckt("pair", ("a",), devices=(mos("M1", "a", "a", "0", "0", m=2), res("R1", "a", "0", 1e3),
                                        Device("V1", K.VSOURCE, (("p", "a"), ("n", "0")), value=1.0)))
    outer = Subckt("quad", ("a",), devices=(inst("Xp", "pair", "a", m=2),))
    flat = flatten(Netlist(devices=(inst("X1", "quad", "n", m=3),), subckts=(sub, outer)))
    d = by_name(flat)
    assert d["X1.Xp.M1"].param("m") == 12.0
    assert d["X1.Xp.R1"].param("m") == 6.0
    assert d["X1.Xp.V1"].param("m") is None
    assert any("cannot be multiplied" in w.message and "X1.Xp.V1" in w.message for w in flat.warnings)


def test_declared_m_is_an_ordinary_parameter():
    sub = Subckt("cell", ("a",), devices=(res("R1", "a", "0", "1k*m"),), params=(P("m", 1.0),))
    d = by_name(flatten(Netlist(devices=(inst("X1", "cell", "n", m=4),), subckts=(sub,))))
    assert d["X1.R1"].value == 4000.0 and d["X1.R1"].param("m") is None


def test_models_inside_subckt_are_renamed_per_instance():
    sub = Subckt("cell", ("a",), devices=(mos("M1", "a", "a", "0", "0", model="NLOC"), mos("M2", "a", "a", "0", "0")),
                 params=(P("tox", 4e-9),), models=(Model("nloc", "nmos", (("tox", Expr("tox")),)),))
    n = Netlist(devices=(inst("X1", "cell", "a"), inst("X2", "cell", "b", tox=3e-9)), subckts=(sub,),
                models=(Model("nch", "nmos"),))
    flat = flatten(n)
    assert [(m.name, m.params) for m in flat.models] == [
        ("nch", ()), ("X1.nloc", (("tox", 4e-9),)), ("X2.nloc", (("tox", 3e-9),))]
    d = by_name(flat)
    assert d["X1.M1"].model == "X1.NLOC" and d["X1.M2"].model == "nch"


def test_controlling_source_and_coupled_inductor_names_follow_hierarchy():
    sub = Subckt("cell", ("a",), devices=(
        Device("Vs", K.VSOURCE, (("p", "a"), ("n", "x")), value=0.0),
        Device("F1", K.CCCS, (("p", "a"), ("n", "0")), value=2.0, spec="Vs"),
        Device("L1", K.INDUCTOR, (("p", "a"), ("n", "0")), value=1e-9),
        Device("L2", K.INDUCTOR, (("p", "x"), ("n", "0")), value=1e-9),
        Device("K1", K.MUTUAL, (), value=0.5, spec="L1 l2"),
        Device("F2", K.CCCS, (("p", "a"), ("n", "0")), value=1.0, spec="Vtop"),
    ))
    d = by_name(flatten(Netlist(devices=(inst("X1", "cell", "n"),), subckts=(sub,))))
    assert d["X1.F1"].spec == "X1.Vs"
    assert d["X1.K1"].spec == "X1.L1 X1.l2"
    assert d["X1.F2"].spec == "Vtop"  # not local: a top-level source


def test_nested_definition_is_found_lexically():
    inner = Subckt("leaf", ("p",), devices=(res("R1", "p", "0", 1.0),))
    other_leaf = Subckt("leaf", ("p",), devices=(res("Rother", "p", "0", 2.0),))
    outer = Subckt("outer", ("p",), devices=(inst("X1", "leaf", "p"),), subckts=(inner,))
    n = Netlist(devices=(inst("X1", "outer", "n"),), subckts=(other_leaf, outer))
    assert list(by_name(flatten(n))) == ["X1.X1.R1"]


def test_symbolic_flatten_inlines_local_params_over_globals():
    n = deck(inst("Xb", "buf", "in", "out", "vdd"), inst("X9", "inv", "a", "b", "vdd", wn="2*lg"),
             params=(P("lg", 1e-7),))
    sym = flatten(n, evaluate=False)
    assert sym.params == n.params  # still expressions over the globals
    d = by_name(sym)
    assert d["Xb.X1.M1"].param("w") == 1e-6  # a local literal comes out as a float
    assert d["X9.M1"].param("l") == Expr("lg")  # global reference untouched
    # every symbolic value evaluates, in the global scope, to what evaluate=True produced
    for overrides in ({}, {"lg": 3e-7}):
        scope = global_scope(n, overrides)
        num = by_name(flatten(deck(*n.devices, params=(P("lg", scope["lg"]),))))
        for name, dev in d.items():
            for (k, v), (_, expected) in zip(dev.params, num[name].params):
                got = evaluate(v.text, scope) if isinstance(v, Expr) else v
                assert got == pytest.approx(expected), (name, k, v)


def test_symbolic_multiplier_stays_symbolic():
    sub = Subckt("cell", ("a",), devices=(res("R1", "a", "0", 1.0),))
    d = by_name(flatten(Netlist(devices=(inst("X1", "cell", "n", m="k"),), subckts=(sub,)), evaluate=False))
    assert d["X1.R1"].param("m") == Expr("k")


def test_flat_netlist_keeps_other_content():
    n = deck(res("R9", "a", "0", "lg*1e9"), title="amp", globals=("vdd",))
    flat = flatten(n)
    assert flat.title == "amp" and flat.globals == ("vdd",)
    assert flat.devices[0].value == pytest.approx(100.0)
    assert flatten(flat) == flat  # idempotent once flat


def test_large_hierarchy_is_fast():
    leaf = Subckt("leaf", ("a", "b"), devices=tuple(mos(f"M{i}", "a", "b", f"n{i}", "0", w="w0*2") for i in range(10)),
                  params=(P("w0", 1e-6),))
    mid = Subckt("mid", ("a", "b"), devices=tuple(inst(f"X{i}", "leaf", "a", f"m{i}") for i in range(100)))
    n = Netlist(devices=tuple(inst(f"X{i}", "mid", "in", "out") for i in range(20)), subckts=(leaf, mid))
    t = time.perf_counter()
    flat = flatten(n)
    elapsed = time.perf_counter() - t
    assert len(flat.devices) == 20_000
    assert flat.devices[-1].name == "X19.X99.M9" and flat.devices[-1].param("w") == 2e-6
    assert elapsed < 5.0


def test_top_level_model_expressions_are_evaluated():
    n = Netlist(models=(Model("nch", "nmos", (("vth0", Expr("vt*2")), ("tox", 4e-9))),), params=(P("vt", 0.2),))
    assert flatten(n).models == (Model("nch", "nmos", (("vth0", 0.4), ("tox", 4e-9))),)
    assert flatten(n, evaluate=False).models == n.models


def test_flattens_parsed_spice():
    from ckt.netlist.parse_spice import parse_spice

    n = parse_spice(
        "* inverter chain\n"
        ".param wg=1u\n"
        ".subckt inv a y vdd wn=2u\n"
        ".param wp={2*wn}\n"
        "M1 y a 0 0 nch w=wn l=0.18u\n"
        "M2 y a vdd vdd pch w={wp}\n"
        ".ends\n"
        "X1 in mid vdd inv wn={wg*3}\n"
        "X2 mid out vdd inv\n"
        ".end\n"
    )
    d = by_name(flatten(n))
    assert d["X1.M2"].param("w") == pytest.approx(6e-6)
    assert d["X2.M2"].param("w") == pytest.approx(4e-6)
    assert d["X2.M1"].nets == ("out", "mid", "0", "0")


def test_identical_local_models_are_shared_and_bins_follow_the_family():
    sub = Subckt("nfet", ("d",), devices=(mos("M0", "d", "d", "0", "0", model="nmod"),), params=(P("w", 1.0),),
                 models=(Model("nmod.1", "nmos", (("wmax", Expr("w*2")),)),
                         Model("nmod.2", "nmos", (("wmin", Expr("w*2")),))))
    insts = (inst("X1", "nfet", "a"), inst("X2", "nfet", "b"), inst("X3", "nfet", "c", w=2.0))
    n = Netlist(devices=insts, subckts=(sub,))
    flat = flatten(n)
    assert [m.name for m in flat.models] == ["X1.nmod.1", "X1.nmod.2", "X3.nmod.1", "X3.nmod.2"]
    assert [d.model for d in flat.devices] == ["X1.nmod", "X1.nmod", "X3.nmod"]


def test_verbatim_expressions_inside_subckts_are_flagged():
    sub = Subckt("cell", ("a",), devices=(
        Device("B1", K.BEHAVIORAL, (("p", "a"), ("n", "0")), spec="V={g*v(a)}"),
        Device("V1", K.VSOURCE, (("p", "a"), ("n", "x")), value=0.0, spec="AC 1"),
    ))
    flat = flatten(Netlist(devices=(inst("X1", "cell", "n"),), subckts=(sub,)))
    assert by_name(flat)["X1.B1"].spec == "V={g*v(a)}"
    flagged = [w.message for w in flat.warnings if "kept verbatim" in w.message]
    assert len(flagged) == 1 and flagged[0].startswith("X1.B1:")


@pytest.mark.slow
def test_analoggenie_circuits_flatten(analoggenie_dir):
    """Real hierarchies (digital cells in ``*_full.cir``, op-amp blocks): every sampled circuit flattens,
    keeps every leaf device, and only undefined cells stay as instances."""
    from ckt.netlist.read import read_netlist

    files = sorted(analoggenie_dir.glob("*/*.cir"))[::5]
    assert len(files) > 500
    for path in files:
        n = read_netlist(path)
        flat = flatten(n)
        kept = [d for d in flat.devices if d.kind is K.SUBCKT]
        assert all(n.subckt(d.model) is None for d in kept), path
        leaves = sum(1 for d in n.devices if d.kind is not K.SUBCKT or n.subckt(d.model) is None)
        assert len(flat.devices) >= leaves, path


def test_undeclared_instance_parameter_warns_once_and_is_still_visible():
    sub = Subckt("cell", ("a",), devices=(res("R1", "a", "0", "rr"),))
    n = Netlist(devices=(inst("X1", "cell", "n", line=2, rr=5.0), inst("X2", "cell", "n", rr=6.0)), subckts=(sub,))
    flat = flatten(n)
    assert [d.value for d in flat.devices] == [5.0, 6.0]
    msgs = [w for w in flat.warnings if "does not declare" in w.message]
    assert len(msgs) == 1 and msgs[0].message == "X1: sets 'rr', which subcircuit 'cell' does not declare"
    assert msgs[0].line == 2
