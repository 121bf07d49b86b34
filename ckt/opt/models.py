"""Surrogate models: one Gaussian process per modelled output, and the data they are trained on.

Each target metric and the objective get an independent GP (Matern-5/2 with ARD lengthscales and
the dimension-scaled log-normal lengthscale prior of Hvarfner et al., 2024, BoTorch's default), each
with its own hyperparameters; they live in one batched multi-output ``SingleTaskGP`` trained on the
designs whose simulation worked, so one L-BFGS run fits them all (about 4x cheaper than four fits).
When some simulations failed, a separate GP on the 0/1 "simulation succeeded" label (all designs)
joins them as one more constraint.

Output transforms are chosen from the data every time the models are refitted:

* ``log``: every observed value is positive and ``max/min >= LOG_SPAN`` (two decades) — unity-gain
  bandwidth, power, currents. Modelling ``log(y)`` makes the GP's stationarity assumption hold far
  better than modelling ``y``, and a back-transformed sample can never be negative.
* ``identity`` otherwise (dB gains, phase margins, anything that changes sign).

Either way outputs are then standardised (zero mean, unit variance) by this module, not by a BoTorch
outcome transform, so that pathwise posterior samples are un-standardised in one obvious place.

Fitting uses ``fit_gpytorch_mll`` starting from the previous fit's hyperparameters; when fitting
fails (a Cholesky error, a non-finite loss) the previous hyperparameters are kept, so one bad
iteration never stops a run. Failed simulations never reach a metric GP: they only enter the label
GP, which the optimiser treats as one more constraint (success probability ``>= 0.5``). A simulation
that ran but could not measure some metric (an op-amp whose gain never reaches 1 has no unity-gain
frequency or phase margin) is not a failure: the metric gets its worst observed value
(``Archive.training_data``), so the GPs still learn from the design.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from ckt.opt.spec import Score, Spec

LOG_SPAN = 100.0
"""A positive output whose observed ``max/min`` reaches this ratio is modelled as ``log(y)``."""

FIT_MAXITER = 75
"""L-BFGS iterations of a cold fit (default hyperparameters)."""

FIT_MAXITER_WARM = 20
"""L-BFGS iterations of a refit that starts from the previous fit: between two batches the data
change by a few points, so the optimum moves little; capping the refit is what keeps an iteration
at 300 observations x 20 variables near a second (see benchmarks/bench_opt_overhead.py)."""

LABEL = "__sim_ok__"
"""Name of the success-label model among the outputs."""

TORCH_THREADS = 1
"""Intra-op threads while fitting and sampling. The GPs are small (hundreds of points), so extra
threads buy nothing and, on a machine whose cores are busy with simulations, OpenMP spin-waiting
made fits 10-100x slower in our measurements (2-core VM under load)."""


@contextmanager
def torch_threads(n: int = TORCH_THREADS):
    """Run a block with ``n`` torch threads, restoring the caller's setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def choose_transform(y: np.ndarray) -> str:
    """``"log"`` for positive data spanning at least ``LOG_SPAN``, else ``"identity"``."""
    y = np.asarray(y, dtype=np.float64)
    if y.size and np.all(y > 0) and y.max() / y.min() >= LOG_SPAN:
        return "log"
    return "identity"


@dataclass
class FittedOutput:
    """One output of a trained GP with the transform that maps it to and from model space.

    ``index`` is the output's position in a batched multi-output model (the metric GPs share one
    model object: independent GPs with their own hyperparameters, fitted in one L-BFGS run), or
    None for a single-output model.
    """

    name: str
    model: Any  # a fitted BoTorch model (batched SingleTaskGP or ModelListGP)
    transform: str
    mean: float
    std: float
    fit_ok: bool
    index: int | None = None

    def untransform(self, z: torch.Tensor) -> torch.Tensor:
        """Model-space values (standardised) back to the output's own units."""
        y = z * self.std + self.mean
        return torch.exp(y) if self.transform == "log" else y

    @property
    def lengthscales(self) -> np.ndarray:
        """ARD lengthscales `(d,)` in unit-cube coordinates."""
        ls = self.model.covar_module.lengthscale.detach()
        if self.index is not None:
            ls = ls[self.index]
        return ls.reshape(-1).numpy().copy()


