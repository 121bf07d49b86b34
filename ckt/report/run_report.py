"""The sizing run's human-facing outputs: plots and ``report.md``.

``result.json`` is the machine-readable record (``ckt.opt.run``); this module draws from the same
``SizingResult`` so the report can never disagree with it.
"""

from __future__ import annotations

from pathlib import Path

from ckt.report.convergence import plot_convergence
from ckt.report.sensitivity_plot import plot_sensitivity
from ckt.report.units import metric, si


def write_run_outputs(out: Path, result, spec) -> dict[str, str]:
    """Draw the convergence and sensitivity plots; returns ``{name: file name}`` of what was written."""
    files: dict[str, str] = {}
    conv = result.convergence
    if conv.get("violation"):
        name = spec.objective.name if spec.objective is not None else None
        plot_convergence(conv["objective"], conv["violation"], out / "convergence.png", objective_name=name,
                         title=f"{result.method}, seed {result.seed}")
        files["convergence"] = "convergence.png"
    if result.sensitivity and plot_sensitivity(result.sensitivity, out / "sensitivity.png",
                                               title="sensitivity at the best design"):
        files["sensitivity"] = "sensitivity.png"
    return files


def _margin(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f} %"


def _fmt(x) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _corner_lines(result) -> list[str]:
    """The best design at every corner: one row per corner, one column per target."""
    if not result.corners:
        return []
    names = list(result.targets)
    lines = ["## Corners", "", f"The targets above are judged on the worst case over these {len(result.corners)} "
             "conditions (per metric, its worst value at any of them).", "",
             "| corner | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for c in result.corners:
        cells = [metric(n, c["values"].get(n)) if n in c["values"] else f"missing ({c['missing'].get(n, '?')})"
                 for n in names]
        lines.append(f"| {c['corner']} | " + " | ".join(cells) + " |")
    return lines + [""]


def _yield_lines(result) -> list[str]:
    """The Monte Carlo yield and each metric's spread over the samples."""
    y = result.mc_yield
    if not y:
        return []
    lo, hi = y["ci95"]
    lines = ["## Monte Carlo mismatch yield", "",
             f"{y['n_pass']} of {y['n']} samples meet every target: {100 * y['fraction']:.1f} % (Wilson 95 % "
             f"interval {100 * lo:.1f}–{100 * hi:.1f} %); seed {y['seed']} (sample k uses seed + k); "
             f"{y['n_failed']} not fully measured.", "",
             "| metric | mean | std | min | max |", "|---|---|---|---|---|"]
    for name, s in y["spread"].items():
        lines.append(f"| {name} | {metric(name, s['mean'])} | {metric(name, s['std'])} | {metric(name, s['min'])} "
                     f"| {metric(name, s['max'])} |")
    return lines + [""]


def write_report(out: Path, result, spec) -> Path:
    """``report.md``: verdict, best design, targets with margins, plots, sensitivity tables."""
    lines = [f"# Sizing report ({result.method}, seed {result.seed})", ""]
    verdict = "**feasible**" if result.feasible else "**infeasible** — closest design shown"
    lines += [f"- Result: {verdict}",
              f"- Simulations: {result.n_sims} of {result.budget} (batch {result.batch}); "
              f"not fully measured {result.n_failed} (simulation failed, or a metric such as UGBW did not "
              f"exist); reused {result.n_reused}; warm-start designs {result.n_warm}; "
              f"extra {result.n_extra_sims}",
              f"- Simulations to first feasible design: {_fmt(result.sims_to_feasible)}",
              f"- Stopped: {result.stopped}; wall time {result.wall_s:.1f} s",
              f"- Required margin on every target: {_margin(result.margin) if result.margin else 'none'}",
              f"- Deck trusted (`trust_deck`): {_fmt(result.trust_deck)}", ""]
    if result.first_failure:
        f = result.first_failure
        lines += [f"First failure (simulation {f['simulation']}): `{f['message']}`", ""]
    if result.binding_constraints:
        lines += ["Binding (unmet) constraints: " + "; ".join(f"`{c}`" for c in result.binding_constraints), ""]
    if result.targets:
        lines += ["## Targets", "", "Margin: slack to the nearest bound, relative to that bound; met means at "
                  "least the required margin.", "",
                  "| metric | min | max | value | margin | required | met |", "|---|---|---|---|---|---|---|"]
        for name, t in result.targets.items():
            label = f"{name} (implied by {t['implied_by']}: closed-loop stable)" if t.get("implied_by") else name
            lines.append(f"| {label} | {metric(name, t['min'])} | {metric(name, t['max'])} | "
                         f"{metric(name, t['value'])} | {_margin(t['margin'])} | "
                         f"{_margin(t.get('required_margin', 0.0))} | {_fmt(t['met'])} |")
        lines.append("")
    if result.objective:
        o = result.objective
        lines += [f"Objective: {o['sense']} `{o['name']}` = {metric(o['name'], o['value'])}", ""]
    lines += _corner_lines(result) + _yield_lines(result)
    if result.best:
        lines += ["## Best design", "", "| variable | value |", "|---|---|"]
        lines += [f"| {k} | {si(v)} |" for k, v in result.best["params"].items()]
        others = {k: v for k, v in {**result.best["metrics"], **result.best["measurements"]}.items()
                  if k not in result.targets}
        if others:
            lines += ["", "| also measured | value |", "|---|---|"]
            lines += [f"| {k} | {metric(k, v) if isinstance(v, float) else _fmt(v)} |" for k, v in others.items()]
        lines.append("")
    if "convergence" in result.files:
        lines += ["## Convergence", "", f"![Convergence]({result.files['convergence']})", ""]
    shown = [(k, c) for k, c in (("bode", "open loop (Bode)"), ("step", "unity-gain follower step"))
             if k in result.files]
    if shown:  # side by side: stability is judged on both
        lines += ["## Best design: open loop and closed loop", "",
                  "| " + " | ".join(c for _, c in shown) + " |", "|" + "---|" * len(shown),
                  "| " + " | ".join(f"![{c}]({result.files[k]})" for k, c in shown) + " |", ""]
    if "sensitivity" in result.files:
        lines += ["## Sensitivity", "", f"![Sensitivity]({result.files['sensitivity']})", ""]
    sens = result.sensitivity
    if sens:
        lines += ["Sensitivity unit: change of a metric across the full range of a variable, divided by the "
                  "metric's target bound (by its value at the best design when it has no bound).", ""]
        for key, caption in (("gp_gradient", "GP posterior-mean gradient"),
                             ("finite_difference", "Finite differences")):
            table = sens.get(key)
            if not table:
                continue
            metrics = list(table)
            lines += [f"### {caption}", "", "| variable | " + " | ".join(metrics) + " |",
                      "|---|" + "---|" * len(metrics)]
            for v in sens["variables"]:
                lines.append(f"| {v} | " + " | ".join(_fmt(table[m].get(v)) for m in metrics) + " |")
            lines.append("")
    if "best_netlist" in result.files:
        lines += [f"Sized netlist: [{result.files['best_netlist']}]({result.files['best_netlist']})", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
