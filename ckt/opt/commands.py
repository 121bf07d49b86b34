"""``ckt size``: size a netlist against a spec file with ngspice."""

from __future__ import annotations

from pathlib import Path

import click

from ckt.opt.baselines import METHODS


@click.command("size")
@click.argument("netlist", type=click.Path(dir_okay=False))
@click.option("--spec", "spec_path", required=True, type=click.Path(dir_okay=False), help="Sizing spec (YAML).")
@click.option("--budget", default=100, show_default=True, help="Most simulations (designs) to spend.")
@click.option("--batch", default=4, show_default=True, help="Designs proposed per iteration.")
@click.option("--workers", type=int, default=None, help="Simulation worker processes (default: --batch).")
@click.option("--seed", default=0, show_default=True)
@click.option("--executor", "executor_kind", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", default=None, help="Ray cluster address (with --executor ray).")
@click.option("--method", type=click.Choice(METHODS), default="turbo", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="size_out", show_default=True)
@click.option("--resume", is_flag=True,
              help="Continue the last run in OUT/history.sqlite (keeps its method, seed and batch size).")
@click.option("--warm-start", "warm", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="Another history.sqlite to learn from (same netlist and variables). Repeatable.")
@click.option("--fd-sensitivity", is_flag=True, help="Spend 2*d extra simulations on finite differences.")
@click.option("--timeout", "timeout_s", default=60.0, show_default=True, help="Per-simulation limit (s).")
@click.option("--quiet", is_flag=True, help="No progress lines.")
def size(netlist: str, spec_path: str, budget: int, batch: int, workers: int | None, seed: int, executor_kind: str,
         address: str | None, method: str, out_dir: str, resume: bool, warm: tuple[str, ...], fd_sensitivity: bool,
         timeout_s: float, quiet: bool) -> None:
    """Size NETLIST's .param values to meet the targets of --spec (exit 0 even when infeasible)."""
    from ckt.netlist.read import read_text
    from ckt.opt.evaluator import SimEvaluator
    from ckt.opt.loop import file_hash, run_sizing
    from ckt.opt.spec import load_spec
    from ckt.sim.executor import make_executor

    read_text(netlist)  # a clear error for a missing or unreadable netlist
    spec = load_spec(spec_path)
    with make_executor(executor_kind, workers=workers or batch, address=address) as executor:
        evaluator = SimEvaluator(netlist, spec, executor, timeout_s=timeout_s)
        result = run_sizing(
            spec, evaluator, out_dir=out_dir, budget=budget, batch_size=batch, method=method, seed=seed,
            resume=resume, initial=evaluator.initial, netlist_hash=file_hash(netlist), warm_start=warm,
            sensitivity_fd=fd_sensitivity, progress=not quiet,
            write_outputs=lambda out, res, run: _netlist_outputs(netlist, evaluator, out, res),
        )
    verdict = "feasible" if result.feasible else "INFEASIBLE (closest design kept)"
    first = f", first feasible after {result.sims_to_feasible}" if result.sims_to_feasible else ""
    click.echo(f"{verdict}: {result.n_sims} simulations{first}; results in {Path(out_dir) / 'result.json'}")
    if result.binding_constraints:
        click.echo("binding constraints: " + "; ".join(result.binding_constraints))


def _netlist_outputs(netlist: str, evaluator, out: Path, result) -> dict[str, str]:
    """``best.cir`` (the netlist with the best sizes) and, for testbench runs, the Bode plot."""
    from ckt.netlist.params import with_params
    from ckt.netlist.write import write_spice
    from ckt.sim.deck import load_netlist

    files: dict[str, str] = {}
    if result.best is None:
        return files
    params = result.best["params"]
    (out / "best.cir").write_text(write_spice(with_params(load_netlist(netlist), params)))
    files["best_netlist"] = "best.cir"
    bode = evaluator.bode(params)
    if bode is not None:
        try:
            from ckt.report.bode import plot_bode
        except ImportError:
            return files
        plot_bode(bode[0], bode[1], out / "bode.png", title="best design: open-loop response")
        files["bode"] = "bode.png"
        result.n_extra_sims += 1
    return files
