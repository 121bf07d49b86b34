"""The harness the sizing experiments share (``folded_cascode_power.py``, ``multistage_sizing.py``).

Each (problem, method, seed) is one fresh run of the loop ``ckt size --method M --seed S`` runs,
from the netlist's sizes, with the same budget and batch size, so methods differ only in how they
choose designs. This module holds what every such experiment does alike: the command line, the
resumable run loop (a JSON rewritten after every run; ``--resume`` skips the runs it holds, once
its config matches), the per-method summary and its Markdown table, and the power curves' panel.
A script says what its problems are, what its config records, and how its figure is laid out; it
puts the checkout and ``experiments/`` on ``sys.path`` before importing this module.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ckt.errors import CktError
from ckt.opt.baselines import METHODS, make_method
from ckt.opt.loop import Budget, Problem, optimize
from ckt.opt.run import summarise

ROOT = Path(__file__).resolve().parents[1]

SizingProblem = tuple[dict[str, str], Any, Any]
"""``(tag, spec, evaluator)``: the fields that name the problem in each of its runs (``{}`` when an
experiment has one problem, ``{"circuit": NAME}`` otherwise), its spec and its ``SimEvaluator``."""


def parse_args(argv: Sequence[str] | None, doc: str, *, budget: int, resume_skips: str,
               circuits: Sequence[str] = ()) -> argparse.Namespace:
    """The experiments' common options, with ``seeds``, ``methods`` (and ``circuits``, offered when
    ``circuits`` names the choices) parsed to lists; a bad value exits with argparse's message."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--budget", type=int, default=budget, help="simulations per run")
    ap.add_argument("--batch", type=int, default=4, help="designs per batch")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated, from " + ", ".join(METHODS))
    if circuits:
        ap.add_argument("--circuits", default=",".join(circuits), help="comma-separated, from " + ", ".join(circuits))
    ap.add_argument("--workers", type=int, default=2, help="ngspice worker processes")
    ap.add_argument("--out", default=str(ROOT / "experiments" / "results"), help="folder for the JSON and PNG")
    ap.add_argument("--resume", action="store_true", help=f"skip {resume_skips} already in the JSON")
    args = ap.parse_args(argv)

    args.methods = _choices(ap, "method", args.methods, METHODS)
    if circuits:
        args.circuits = _choices(ap, "circuit", args.circuits, circuits)
    try:
        args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    return args


def _choices(ap: argparse.ArgumentParser, what: str, text: str, known: Sequence[str]) -> list[str]:
    picked = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in picked if m not in known]
    if unknown:
        ap.error(f"unknown {what}(s) {', '.join(unknown)}; expected {', '.join(known)}")
    return picked


def start(json_path: Path, config: dict, fresh: dict, resume: bool) -> dict:
    """``fresh`` (holding ``config`` and an empty ``runs``), or with ``resume`` the record already at
    ``json_path``.

    Raises:
        CktError: the recorded config differs from ``config``.
    """
    if not (resume and json_path.exists()):
        return {"config": config, "machine": f"{platform.platform()}, {os.cpu_count()} CPUs", **fresh, "runs": []}
    old = json.loads(json_path.read_text())
    if old.get("config") != config:
        raise CktError(f"{json_path}: recorded with {old.get('config')}, not {config}; "
                       "run without --resume (or with another --out) to start over")
    return old


def default_design(spec: Any, evaluator: Any) -> dict:
    """The netlist's own sizes, simulated and scored: the reference the tables and figures show."""
    (_, o), = evaluator.evaluate([evaluator.initial])
    score = spec.score(o.values if o.ok else None, evaluator.initial)
    return {"params": evaluator.initial, "metrics": o.values, "feasible": score.feasible}


def one_run(spec: Any, evaluator: Any, method: str, seed: int, budget: int, batch: int) -> dict:
    """One sizing run: the ``ckt size`` loop, fresh (no history, so no warm start)."""
    t0 = time.time()
    m = make_method(method, spec, batch_size=batch, seed=seed, x0=spec.space.to_unit(evaluator.initial))
    run = optimize(Problem(spec, evaluator.initial), evaluator, m, Budget(budget, batch))
    res = summarise(run, seed, t0)
    metrics = res.best["metrics"] if res.best else {}
    return {
        "method": method, "seed": seed, "feasible": res.feasible, "sims_to_feasible": res.sims_to_feasible,
        "best_power_w": metrics.get("power_w") if res.feasible else None,
        "best_metrics": metrics, "best_params": res.best["params"] if res.best else None,
        "n_sims": res.n_sims, "n_failed": res.n_failed, "stopped": res.stopped, "wall_s": res.wall_s,
        # best feasible power after each simulation; None until the first feasible design
        "trace_power_w": res.convergence["objective"],
    }


