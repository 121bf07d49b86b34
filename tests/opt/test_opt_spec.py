from __future__ import annotations

import math

import pytest

from ckt.errors import SpecError
from ckt.opt.spec import Target, load_spec, parse_spec

EXAMPLE = """\
pdk: ptm45
testbench:
  kind: opamp
  dut: my_opamp
  ports: {vss: gnda, vdd: vdda, inn: vinn, inp: vinp, out: vout}
  vdd: 1.2
  cload: 10p
variables:
  mp1: {min: 1, max: 100, step: 1}
  cc:  {min: 0.1p, max: 10p, scale: log}
derived:
  pm_deg: "ph_ugbw > 0 ? ph_ugbw*180/pi - 180 : 180 + ph_ugbw*180/pi"
targets:
  gain_db: {min: 49.54}
  ugbw: {min: 1e7}
  pm_deg: {min: 60}
objective: {minimize: power_w}
"""


def test_example_spec_reads(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(EXAMPLE)
    spec = load_spec(path)
    assert spec.pdk == "ptm45"
    assert [v.name for v in spec.variables] == ["mp1", "cc"]
    assert spec.variables[1].lo == pytest.approx(0.1e-12) and spec.variables[1].log
    assert spec.variables[0].step == 1
    assert spec.objective.name == "power_w" and spec.objective.minimize
    assert dict(spec.testbench.options) == {"vdd": 1.2, "cload": pytest.approx(10e-12)}
    assert dict(spec.testbench.ports)["out"] == "vout"
    assert spec.metric_names == ("gain_db", "ugbw", "pm_deg", "stable", "power_w")  # stable: implied by pm_deg


def test_derived_ternary_and_scoring():
    spec = parse_spec(EXAMPLE)
    v = spec.complete({"ph_ugbw": -2.0})
    assert v["pm_deg"] == pytest.approx(180 - 2.0 * 180 / math.pi)
    ok = spec.score({"gain_db": 60, "ugbw": 2e7, "ph_ugbw": -1.0, "power_w": 1e-4, "stable": 1.0})
    assert ok.feasible and ok.violation == 0 and ok.objective == 1e-4
    bad = spec.score({"gain_db": 44.586, "ugbw": 2e7, "ph_ugbw": -1.0, "power_w": 1e-4, "stable": 1.0})
    assert not bad.feasible and bad.violation == pytest.approx(0.1, rel=1e-3)
    assert bad.rank_key(spec) > ok.rank_key(spec)


def test_missing_value_makes_design_invalid():
    spec = parse_spec(EXAMPLE)
    s = spec.score({"gain_db": 60, "ugbw": 2e7, "power_w": 1e-4})  # no ph_ugbw -> no pm_deg
    assert not s.valid and math.isinf(s.violation)
    assert not spec.score(None).valid


@pytest.mark.parametrize(
    "patch, match",
    [
        (("  cc:  {min: 0.1p, max: 10p, scale: log}", "  cc:  {min: 0.1p, max: 10p, scael: log}"),
         r"s\.yaml:10: variables\.cc\.scael: unknown key"),
        (("objective: {minimize: power_w}", "objective: {minimize: power_w}\nbogus: 1"), r"bogus: unknown key"),
        (("  ugbw: {min: 1e7}", "  ugbw: {min: ten}"), r"s\.yaml:15: targets\.ugbw\.min: expected a number"),
        (("  mp1: {min: 1, max: 100, step: 1}", "  mp1: {max: 100}"), r"variables\.mp1: missing min"),
        (("kind: opamp", "kind: mixer"), r"testbench\.kind: expected one of opamp"),
        (("  gain_db: {min: 49.54}", "  gain_db: {min: 50, max: 40}"), r"min 50 is above max 40"),
        (('"ph_ugbw > 0', '"ph_ugbw >> 0'), r"derived\.pm_deg"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path, patch, match):
    path = tmp_path / "s.yaml"
    path.write_text(EXAMPLE.replace(*patch))
    with pytest.raises(SpecError, match=match):
        load_spec(path)


def test_not_yaml_and_missing_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("variables: [a, b\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(path)
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "nope.yaml")


def test_target_violation_and_margin():
    t = Target("x", lo=10.0, hi=20.0)
    assert t.violation(15) == 0 and t.violation(5) == pytest.approx(0.5) and t.violation(30) == pytest.approx(0.5)
    assert t.margin(15) == pytest.approx(0.25)
    assert math.isinf(t.violation(float("nan")))


# ---------------------------------------------------------------- corners

CORNER_BASE = """\
pdk: {pdk}
testbench: {{kind: opamp, dut: my_opamp, vdd: 1.8}}
variables:
  w: {{min: 1u, max: 10u}}
targets:
  gain_db: {{min: 40}}
objective: {{minimize: power_w}}
corners:
{corners}"""


def _corner_spec(tmp_path, corners: str, pdk: str = "ptm180"):
    path = tmp_path / "c.yaml"
    path.write_text(CORNER_BASE.format(pdk=pdk, corners=corners))
    return load_spec(path)


def test_corners_relative_supply_and_temperatures(tmp_path):
    spec = _corner_spec(tmp_path, "  temp: [-40, 27, 125]\n  vdd: [-10%, 0%, +10%]\n")
    c = spec.corners
    assert c.temps == (-40.0, 27.0, 125.0) and c.relative_vdd and c.vdds == pytest.approx((-0.1, 0.0, 0.1))
    points = c.points(1.8)
    assert len(points) == c.size == 9
    assert sorted({p.vdd for p in points}) == pytest.approx([1.62, 1.8, 1.98])
    assert {p.temp for p in points} == {-40.0, 27.0, 125.0} and {p.corner for p in points} == {None}


def test_corners_absolute_supply_and_process_on_a_pdk_with_corners(tmp_path):
    spec = _corner_spec(tmp_path, "  process: [ss, ff]\n  vdd: [3.0, 3.6]\n", pdk="gf180")
    points = spec.corners.points(3.3)
    assert not spec.corners.relative_vdd
    assert [(p.corner, p.vdd) for p in points] == [("ss", 3.0), ("ss", 3.6), ("ff", 3.0), ("ff", 3.6)]
    assert all(p.temp is None for p in points)


def test_corners_change_the_digest(tmp_path):
    a = _corner_spec(tmp_path, "  temp: [0, 85]\n")
    b = _corner_spec(tmp_path, "  temp: [0, 100]\n")
    assert a.digest() != b.digest()


@pytest.mark.parametrize("corners, pdk, match", [
    ("  process: [tt]\n", "ptm180", r"c\.yaml:9: corners\.process: PDK ptm180 has no process corners"),
    ("  process: [ss]\n", "sky130", r"c\.yaml:9: corners\.process: PDK sky130 has no corner 'ss' \(known: tt\)"),
    ("  process: [typical, slow]\n", "gf180", r"c\.yaml:9: corners\.process: .*'slow' \(known: typical, ff"),
    ("  vdd: [1.6, -10%]\n", "ptm180", r"c\.yaml:9: corners\.vdd: give every supply in volts or every one"),
    ("  vdd: [-150%]\n", "ptm180", r"c\.yaml:9: corners\.vdd: a relative supply must stay above -100%"),
    ("  vdd: [0]\n", "ptm180", r"c\.yaml:9: corners\.vdd: supplies must be positive"),
    ("  temp: [27, 27]\n", "ptm180", r"c\.yaml:9: corners\.temp: repeated value"),
    ("  temp: [-300]\n", "ptm180", r"c\.yaml:9: corners\.temp: .*-273\.15"),
    ("  temp: [hot]\n", "ptm180", r"c\.yaml:9: corners\.temp: expected a number"),
    ("  temp: []\n", "ptm180", r"c\.yaml:9: corners\.temp: expected at least one value"),
    ("  tmp: [27]\n", "ptm180", r"c\.yaml:9: corners\.tmp: unknown key"),
    ("  {}\n", "ptm180", r"c\.yaml:8: corners: expected at least one of process, temp, vdd"),
])
def test_corner_errors_name_file_line_and_key(tmp_path, corners, pdk, match):
    with pytest.raises(SpecError, match=match):
        _corner_spec(tmp_path, corners, pdk)


def test_corners_need_a_pdk_for_process_and_a_testbench(tmp_path):
    path = tmp_path / "n.yaml"
    path.write_text("testbench: {kind: opamp, dut: x}\nvariables: {w: {min: 1, max: 2}}\n"
                    "targets: {gain_db: {min: 1}}\ncorners:\n  process: [tt]\n")
    with pytest.raises(SpecError, match=r"n\.yaml:5: corners\.process: process corners need a PDK"):
        load_spec(path)
    path.write_text("variables: {w: {min: 1, max: 2}}\ntargets: {gain: {min: 1}}\ncorners:\n  temp: [0, 85]\n")
    with pytest.raises(SpecError, match=r"n\.yaml:3: corners: corners need a generated testbench"):
        load_spec(path)