def _make_gp(X: torch.Tensor, Z: torch.Tensor):
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import MaternKernel
    from gpytorch.priors import LogNormalPrior

    d = X.shape[-1]
    k = Z.shape[-1]
    prior = LogNormalPrior(loc=math.sqrt(2) + math.log(d) / 2, scale=math.sqrt(3))
    batch = torch.Size([k]) if k > 1 else torch.Size([])
    kernel = MaternKernel(nu=2.5, ard_num_dims=d, lengthscale_prior=prior, batch_shape=batch)
    return SingleTaskGP(X, Z, covar_module=kernel, outcome_transform=None)


def fit_outputs(names: list[str], X: np.ndarray, Y: np.ndarray, previous: dict | None = None,
                transforms: list[str] | None = None, optimise: bool = True) -> tuple[list[FittedOutput], dict]:
    """Fit independent GPs to the columns of ``Y`` `(n, k)` at unit points ``X`` `(n, d)`.

    Args:
        previous: hyperparameters (a ``state_dict``) of the last fit of the same outputs: the
            starting point (the refit then needs ``FIT_MAXITER_WARM`` iterations at most) and the
            fallback when fitting fails.
        transforms: force ``"log"``/``"identity"`` per column (default: ``choose_transform``).
        optimise: False only conditions the GPs on the data with the ``previous`` hyperparameters.

    Returns:
        ``(fitted per column, state_dict)``; ``fit_ok`` is False when the fallback was used.
    """
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    Y = np.asarray(Y, dtype=np.float64).reshape(len(X), -1)
    transforms = transforms or [choose_transform(Y[:, j]) for j in range(Y.shape[1])]
    Z = np.empty_like(Y)
    stats = []
    for j, tr in enumerate(transforms):
        t = np.log(Y[:, j]) if tr == "log" else Y[:, j]
        mean, std = float(t.mean()), float(t.std())
        std = std if std > 1e-12 else 1.0
        Z[:, j] = (t - mean) / std
        stats.append((mean, std))
    gp = _make_gp(torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(Z, dtype=torch.float64))
    if previous is not None:
        gp.load_state_dict(previous, strict=False)
    start = {k: v.clone() for k, v in gp.state_dict().items()}
    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    maxiter = FIT_MAXITER if previous is None else FIT_MAXITER_WARM
    ok = True
    if optimise or previous is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter}})
            ok = all(bool(torch.isfinite(p).all()) for p in gp.parameters())
        except Exception:  # noqa: BLE001 - any fitting failure falls back to the previous hyperparameters
            ok = False
    if not ok:
        gp.load_state_dict(start, strict=False)
    gp.eval()
    multi = len(names) > 1
    fitted = [FittedOutput(n, gp, tr, m, s, ok, j if multi else None)
              for j, (n, tr, (m, s)) in enumerate(zip(names, transforms, stats))]
    return fitted, gp.state_dict()


def fit_output(name: str, X: np.ndarray, y: np.ndarray, previous: dict | None = None,
               transform: str | None = None, optimise: bool = True) -> tuple[FittedOutput, dict]:
    """``fit_outputs`` for a single output ``y`` `(n,)`."""
    fitted, state = fit_outputs([name], X, np.asarray(y).reshape(-1, 1), previous,
                                None if transform is None else [transform], optimise)
    return fitted[0], state


