"""``ckt train encoder``, ``ckt eval encoder`` and ``ckt predict``: thin calls into ``ckt.learn`` (the
generator's ``train``/``eval`` subcommands come from ``ckt.cli.gen``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ckt.learn import SPLITS, TrainRequest, evaluate_encoder, predict_netlists, train_encoder

ENCODER_NAMES = ("two_level", "gin", "gcn", "gat", "dagnn", "gps")


@click.group()
def train() -> None:
    """Train a model."""


@train.command("encoder")
@click.option("--dataset", required=True, help="A registered dataset (ckt dataset prepare NAME).")
@click.option("--model", "encoder", type=click.Choice(ENCODER_NAMES), default="two_level", show_default=True)
@click.option("--target", "targets", multiple=True,
              help="A target (repeatable; default all of the dataset's); ckt_type for classification.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder for checkpoints and model.json.")
@click.option("--root", type=click.Path(file_okay=False), default=None, help="Dataset cache folder.")
@click.option("-n", "n", type=int, default=None, help="Use only N circuits of the dataset.")
@click.option("--split", type=click.Choice(SPLITS), default="group", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--epochs", type=int, default=100, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--patience", type=int, default=20, show_default=True, help="Epochs without a better validation loss.")
@click.option("--lr-patience", type=click.IntRange(min=0), default=0, show_default=True,
              help="Halve the learning rate after this many epochs without a better validation loss (0: never).")
@click.option("--hidden", type=int, default=64, show_default=True)
@click.option("--log-target", "log_targets", multiple=True, help="A target regressed on its log10 (e.g. ugbw).")
@click.option("--circular-target", "circular_targets", multiple=True,
              help="An angle in degrees regressed as (cos, sin), so +-180 meet (e.g. pm_deg).")
@click.option("--positive-target", "positive_targets", multiple=True,
              help="A quantity that cannot be negative, regressed in raw units above a smooth floor at 0 (e.g. ugbw).")
@click.option("--balanced", is_flag=True, help="Classification: weight the loss by inverse class frequency.")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt.")
@click.option("--device", default=None, help="cpu or cuda (default: cuda when present).")
@click.option("--source", default=None, help="folder dataset: the folder of netlists.")
@click.option("--labels", type=click.Path(dir_okay=False), default=None,
              help="folder dataset: the labels CSV (default SOURCE/labels.csv).")
@click.option("--label", default=None, help="folder dataset: the class column (then --target ckt_type).")
@click.option("--json", "as_json", is_flag=True, help="Print model.json at the end.")
def train_encoder_cmd(dataset: str, encoder: str, targets: tuple[str, ...], out: str, root: str | None,
                      n: int | None, split: str, seed: int, epochs: int, batch_size: int, lr: float,
                      patience: int, lr_patience: int, hidden: int, log_targets: tuple[str, ...],
                      circular_targets: tuple[str, ...], positive_targets: tuple[str, ...],
                      balanced: bool, resume: bool,
                      device: str | None, source: str | None, labels: str | None, label: str | None,
                      as_json: bool) -> None:
    """Train an encoder with a regression or classification head; select and stop on validation."""
    options: dict[str, object] = {}
    if source is not None or labels is not None or label is not None:
        options = {"source": source, "labels": labels, "label": label,
                   "targets": [t for t in targets if t != "ckt_type"]}
    record = train_encoder(TrainRequest(
        dataset=dataset, encoder=encoder, targets=targets, out=Path(out), root=Path(root) if root else None, n=n,
        split=split, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
        lr_patience=lr_patience, hidden=hidden, log_targets=log_targets, circular_targets=circular_targets,
        positive_targets=positive_targets, balanced=balanced, resume=resume, device=device,
        dataset_options=options))
    if as_json:
        click.echo(json.dumps(record, indent=1))
    else:
        click.echo(f"model in {out}; test: {_summary(record['test'])}")


@click.group("eval")
def eval_() -> None:
    """Evaluate a trained model."""


@eval_.command("encoder")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--dataset", default=None, help="Dataset (default: the one it was trained on; another: transfer).")
@click.option("--root", type=click.Path(file_okay=False), default=None)
@click.option("--split", type=click.Choice(SPLITS), default=None, help="Default: the split it was trained with.")
@click.option("--json", "as_json", is_flag=True)
def eval_encoder_cmd(folder: str, dataset: str | None, root: str | None, split: str | None, as_json: bool) -> None:
    """Metrics on the test side of the split (RMSE and Pearson r in raw units, or accuracy and macro-F1)."""
    metrics = evaluate_encoder(folder, dataset, root, split)
    click.echo(json.dumps(metrics, indent=1) if as_json else f"{metrics['dataset']} ({metrics['split']}): "
               f"{_summary(metrics)}")


@click.command()
@click.argument("netlists", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--model", "folder", type=click.Path(file_okay=False), default=None,
              help="A trained model folder (default: the shipped OCB spec predictor).")
@click.option("--include-path", multiple=True, help="Folder to search for .include files (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def predict(ctx: click.Context, netlists: tuple[str, ...], folder: str | None, include_path: tuple[str, ...],
            as_json: bool) -> None:
    """Predict specs (gain_db, ugbw in Hz, pm_deg, fom) of each netlist without simulating it.

    Exits 1 when some netlist could not be predicted (it is named with the reason)."""
    rows = predict_netlists(netlists, folder, include_path)
    if as_json:
        click.echo(json.dumps(rows, indent=1))
    else:
        for row in rows:
            if "error" in row:
                click.echo(f"{row['netlist']}: {row['error']}", err=True)
            else:
                values = "  ".join(f"{k} {_fmt(v)}" for k, v in row.items() if k != "netlist")
                click.echo(f"{row['netlist']}: {values}")
    if any("error" in row for row in rows):
        ctx.exit(1)


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _summary(metrics: dict | None) -> str:
    if not metrics:
        return "no test split"
    if metrics["task"] == "classification":
        return f"accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f} (n={metrics['n']})"
    return ", ".join(f"{t} RMSE {_fmt(m['rmse'])} r {_fmt(m['pearson'])}" for t, m in metrics["targets"].items())


def _add_model_commands() -> None:
    """``train``/``eval`` of the generator (``ckt.cli.gen``), the link predictor (``ckt.cli.linkpred``)
    and the parasitic estimator (``ckt.cli.parasitic``) sit beside their encoder twins."""
    from ckt.cli.gen import eval_generator_cmd, train_generator_cmd
    from ckt.cli.linkpred import eval_linkpred_cmd, train_linkpred_cmd
    from ckt.cli.parasitic import eval_parasitic_cmd, train_parasitic_cmd

    for trainer, evaluator in ((train_generator_cmd, eval_generator_cmd), (train_linkpred_cmd, eval_linkpred_cmd),
                               (train_parasitic_cmd, eval_parasitic_cmd)):
        train.add_command(trainer)
        eval_.add_command(evaluator)


_add_model_commands()
