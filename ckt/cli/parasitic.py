"""``ckt parasitics`` (estimated net ground capacitance of a netlist) and ``ckt train parasitic`` /
``ckt eval parasitic`` (the estimator on the digtime graph): thin calls into ``ckt.parasitic``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from ckt.cli.netlist import include_options

# the library's choices (ckt.parasitic.train / tasks), repeated so `ckt --help` does not import torch
_MODELS, _LOSSES, _SPLITS = ("gnn", "gcl"), ("mse", "balanced"), ("region", "random")
_BUCKETS = ("quantile", "circuitgcl")


@click.command("parasitics")
@click.argument("netlist", type=click.Path(dir_okay=False))
@click.option("--model", "checkpoint", type=click.Path(), default=None,
              help="A parasitic checkpoint (best.pt or its folder; default: the shipped one).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {scope, net, farads, bucket, fanout}.")
@include_options
def parasitics(netlist: str, checkpoint: str | None, as_json: bool, include_path: tuple[str, ...]) -> None:
    """Estimate the ground capacitance layout would add to each net of NETLIST (28 nm digital training
    data: an order of magnitude for analog netlists, see ckt.parasitic.annotate)."""
    from ckt.netlist.read import read_netlist
    from ckt.parasitic.annotate import estimate_ground_caps

    estimates = estimate_ground_caps(read_netlist(Path(netlist), include_path=include_path), checkpoint)
    if as_json:
        click.echo(json.dumps([asdict(e) for e in estimates], indent=1))
        return
    if not estimates:
        click.echo(f"{netlist}: no non-rail nets on devices to estimate")
        return
    click.echo(f"{'scope':<12} {'net':<16} {'estimate':>10}  {'bucket':<20} fan-out")
    for e in estimates:
        click.echo(f"{e.scope or '(top)':<12} {e.net:<16} {e.farads:>10.3g}  {e.bucket:<20} {e.fanout}")


def _data(root: str | None, source: str | None) -> Any:
    from ckt.data.digtime import Digtime

    return Digtime(root, source=source).graph


def _brief(m: dict[str, Any]) -> str:
    g, c = m["ground"], m["coupling"]
    return (f"ground R2 {g['r2_log10']:.3f}, MAE {g['mae_farads']:.3g} F, macro-F1 {g['macro_f1']:.3f}; "
            f"coupling R2 {c['r2_log10']:.3f}, MAE {c['mae_farads']:.3g} F")


@click.command("parasitic")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder for checkpoints and metrics.")
@click.option("--model", type=click.Choice(_MODELS), default="gnn", show_default=True,
              help="gnn: supervised only; gcl: contrastive pretraining first.")
@click.option("--loss", type=click.Choice(_LOSSES), default="mse", show_default=True,
              help="mse: MSE and cross-entropy; balanced: balanced MSE and balanced softmax.")
@click.option("--split", type=click.Choice(_SPLITS), default="region", show_default=True,
              help="region: leak-free by graph region; random: random links (transductive).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--epochs", type=int, default=60, show_default=True)
@click.option("--pretrain-epochs", type=int, default=15, show_default=True, help="gcl: pretraining epochs.")
@click.option("--steps", "steps_per_epoch", type=int, default=4, show_default=True, help="Optimizer steps per epoch.")
@click.option("--patience", type=int, default=12, show_default=True, help="Epochs without a better validation score.")
@click.option("--hidden", type=int, default=32, show_default=True)
@click.option("--layers", type=int, default=3, show_default=True)
@click.option("--lr", type=float, default=3e-3, show_default=True)
@click.option("--buckets", type=click.Choice(_BUCKETS), default="quantile", show_default=True,
              help="Ground-cap classes: the training labels' quintiles, or CircuitGCL's fixed 1.2-decade buckets.")
@click.option("--root", type=click.Path(file_okay=False), default=None, help="Dataset cache folder.")
@click.option("--source", default=None, help="The raw digtime.pt (default: the reference data).")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt.")
@click.option("--device", default=None, help="cpu or cuda (default: cuda when present).")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.option("--json", "as_json", is_flag=True, help="Print OUT/metrics.json at the end.")
def train_parasitic_cmd(out: str, model: str, loss: str, split: str, seed: int, epochs: int, pretrain_epochs: int,
                        steps_per_epoch: int, patience: int, hidden: int, layers: int, lr: float, buckets: str,
                        root: str | None, source: str | None, resume: bool, device: str | None, quiet: bool,
                        as_json: bool) -> None:
    """Train a parasitic estimator (net ground capacitance, its bucket, coupling capacitance) on digtime."""
    from ckt.parasitic.train import TrainRequest, fit

    result = fit(TrainRequest(out=out, model=model, loss=loss, split=split, seed=seed, epochs=epochs,
                              pretrain_epochs=pretrain_epochs, steps_per_epoch=steps_per_epoch, patience=patience,
                              hidden=hidden, layers=layers, lr=lr, buckets=buckets, resume=resume, device=device,
                              progress=not quiet), _data(root, source))
    if as_json:
        click.echo((Path(out) / "metrics.json").read_text())
    else:
        click.echo(f"model in {out} (best epoch {result.best_epoch}); test: {_brief(result.test)}")


@click.command("parasitic")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--side", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option("--root", type=click.Path(file_okay=False), default=None, help="Dataset cache folder.")
@click.option("--source", default=None, help="The raw digtime.pt (default: the reference data).")
@click.option("--json", "as_json", is_flag=True)
def eval_parasitic_cmd(folder: str, side: str, root: str | None, source: str | None, as_json: bool) -> None:
    """Evaluate FOLDER's best.pt on a side of the split it was trained with."""
    from ckt.parasitic.train import evaluate_checkpoint

    metrics = evaluate_checkpoint(folder, _data(root, source), side)
    if as_json:
        click.echo(json.dumps(metrics, indent=1))
        return
    click.echo(f"{folder} on the {metrics['split']['kind']} split's {side} side: {_brief(metrics)}")
    for b in metrics["ground"]["per_bucket"]:
        click.echo(f"  bucket {b['bucket']:<20} n {b['n']:>4}  F1 {b['f1']:.3f}  MAE {b['mae_farads']:.3g} F")