class Surrogates:
    """The set of GPs a sampling optimiser needs, refitted as data arrives.

    Holds the last hyperparameters so that refits warm-start and failures fall back; a change in
    the set of outputs (or their transforms) starts cold. Hyperparameters are re-optimised when
    the training set has grown by ``REFIT_GROWTH`` since the last optimisation or after
    ``REFIT_EVERY`` calls; in between the GPs are only conditioned on the new data (one Cholesky),
    because a few new points barely move the marginal-likelihood optimum.
    """

    REFIT_GROWTH = 1.2
    REFIT_EVERY = 3

    def __init__(self) -> None:
        self._state: dict[tuple, dict] = {}
        self._last: dict[tuple, tuple[int, int]] = {}  # key -> (n at last optimisation, calls since)
        self.outputs: dict[str, FittedOutput] = {}

    def _optimise(self, key: tuple, n: int) -> bool:
        n0, calls = self._last.get(key, (0, self.REFIT_EVERY))
        if key not in self._state or n >= self.REFIT_GROWTH * n0 or calls + 1 >= self.REFIT_EVERY:
            self._last[key] = (n, 0)
            return True
        self._last[key] = (n0, calls + 1)
        return False

    def fit(self, X: np.ndarray, values: dict[str, np.ndarray], ok: np.ndarray) -> dict[str, FittedOutput]:
        """Fit every output.

        Args:
            X: unit points `(n, d)`.
            values: output name -> `(n,)` values, meaningful where ``ok`` is True.
            ok: `(n,)` booleans, the simulation succeeded with every needed value finite.

        Returns:
            name -> fitted output; ``LABEL`` is present when ``ok`` holds both True and False.
        """
        fitted: dict[str, FittedOutput] = {}
        names = list(values)
        with torch_threads():
            if names:
                Y = np.stack([values[n][ok] for n in names], axis=1)
                key = tuple(names) + tuple(choose_transform(Y[:, j]) for j in range(len(names)))
                outs, self._state[key] = fit_outputs(names, X[ok], Y, self._state.get(key),
                                                     optimise=self._optimise(key, len(Y)))
                fitted.update({o.name: o for o in outs})
            if ok.any() and not ok.all():
                key = (LABEL,)
                fitted[LABEL], self._state[key] = fit_output(LABEL, X, ok.astype(np.float64), self._state.get(key),
                                                             "identity", optimise=self._optimise(key, len(X)))
        self.outputs = fitted
        return fitted


def sample_outputs(outputs: dict[str, FittedOutput], C: np.ndarray, n_samples: int, seed: int) -> dict[str, np.ndarray]:
    """Joint posterior function samples of every output at candidates ``C`` `(m, d)`.

    Uses pathwise (Matheron-rule) sampling: each draw is a whole function (random Fourier prior
    plus a data update), so evaluating it at thousands of candidates costs ``O(m)`` instead of the
    ``O(m^3)`` Cholesky that exact joint sampling over the candidate set needs.

    Returns:
        name -> `(n_samples, m)` array in the output's own units.
    """
    from botorch.sampling.pathwise import draw_matheron_paths

    Ct = torch.as_tensor(C, dtype=torch.float64)
    out: dict[str, np.ndarray] = {}
    drawn: dict[int, torch.Tensor] = {}
    with torch.random.fork_rng(), torch_threads():
        torch.manual_seed(seed)
        for name, fo in outputs.items():
            with torch.no_grad():
                if id(fo.model) not in drawn:
                    paths = draw_matheron_paths(fo.model, torch.Size([n_samples]))
                    drawn[id(fo.model)] = paths(Ct)
                z = drawn[id(fo.model)]
                z = z[:, fo.index, :] if fo.index is not None else z.reshape(n_samples, -1)
                out[name] = fo.untransform(z).numpy()
    return out


def posterior_mean_grad(fo: FittedOutput, x: np.ndarray) -> np.ndarray:
    """Gradient `(d,)` of the posterior mean (in the output's model space, i.e. standardised and
    possibly log) at one unit point ``x``: how strongly each variable moves this output locally."""
    xt = torch.as_tensor(x, dtype=torch.float64).reshape(1, -1).clone().requires_grad_(True)
    mean = fo.model.posterior(xt).mean
    mean = (mean[..., fo.index] if fo.index is not None else mean).sum()
    (g,) = torch.autograd.grad(mean, xt)
    return g.reshape(-1).numpy() * fo.std