def run_missing(data: dict, json_path: Path, problems: Sequence[SizingProblem], methods: Sequence[str],
                seeds: Sequence[int], budget: int, batch: int) -> None:
    """Every (problem, method, seed) run ``data`` lacks, seed by seed, appended to ``data["runs"]``
    (tagged with its problem's fields) and written to ``json_path`` after each, with a progress line."""
    fields = list(problems[0][0]) if problems else []
    done = {(*(r[f] for f in fields), r["method"], r["seed"]) for r in data["runs"]}
    todo = [(tag, spec, ev, m, s) for s in seeds for tag, spec, ev in problems for m in methods
            if (*tag.values(), m, s) not in done]
    for k, (tag, spec, evaluator, m, s) in enumerate(todo, 1):
        t0 = time.time()
        run = {**tag, **one_run(spec, evaluator, m, s, budget, batch)}
        data["runs"].append(run)
        write_json(json_path, data)
        power = "–" if run["best_power_w"] is None else f"{run['best_power_w'] * 1e6:.1f} µW"
        first = "never" if run["sims_to_feasible"] is None else f"first after {run['sims_to_feasible']} sims"
        print(f"[{k}/{len(todo)}] {' '.join([*tag.values(), m])} seed {s}: feasible "
              f"{'yes' if run['feasible'] else 'no'} ({first}), best power {power}, {run['n_sims']} sims,"
              f" {time.time() - t0:.1f} s", flush=True)


def write_json(path: Path, data: dict) -> None:
    """``data`` to ``path`` through a temporary file, so an interrupted run leaves the last whole record."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def methods_run(runs: Sequence[dict]) -> list[str]:
    """The methods ``runs`` hold, in ``METHODS`` order."""
    return [m for m in METHODS if any(r["method"] == m for r in runs)]


def curves(runs: Sequence[dict], budget: int) -> np.ndarray:
    """``(seeds, budget)`` best feasible power after each simulation, ``inf`` while infeasible.

    A run that stopped early keeps its last value to the end of the budget.
    """
    out = np.full((len(runs), budget), np.inf)
    for i, r in enumerate(runs):
        tr = [math.inf if v is None else v for v in r["trace_power_w"]][:budget]
        if tr:
            out[i, :len(tr)] = tr
            out[i, len(tr):] = tr[-1]
    return out


def summary(runs: Sequence[dict], methods: Sequence[str]) -> list[dict]:
    """Per method: feasible seeds, median simulations to feasible, best feasible power statistics."""
    rows = []
    for m in methods:
        mine = [r for r in runs if r["method"] == m]
        if not mine:
            continue
        feas = [r for r in mine if r["feasible"]]
        powers = [r["best_power_w"] for r in feas]
        sims = [r["sims_to_feasible"] for r in feas]
        rows.append({
            "method": m, "runs": len(mine), "feasible": len(feas),
            "median_sims_to_feasible": float(np.median(sims)) if sims else None,
            "median_best_power_w": float(np.median(powers)) if powers else None,
            "min_best_power_w": min(powers) if powers else None,
            "max_best_power_w": max(powers) if powers else None,
            "median_wall_s": float(np.median([r["wall_s"] for r in mine])),
        })
    return rows


def microwatts(x: float | None) -> str:
    """A power in the tables' unit, ``–`` for none."""
    return "–" if x is None else f"{x * 1e6:.1f}"


def markdown(rows: Sequence[dict], keys: Sequence[str]) -> str:
    """The summary table, its rows named by the ``keys`` columns (``method``, maybe ``circuit`` first)."""
    lines = ["| " + " | ".join(keys) + " | feasible runs | median sims to feasible | median best power of "
             "feasible runs (µW) | best–worst (µW) | median wall (s) |", "|---|" + "---|" * (len(keys) + 4)]
    for r in rows:
        sims = "–" if r["median_sims_to_feasible"] is None else f"{r['median_sims_to_feasible']:g}"
        lo, hi = r["min_best_power_w"], r["max_best_power_w"]
        spread = "–" if lo is None else f"{microwatts(lo)}–{microwatts(hi)}"
        lines.append("| " + " | ".join(str(r[k]) for k in keys) + f" | {r['feasible']}/{r['runs']} | {sims} "
                     f"| {microwatts(r['median_best_power_w'])} | {spread} | {r['median_wall_s']:.0f} |")
    return "\n".join(lines)


def draw_curves(ax: Any, axf: Any, runs: Sequence[dict], methods: Sequence[str], budget: int, *,
                band: bool = False) -> None:
    """Per method, the median over seeds of the best feasible power (µW, drawn once more than half
    the seeds are feasible; with ``band``, shaded from the best to the worst feasible seed) on
    ``ax``, and the fraction of seeds feasible on ``axf``."""
    x = np.arange(1, budget + 1)
    for m in methods:
        mine = [r for r in runs if r["method"] == m]
        if not mine:
            continue
        c = curves(mine, budget) * 1e6
        med = np.median(c, axis=0)  # inf while half or more of the seeds are infeasible
        finite = np.isfinite(c)
        line, = ax.step(x, np.where(np.isfinite(med), med, np.nan), where="post",
                        label=f"{m} (median of {len(mine)})")
        if band:
            lo = np.where(finite.any(axis=0), np.min(c, axis=0), np.nan)
            hi = np.where(finite.any(axis=0), np.max(np.where(finite, c, -np.inf), axis=0), np.nan)
            ax.fill_between(x, lo, hi, step="post", alpha=0.12, color=line.get_color(), linewidth=0)
        axf.step(x, finite.mean(axis=0), where="post", color=line.get_color())


def label_axes(ax: Any, axf: Any) -> None:
    """The power panel's and the feasible-fraction panel's labels, grid and legend."""
    ax.set_ylabel("best feasible power (µW)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    axf.set_ylabel("seeds feasible")
    axf.set_ylim(-0.05, 1.05)
    axf.set_xlabel("simulations")
    axf.grid(alpha=0.3)
