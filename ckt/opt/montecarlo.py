"""Monte Carlo yield of one design: the fraction of mismatch samples that meet the spec.

The samples come from the evaluator (``SimEvaluator.mismatch_samples``: the PDK's own mismatch
models, ``ckt.sim.montecarlo``); each is scored by the spec exactly as the sizing run scores a
design, so "meets the spec" means the same here as in ``result.json``. Sample ``k`` of a run seeded
``S`` uses seed ``S + k``; the estimate records ``S`` and the seeds, so any sample can be re-run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from ckt.opt.spec import Spec
from ckt.sim.montecarlo import sample_seeds

Z95 = 1.959963984540054
"""Two-sided 95 % normal quantile, for the Wilson interval of the yield."""


@dataclass(frozen=True)
class YieldEstimate:
    """The Monte Carlo yield of one design.

    Attributes:
        n: samples drawn.
        seed: the run's seed (sample ``k`` used ``seed + k``).
        n_pass: samples meeting every target (with the spec's margin).
        n_failed: samples whose simulation failed or missed a metric (counted as not passing).
        fraction: ``n_pass / n``.
        ci95: Wilson 95 % interval of the yield ``(lo, hi)``.
        spread: metric -> ``{"mean", "std", "min", "max", "n"}`` over the ``n`` samples that measured it.
        samples: per sample ``{"seed", "feasible", "valid", "values"}``.
    """

    n: int
    seed: int
    n_pass: int
    n_failed: int
    fraction: float
    ci95: tuple[float, float]
    spread: dict[str, dict[str, float]]
    samples: list[dict]

    def to_json(self) -> dict:
        return asdict(self)


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (sound at 0 and ``n`` passes)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo = 0.0 if k == 0 else max(0.0, centre - half)  # exact at the ends, where rounding would not be
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def estimate_yield(spec: Spec, evaluator, params: Mapping[str, float], n: int, seed: int) -> YieldEstimate:
    """Draw ``n`` mismatch samples of ``params`` (seeds ``seed .. seed + n - 1``) and score each.

    Args:
        evaluator: anything with ``mismatch_samples(params, seeds)`` yielding ``(k, Outcome)``.

    Raises:
        CktError: ``n < 1`` or ``seed < 1``; PdkError when the PDK carries no mismatch.
    """
    seeds = sample_seeds(seed, n)
    outcomes: list = [None] * n
    for k, outcome in evaluator.mismatch_samples(params, seeds):
        outcomes[k] = outcome
    samples: list[dict] = []
    measured: list[dict[str, float]] = []
    for s, o in zip(seeds, outcomes):
        score = spec.score(o.values if o is not None and o.ok else None, params)
        values = {} if o is None else dict(o.values)
        measured.append(values)
        samples.append({"seed": s, "feasible": score.feasible, "valid": score.valid, "values": values})
    n_pass = sum(1 for x in samples if x["feasible"])
    names = [m for m in spec.metric_names if any(m in v for v in measured)]
    spread = {}
    for m in names:
        v = np.array([values[m] for values in measured if m in values], dtype=float)
        spread[m] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
                     "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}
    return YieldEstimate(n=n, seed=seed, n_pass=n_pass, n_failed=sum(1 for x in samples if not x["valid"]),
                         fraction=n_pass / n, ci95=wilson(n_pass, n), spread=spread, samples=samples)
