"""``ckt size``: size a netlist against a spec file with ngspice."""

from __future__ import annotations

from pathlib import Path

import click

from ckt.cli.netlist import include_options
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
@click.option("--mc", "mc", type=click.IntRange(min=0), default=0, show_default=True,
              help="Monte Carlo mismatch samples of the best design afterwards (yield in result.json; "
                   "needs a PDK whose models carry mismatch, e.g. sky130).")
@click.option("--mc-seed", "mc_seed", type=click.IntRange(min=1), default=1, show_default=True,
              help="Seed of the first Monte Carlo sample (sample k uses seed + k).")
@click.option("--with-parasitics", "with_parasitics", is_flag=True,
              help="Add estimated net ground capacitances (ckt parasitics) to the DUT as capacitors first.")
@include_options
def size(netlist: str, spec_path: str, budget: int, batch: int, workers: int | None, seed: int, executor_kind: str,
         address: str | None, method: str, out_dir: str, resume: bool, warm: tuple[str, ...], fd_sensitivity: bool,
         timeout_s: float, quiet: bool, mc: int, mc_seed: int, with_parasitics: bool,
         include_path: tuple[str, ...]) -> None:
    """Size NETLIST's .param values to meet the targets of --spec (exit 0 even when infeasible)."""
    from ckt.netlist.read import read_netlist
    from ckt.opt.evaluator import SimEvaluator
    from ckt.opt.run import RunOptions
    from ckt.opt.run import size as run_size
    from ckt.opt.spec import load_spec
    from ckt.sim.deckpolicy import check_file
    from ckt.sim.executor import make_executor

    # parsed once, here (by absolute path, so its includes resolve from any folder); everything below takes it
    net = read_netlist(Path(netlist).resolve(), include_path=include_path)
    spec = load_spec(spec_path)
    if with_parasitics:  # the DUT subcircuit of a generated testbench, else the whole deck
        from ckt.parasitic.annotate import estimate_ground_caps, with_parasitic_caps

        estimates = estimate_ground_caps(net, scope=spec.testbench.dut if spec.testbench else None)
        net = with_parasitic_caps(net, estimates)
        click.echo(f"added {len(estimates)} estimated parasitic capacitors "
                   f"({sum(e.farads for e in estimates):.3g} F in all)", err=True)
    # before any simulation, naming the user's file and line; the workers check every deck again
    check_file(netlist, trusted=spec.trust_deck, include_path=include_path).raise_if_refused()
    options = RunOptions(budget=budget, batch=batch, method=method, seed=seed, resume=resume, warm_start=warm,
                         sensitivity_fd=fd_sensitivity, progress=not quiet, mc=mc, mc_seed=mc_seed)
    with make_executor(executor_kind, workers=workers or batch, address=address) as executor:
        evaluator = SimEvaluator(net, spec, executor, timeout_s=timeout_s, source=netlist)
        result = run_size(spec, evaluator, out_dir, options, initial=evaluator.initial, netlist=net)
    verdict = "feasible" if result.feasible else "INFEASIBLE (closest design kept)"
    first = f", first feasible after {result.sims_to_feasible}" if result.sims_to_feasible else ""
    click.echo(f"{verdict}: {result.n_sims} simulations{first}; results in {Path(out_dir) / 'result.json'}")
    if result.binding_constraints:
        click.echo("binding constraints: " + "; ".join(result.binding_constraints))
    if result.corners:
        click.echo(f"worst case over {len(result.corners)} corners (per-corner values in result.json)")
    if result.mc_yield:
        y = result.mc_yield
        click.echo(f"Monte Carlo yield: {y['n_pass']}/{y['n']} = {100 * y['fraction']:.0f} % "
                   f"(95 % interval {100 * y['ci95'][0]:.0f}-{100 * y['ci95'][1]:.0f} %, seed {y['seed']})")
    if result.first_failure:
        click.echo(f"first failure (simulation {result.first_failure['simulation']}): "
                   f"{result.first_failure['message']}")
