from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ckt.opt.evaluator import Outcome
from ckt.opt.models import LABEL, Archive, Surrogates, choose_transform, fit_output, posterior_mean_grad, sample_outputs


def test_transform_choice():
    assert choose_transform(np.array([1e3, 1e6, 1e8])) == "log"
    assert choose_transform(np.array([50.0, 60.0, 70.0])) == "identity"
    assert choose_transform(np.array([-1e3, 1e6])) == "identity"


def _data(n=12, seed=0):
    X = np.random.default_rng(seed).random((n, 2))
    return X, 10 ** (2 + 4 * X[:, 0])  # positive, spans four decades, rises with x0


def test_log_output_samples_are_positive_and_seeded():
    X, y = _data()
    fo, _ = fit_output("ugbw", X, y)
    assert fo.transform == "log" and fo.fit_ok
    C = np.random.default_rng(1).random((50, 2))
    a = sample_outputs({"ugbw": fo}, C, 3, seed=5)["ugbw"]
    b = sample_outputs({"ugbw": fo}, C, 3, seed=5)["ugbw"]
    assert a.shape == (3, 50) and np.all(a > 0) and np.array_equal(a, b)
    g = posterior_mean_grad(fo, np.array([0.5, 0.5]))
    assert g[0] > 0 and abs(g[0]) > 5 * abs(g[1])


def test_failed_fit_falls_back_to_previous_hyperparameters(monkeypatch):
    X, y = _data()
    _, state = fit_output("m", X, y)
    import botorch.fit

    def broken(*args, **kwargs):
        raise RuntimeError("cholesky failed (simulated)")

    monkeypatch.setattr(botorch.fit, "fit_gpytorch_mll", broken)
    fo, state2 = fit_output("m", X, y, previous=state)
    assert not fo.fit_ok
    for k, v in state.items():
        assert torch.equal(v, state2[k]), k


def test_label_model_only_when_some_simulations_failed():
    X, y = _data(16)
    ok = np.ones(16, dtype=bool)
    s = Surrogates()
    assert LABEL not in s.fit(X, {"m": y}, ok)
    ok[:5] = False
    y_bad = y.copy()
    y_bad[:5] = np.nan
    fitted = s.fit(X, {"m": y_bad}, ok)
    assert LABEL in fitted and fitted["m"].model.train_targets.shape[-1] == 11
    assert torch.isfinite(fitted["m"].model.train_targets).all()


def test_hyperparameters_are_reoptimised_on_growth_or_every_third_fit(monkeypatch):
    import botorch.fit

    calls = []
    real = botorch.fit.fit_gpytorch_mll

    def counting(mll, **kwargs):
        calls.append(mll.model.train_inputs[0].shape[-2])
        return real(mll, **kwargs)

    monkeypatch.setattr(botorch.fit, "fit_gpytorch_mll", counting)
    X, y = _data(60)
    s = Surrogates()
    ok = np.ones(60, dtype=bool)
    for n in (40, 42, 44, 46, 60):
        fitted = s.fit(X[:n], {"m": y[:n]}, ok[:n])
        assert fitted["m"].model.train_inputs[0].shape[-2] == n  # always conditioned on all the data
    assert calls == [40, 46, 60]  # 40: first; 46: third call since; 60: grew by more than 20 %


def test_missing_metrics_get_the_worst_observed_value():
    from ckt.opt.space import Variable
    from ckt.opt.spec import Spec, Target

    spec = Spec((Variable("x", 0.0, 1.0),), (Target("gain", lo=100.0), Target("ugbw", lo=1e7),
                                             Target("current", hi=1e-3)))
    a = Archive(spec)
    a.add([np.array([0.1]), np.array([0.5]), np.array([0.9]), np.array([0.7])], [
        Outcome("ok", {"gain": 200.0, "ugbw": 2e6, "current": 5e-4}),
        Outcome("ok", {"gain": 50.0, "ugbw": 5e6, "current": 2e-3}),
        Outcome("ok", {"gain": 0.5, "current": 1e-4}),  # no unity-gain crossing: ugbw missing
        Outcome("nonconvergence"),
    ])
    _, values, ok = a.training_data()
    assert ok.tolist() == [True, True, True, False]  # only the failed simulation is not ok
    assert values["ugbw"][2] == 2e6  # the worst (smallest) measured ugbw
    assert not a.scores[2].valid  # scoring itself is unchanged: a missing metric is unmet
    keys = a.model_keys()
    assert keys[2][0] == 1.0 and math.isfinite(keys[2][1]) and math.isinf(keys[3][1])
    assert a.best_index(imputed=True) == 0 and keys[2] == (1.0, pytest.approx(0.995 + 0.8))