class Archive:
    """Every design a method has been told about: unit point, outcome, score and TR epoch.

    Scores are computed by the spec on the way in, so data replayed from an earlier run with other
    targets is judged by the current spec without re-simulating.
    """

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.points: list[np.ndarray] = []
        self.values: list[dict[str, float] | None] = []
        self.scores: list[Score] = []
        self.epochs: list[int] = []

    def __len__(self) -> int:
        return len(self.points)

    def add(self, points, outcomes, epoch: int | Sequence[int] = 0) -> list[Score]:
        """Record a batch (``epoch``: one TR epoch for all, or one per design); returns the scores
        of its designs."""
        epochs = [epoch] * len(points) if isinstance(epoch, int) else list(epoch)
        new = []
        for x, o, e in zip(points, outcomes, epochs):
            params = self.spec.space.from_unit(x)
            vals = self.spec.complete(o.values, params) if o.ok else None
            score = self.spec.score(vals, params)
            self.points.append(np.asarray(x, dtype=np.float64).reshape(-1))
            self.values.append(vals)
            self.scores.append(score)
            self.epochs.append(e)
            new.append(score)
        return new

    def keys(self) -> list[tuple[float, float]]:
        return [s.rank_key(self.spec) for s in self.scores]

    def model_keys(self) -> list[tuple[float, float]]:
        """Rank keys where a design that simulated but lacks a metric is judged by its imputed
        values (see ``training_data``) instead of an infinite violation, so that a search which has
        seen only non-functional designs can still tell the nearly working ones apart."""
        _, values, ok = self.training_data()
        keys = []
        for i, s in enumerate(self.scores):
            if s.valid or not ok[i]:
                keys.append(s.rank_key(self.spec))
            else:
                keys.append((1.0, sum(t.violation(float(values[t.name][i]), self.spec.margin)
                                      for t in self.spec.targets)))
        return keys

    def best_index(self, epoch: int | None = None, imputed: bool = False) -> int | None:
        """Index of the best design (of one TR epoch when given and it has any), else None;
        ``imputed`` ranks by ``model_keys``."""
        idx: list[int] = list(range(len(self)))
        if epoch is not None:
            idx = [i for i in idx if self.epochs[i] == epoch] or idx
        keys = self.model_keys() if imputed and len(self) else self.keys()
        return min(idx, key=keys.__getitem__, default=None)

    def _worst(self, name: str, y: np.ndarray) -> float:
        """The least favourable observed value of a metric: the smallest for a ``>=`` target,
        the largest for a ``<=`` target or a minimised objective."""
        for t in self.spec.targets:
            if t.name == name:
                return float(y.min() if t.lo is not None else y.max())
        obj = self.spec.objective
        return float(y.max() if obj is None or obj.minimize else y.min())

    def training_data(self) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """``(X (n, d), name -> y (n,), ok (n,))`` for every metric the spec reads.

        A design whose simulation ran but did not produce a metric (no unity-gain crossing when
        the gain is below 1, so neither UGBW nor phase margin exists) gets that metric's worst
        observed value: it is at least as bad as anything measured, and the GPs keep learning
        from the metrics it does have instead of seeing a hole. ``ok`` is False only for failed
        simulations (or a metric never measured at all); those train the success-label GP.
        """
        X = np.stack(self.points)
        ran = np.array([v is not None for v in self.values])
        values = {}
        for name in self.spec.metric_names:
            y = np.array([v.get(name, np.nan) if v is not None else np.nan for v in self.values], dtype=np.float64)
            measured = ran & np.isfinite(y)
            if measured.any():
                y = np.where(ran & ~measured, self._worst(name, y[measured]), y)
            values[name] = y
        ok = ran.copy()
        for y in values.values():
            ok &= np.isfinite(y)
        return X, values, ok
