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
