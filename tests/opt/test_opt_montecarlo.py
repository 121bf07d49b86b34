"""Monte Carlo yield: counting on a fake evaluator, seeded reproducibility, the run's record and
report, and a clear refusal where the models carry no mismatch."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ckt.errors import SpecError
from ckt.opt.evaluator import Outcome
from ckt.opt.montecarlo import estimate_yield, wilson
from ckt.opt.space import Variable
from ckt.opt.spec import Objective, Spec, Target
from tests.conftest import requires_ngspice
from tests.opt.fakes import TOY_INITIAL, FakeEvaluator, run_sizing, toy_opamp, toy_spec

NETLISTS = Path(__file__).resolve().parents[2] / "netlists"


def draw(params, seed: int) -> Outcome:
    """A fake mismatch sample: gain and bandwidth scattered by the seed; seed 13 fails to simulate."""
    if seed == 13:
        return Outcome("nonconvergence", message="fake")
    z = np.random.default_rng(seed).standard_normal(2)
    return Outcome("ok", {"gain_db": params["w"] + 2.0 * z[0], "ugbw": 3e7 * (1 + 0.1 * z[1]), "power_w": 1e-4})


class MismatchFake(FakeEvaluator):
    """A fake whose designs also come as seeded mismatch samples (out of order, like a pool)."""

    def mismatch_samples(self, params, seeds):
        self.sample_calls.append(tuple(seeds))
        for k in reversed(range(len(seeds))):
            yield k, draw(params, seeds[k])


def make_fake(fn=None) -> MismatchFake:
    ev = MismatchFake(fn or (lambda p: draw(p, 1)))
    ev.sample_calls = []
    return ev


SPEC = Spec(variables=(Variable("w", 50, 70),), targets=(Target("gain_db", lo=60), Target("ugbw", lo=2.8e7)),
            objective=Objective("power_w"))


def test_yield_counts_the_samples_meeting_every_target():
    ev = make_fake()
    y = estimate_yield(SPEC, ev, {"w": 61.0}, n=40, seed=1)
    assert ev.sample_calls == [tuple(range(1, 41))]
    expected = 0
    for s in range(1, 41):
        if s == 13:
            continue
        z = np.random.default_rng(s).standard_normal(2)
        expected += (61 + 2 * z[0] >= 60) and (3e7 * (1 + 0.1 * z[1]) >= 2.8e7)
    assert y.n_pass == expected and 0 < expected < 40
    assert y.fraction == expected / 40 and y.n_failed == 1
    assert [s["seed"] for s in y.samples] == list(range(1, 41))
    assert not y.samples[12]["feasible"] and not y.samples[12]["valid"]
    lo, hi = y.ci95
    assert lo < y.fraction < hi
    gains = [s["values"]["gain_db"] for s in y.samples if s["valid"]]
    assert y.spread["gain_db"]["n"] == 39
    assert y.spread["gain_db"]["mean"] == pytest.approx(np.mean(gains))
    assert y.spread["gain_db"]["std"] == pytest.approx(np.std(gains, ddof=1))
    assert y.spread["gain_db"]["min"] == min(gains) and y.spread["gain_db"]["max"] == max(gains)


def test_yield_is_reproducible_from_its_seed():
    a = estimate_yield(SPEC, make_fake(), {"w": 60.5}, n=20, seed=100)
    b = estimate_yield(SPEC, make_fake(), {"w": 60.5}, n=20, seed=100)
    c = estimate_yield(SPEC, make_fake(), {"w": 60.5}, n=20, seed=200)
    assert a == b
    assert a.samples != c.samples


def test_wilson_interval():
    assert wilson(0, 10)[0] == 0.0 and 0.2 < wilson(0, 10)[1] < 0.35
    assert wilson(10, 10)[1] == 1.0 and wilson(10, 10)[0] > 0.65
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(1 - hi) and math.isclose(hi - lo, 2 * 0.0978, rel_tol=0.02)


def test_run_refuses_mc_without_a_testbench_before_simulating(tmp_path):
    spec = toy_spec()
    ev = make_fake(toy_opamp)
    spec = Spec(spec.variables, spec.targets, spec.objective, spec.derived, pdk="sky130",
                testbench=None, source="toy.yaml")
    # a spec without a testbench cannot draw mismatch samples: refused before any simulation
    with pytest.raises(SpecError, match=r"toy\.yaml: Monte Carlo \(--mc\) needs a generated testbench"):
        run_sizing(spec, ev, out_dir=tmp_path / "a", initial=TOY_INITIAL, budget=8, mc=5)
    assert ev.calls == []


def test_run_writes_the_yield_and_the_report(tmp_path, monkeypatch):
    import ckt.opt.run as run_mod

    monkeypatch.setattr(run_mod, "check_mismatch", lambda spec: None)  # the fake draws its own mismatch
    spec = Spec(variables=(Variable("w", 50, 70),), targets=(Target("gain_db", lo=58), Target("ugbw", lo=2.8e7)),
                objective=Objective("power_w"))
    ev = make_fake(lambda p: Outcome("ok", {"gain_db": p["w"], "ugbw": 3e7, "power_w": 1e-6 * p["w"]}))
    result = run_sizing(spec, ev, out_dir=tmp_path, initial={"w": 65.0}, budget=8, mc=12, mc_seed=4, method="random")
    assert result.feasible
    y = result.mc_yield
    assert y["n"] == 12 and y["seed"] == 4 and ev.sample_calls == [tuple(range(4, 16))]
    assert result.n_extra_sims >= 12
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["mc_yield"]["n_pass"] == y["n_pass"]
    report = (tmp_path / "report.md").read_text()
    assert "## Monte Carlo mismatch yield" in report and f"{y['n_pass']} of 12 samples" in report


def test_cli_refuses_mc_on_a_pdk_without_mismatch(tmp_path, capsys):
    from ckt.cli import run

    out = tmp_path / "run"
    code = run(["size", str(NETLISTS / "ota_5t.cir"), "--spec", str(NETLISTS / "ota_5t.yaml"),
                "--budget", "4", "--mc", "3", "--out", str(out), "--quiet"])
    assert code == 2
    assert "ota_5t.yaml: --mc: PDK ptm180: its models carry no device mismatch" in capsys.readouterr().err
    assert not (out / "result.json").exists()


@pytest.mark.ngspice
@requires_ngspice
def test_real_sky130_yield_through_the_evaluator_reproduces():
    """Three sky130 mismatch samples of the 5T OTA through ``SimEvaluator``: the same seed gives the
    same samples and yield, and the samples differ from each other."""
    from ckt.opt.evaluator import SimEvaluator
    from ckt.opt.spec import TestbenchSpec as TbSpec
    from ckt.sim.executor import make_executor

    spec = Spec(variables=(Variable("ibias", 2e-6, 40e-6, log=True),),
                targets=(Target("gain_db", lo=37.2), Target("ugbw", lo=1e6)), objective=Objective("power_w"),
                pdk="sky130", testbench=TbSpec("opamp", "ota5t", options=(("vdd", 1.8), ("cload", 1e-12))))
    with make_executor("local", workers=2) as ex:
        ev = SimEvaluator(NETLISTS / "ota_5t.cir", spec, ex)
        a = estimate_yield(spec, ev, ev.initial, n=3, seed=11)
        b = estimate_yield(spec, ev, ev.initial, n=3, seed=11)
    assert a == b and a.n_failed == 0
    gains = [s["values"]["gain_db"] for s in a.samples]
    assert len(set(gains)) == 3 and a.spread["gain_db"]["std"] > 0
    assert a.n_pass == sum(g >= 37.2 for g in gains)
