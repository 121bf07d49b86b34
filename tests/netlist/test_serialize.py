"""IR <-> JSON: lossless round trips (property-based) and schema errors that name the bad field."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings

from ckt.errors import NetlistParseError
from ckt.netlist.ir import Device, DeviceKind, Diagnostic, Expr, Include, Model, Netlist, Param, SourceLoc, Subckt
from ckt.netlist.serialize import SCHEMA, dumps, from_dict, loads, to_dict
from tests.netlist.strategies import devices, netlists

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _locs(n: Netlist):
    """Every non-compared field, so the round trip can be checked beyond ``==``."""
    out = [n.diagnostics]
    for d in n.devices:
        out.append(d.loc)
    for p in n.params:
        out.append(p.loc)
    for m in n.models:
        out.append(m.loc)
    for s in n.statements:
        out.append(s.loc)
    for s in n.all_subckts():
        out += [s.loc] + [d.loc for d in s.devices] + [p.loc for p in s.params]
    for i in n.includes:
        out += [i.loc, None if i.netlist is None else (i.netlist, _locs(i.netlist))]
    return out


@FAST
@given(netlists())
def test_round_trip_dict_and_json(n):
    back = from_dict(to_dict(n))
    assert back == n
    assert _locs(back) == _locs(n)
    again = loads(dumps(n))
    assert again == n and _locs(again) == _locs(n)
    json.loads(dumps(n, indent=None))  # strict JSON, no bare Infinity


@FAST
@given(devices())
def test_every_device_kind_round_trips(d):
    n = Netlist(devices=(d,))
    back = from_dict(to_dict(n)).devices[0]
    assert back == d and back.loc == d.loc


def test_values_are_distinguishable():
    d = Device("R1", DeviceKind.RESISTOR, (("p", "a"), ("n", "b")), value=Expr("2*r"),
               params=(("tc1", math.inf), ("tc2", -math.inf), ("m", 2.0)))
    enc = to_dict(Netlist(devices=(d,)))["devices"][0]
    assert enc["value"] == {"expr": "2*r"}
    assert enc["params"] == [["tc1", {"float": "inf"}], ["tc2", {"float": "-inf"}], ["m", 2.0]]


def test_nan_round_trips():
    n = Netlist(params=(Param("x", math.nan),))
    text = dumps(n)
    assert "NaN" not in text
    assert math.isnan(loads(text).params[0].value)


def test_schema_tag_and_minimal_input():
    assert to_dict(Netlist())["schema"] == SCHEMA
    r1 = {"name": "R1", "kind": "R", "terminals": [["p", "a"], ["n", "0"]], "value": 1}
    n = from_dict({"schema": SCHEMA, "devices": [r1]})
    assert n.devices[0] == Device("R1", DeviceKind.RESISTOR, (("p", "a"), ("n", "0")), value=1.0)
    assert n.devices[0].loc is None


def test_nested_include_and_subckt_content():
    inner = Netlist(params=(Param("lmin", 1e-7, SourceLoc("pdk.lib", 3)),))
    sub = Subckt("s", ("a",), subckts=(Subckt("t", ("b",)),), models=(Model("n", "nmos", (("vth0", 0.4),)),))
    n = Netlist(subckts=(sub,), includes=(Include("pdk.lib", "tt", inner, SourceLoc("top.cir", 2)),),
                diagnostics=(Diagnostic("warning", "odd", "top.cir", 4, "W1"),))
    back = loads(dumps(n))
    assert back.includes[0].netlist == inner and back.includes[0].netlist.params[0].loc == SourceLoc("pdk.lib", 3)
    assert back.subckts[0].subckts[0].name == "t"
    assert back.diagnostics == n.diagnostics


def _message(d) -> str:
    with pytest.raises(NetlistParseError) as info:
        from_dict(d)
    (diag,) = info.value.diagnostics
    assert diag.severity == "error" and diag.code == "schema"
    return diag.message


def _dev(**over):
    d = {"name": "M1", "kind": "M", "terminals": [["d", "a"], ["g", "b"], ["s", "0"], ["b", "0"]]}
    d.update(over)
    return {"schema": SCHEMA, "devices": [d]}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "<root>: expected an object, got list"),
        ({}, "schema: expected 'ckt.netlist/1', got 'nothing'"),
        ({"schema": "ckt.netlist/9"}, "schema: expected 'ckt.netlist/1', got 'ckt.netlist/9'"),
        ({"schema": SCHEMA, "colour": 1}, "<root>: unknown field(s) colour"),
        ({"schema": SCHEMA, "devices": {}}, "devices: expected a list, got dict"),
        ({"schema": SCHEMA, "devices": [3]}, "devices[0]: expected an object, got int"),
        (_dev(kind="Y"), "devices[0].kind: expected one of M, Q"),
        (_dev(kind=["M"]), "devices[0].kind: expected one of"),
        (_dev(name=None), "devices[0].name: expected a string, got null"),
        (_dev(terminals=[["d"]]), "devices[0].terminals[0]: expected a [string, string] pair"),
        (_dev(value="1k"), "devices[0].value: expected a number, {'expr': text}"),
        (_dev(value=True), "devices[0].value: expected a number"),
        (_dev(value={"float": "big"}), "devices[0].value: expected a number"),
        (_dev(params=[["w", {"expr": 3}]]), "devices[0].params[0][1]: expected a number"),
        (_dev(params=[["w"]]), "devices[0].params[0]: expected a [name, value] pair"),
        (_dev(loc={"file": "a"}), "devices[0].loc: missing field 'line'"),
        (_dev(loc={"line": "7"}), "devices[0].loc.line: expected an integer, got str"),
        ({"schema": SCHEMA, "params": [{"name": "w"}]}, "params[0]: missing field 'value'"),
        ({"schema": SCHEMA, "subckts": [{"name": "s", "ports": ["a", "A"]}]}, "subckts[0]: duplicate port name 'A'"),
        ({"schema": SCHEMA, "devices": [_dev()["devices"][0]] * 2}, "<root>: duplicate device name 'M1'"),
        (
            {"schema": SCHEMA, "includes": [{"path": "x", "netlist": {"schema": SCHEMA}}]},
            "includes[0].netlist: unknown field(s) schema",
        ),
        ({"schema": SCHEMA, "globals": [1]}, "globals[0]: expected a string, got int"),
        (
            {"schema": SCHEMA, "diagnostics": [{"severity": "error", "message": "m", "line": 1.5}]},
            "diagnostics[0].line: expected an integer",
        ),
    ],
)
def test_schema_errors_name_the_field(doc, message):
    assert message in _message(doc)


def test_bad_json_reports_line_and_column():
    with pytest.raises(NetlistParseError) as info:
        loads('{\n  "schema": "ckt.netlist/1",\n  "title": oops\n}')
    assert info.value.line == 3
    assert "invalid JSON" in str(info.value) and "column 12" in str(info.value)


@pytest.mark.slow
def test_analoggenie_netlists_round_trip(analoggenie_dir):
    from ckt.netlist.read import read_netlist

    files = sorted(analoggenie_dir.glob("*/*.cir"))[::5]
    assert len(files) > 500
    for path in files:
        n = read_netlist(path)
        back = loads(dumps(n))
        assert back == n and _locs(back) == _locs(n), path
