"""Optimiser overhead per TuRBO iteration: GP fitting plus Thompson candidate generation.

Synthetic problem: ``d`` variables, three constrained metrics and one objective (four GPs, the
usual op-amp spec), ``n`` observations, batch ``q = 4``. Each row times four consecutive ``ask``
calls on the same method, four new observations apart: ``cold`` (first fit from default
hyperparameters), then two that only condition the GPs on the new data (``condition``, the mean of
the two) and one that re-optimises the hyperparameters from the previous ones (``refit``; see
``Surrogates.REFIT_EVERY``). ``steady`` is the mean of the last three: the per-iteration cost of a
running optimisation. Every ask includes Thompson sampling at ``TurboMethod``'s default number of
candidates (``min(5000, max(1000, 100 d))``).

Exact GP fitting is ``O(n^3)`` per L-BFGS step; ``TurboMethod.max_train`` (default 500) caps the
training set to the points nearest the trust-region centre, so past 500 observations the fit cost
stops growing and only the ``O(n d)`` bookkeeping does. Run ``--no-cap`` to see the uncapped cost.

Usage: ``python benchmarks/bench_opt_overhead.py [--out FILE.json] [--sizes 100,300,1000] [--dims 7,20]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import numpy as np

from ckt.opt.evaluator import Outcome
from ckt.opt.space import Variable
from ckt.opt.spec import Objective, Spec, Target
from ckt.opt.turbo import TurboMethod


def synthetic(d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(4, d))

    def f(x: np.ndarray) -> Outcome:
        a = w @ (x - 0.5)
        return Outcome("ok", {"g1": 60 + 10 * math.sin(a[0]), "g2": math.exp(3 + a[1]), "g3": 70 + 20 * math.tanh(a[2]),
                              "obj": math.exp(a[3])})

    spec = Spec(variables=tuple(Variable(f"x{i}", 0.0, 1.0) for i in range(d)),
                targets=(Target("g1", lo=62.0), Target("g2", lo=30.0), Target("g3", lo=65.0)),
                objective=Objective("obj"))
    return spec, f


def one(n: int, d: int, cap: int, q: int = 4) -> dict:
    spec, f = synthetic(d)
    m = TurboMethod(spec, batch_size=q, seed=0, max_train=cap)
    X = np.random.default_rng(1).random((n, d))
    m.tell(list(X), [f(x) for x in X])
    m._init_queue = []  # skip the initial design: time the model-based step only
    times = []
    for _ in range(4):
        t = time.perf_counter()
        pts = m.ask(q)
        times.append(time.perf_counter() - t)
        m.tell(pts, [f(x) for x in pts])
    return {"n": n, "d": d, "gps": 4, "q": q, "train_cap": cap, "cold_s": round(times[0], 3),
            "condition_s": round((times[1] + times[2]) / 2, 3), "refit_s": round(times[3], 3),
            "steady_s": round(sum(times[1:]) / 3, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="benchmarks/results/opt_overhead.json")
    ap.add_argument("--sizes", default="100,300,1000")
    ap.add_argument("--dims", default="7,20")
    ap.add_argument("--no-cap", action="store_true", help="train on every observation")
    args = ap.parse_args()
    rows = []
    print(f"{'n':>6} {'d':>4} {'cap':>5} {'cold s':>8} {'cond s':>8} {'refit s':>8} {'steady s':>9}")
    for d in map(int, args.dims.split(",")):
        for n in map(int, args.sizes.split(",")):
            cap = 10**9 if args.no_cap else 500
            row = one(n, d, cap)
            rows.append(row)
            print(f"{n:>6} {d:>4} {min(cap, n):>5} {row['cold_s']:>8.2f} {row['condition_s']:>8.2f} "
                  f"{row['refit_s']:>8.2f} {row['steady_s']:>9.2f}", flush=True)
    meta = {"machine": platform.platform(), "cpus": os.cpu_count(), "loadavg_end": os.getloadavg(),
            "python": platform.python_version()}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"rows": rows, "meta": meta}, fh, indent=2)
    print(f"wrote {args.out}; load average at the end {meta['loadavg_end']}")


if __name__ == "__main__":
    main()
