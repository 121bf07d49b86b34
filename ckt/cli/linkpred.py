"""``ckt train linkpred`` and ``ckt eval linkpred``: thin calls into ``ckt.linkpred.train`` and
``ckt.linkpred.evaluate``."""

from __future__ import annotations

import json

import click

PROTOCOL_CHOICES = ("hard", "aclp")


@click.command("linkpred")
@click.option("--dataset", default="analoggenie", show_default=True, help="A registered dataset.")
@click.option("--model", "model", type=click.Choice(("seal", "anchored", "gnn")), default="seal", show_default=True,
              help="seal: enclosing subgraphs; anchored: one whole-circuit pass per pin; gnn: plain node embeddings.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder for checkpoints and model.json.")
@click.option("--protocol", type=click.Choice(PROTOCOL_CHOICES), default="hard", show_default=True,
              help="hard: by-circuit split, same-circuit negatives; aclp: GNN-ACLP's random edge split.")
@click.option("--root", type=click.Path(file_okay=False), default=None, help="Dataset cache folder.")
@click.option("--source", default=None, help="Dataset source (the folder dataset's folder of netlists).")
@click.option("--labels", type=click.Path(dir_okay=False), default=None, help="folder dataset: the labels CSV.")
@click.option("-n", "n", type=int, default=None, help="Use only N circuits of the dataset.")
@click.option("--hops", type=int, default=4, show_default=True, help="SEAL's enclosing-subgraph radius.")
@click.option("--readout", type=click.Choice(("sort", "center")), default="center", show_default=True,
              help="SEAL: DGCNN sort pooling, or the pin's and net's own states.")
@click.option("--conv", type=click.Choice(("gcn", "gin")), default="gcn", show_default=True,
              help="SEAL's message passing.")
@click.option("--hidden", type=int, default=None, help="Width (default: the model's: 32; anchored 64).")
@click.option("--layers", type=int, default=None, help="Depth (default: the model's: 3; anchored 6).")
@click.option("--name-dropout", type=float, default=None,
              help="anchored: share of training graphs shown without net-name features (default 0.5).")
@click.option("--pins-per-circuit", type=int, default=3, show_default=True, help="Training positives per circuit.")
@click.option("--eval-pins", type=int, default=4, show_default=True, help="Validation/test positives per circuit.")
@click.option("--negatives", default="auto", show_default=True,
              help="Hard negatives per training positive, 'all' (every other net of the circuit), or 'auto' "
                   "(1; all for anchored).")
@click.option("--loss", type=click.Choice(("pairwise", "listwise")), default="pairwise", show_default=True,
              help="pairwise: each pair's cross-entropy; listwise: plus the softmax over a query's candidates.")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=3e-3, show_default=True)
@click.option("--lr-patience", type=int, default=0, show_default=True,
              help="Halve the learning rate after N epochs without a better validation loss (0: constant).")
@click.option("--patience", type=int, default=3, show_default=True, help="Epochs without a better validation loss.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=int, default=None, help="CPU threads for torch (1 is fastest on a shared CPU).")
@click.option("--device", default=None, help="cpu or cuda (default: cuda when present).")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt.")
@click.option("--json", "as_json", is_flag=True, help="Print model.json at the end.")
def train_linkpred_cmd(dataset: str, model: str, out: str, protocol: str, root: str | None, source: str | None,
                       labels: str | None, n: int | None, hops: int, readout: str, conv: str, hidden: int | None,
                       layers: int | None, name_dropout: float | None, pins_per_circuit: int, eval_pins: int,
                       negatives: str, loss: str, epochs: int, batch_size: int, lr: float, lr_patience: int,
                       patience: int, seed: int, threads: int | None, device: str | None, resume: bool,
                       as_json: bool) -> None:
    """Train a link predictor (which net a pin belongs to); select and stop on validation."""
    from ckt.linkpred.train import LinkTrainRequest, train_linkpred

    record = train_linkpred(LinkTrainRequest(
        dataset=dataset, model=model, out=out, protocol=protocol, root=root, source=source, n=n, hops=hops,
        readout=readout, conv=conv, hidden=hidden, layers=layers, name_dropout=name_dropout,
        pins_per_circuit=pins_per_circuit, eval_pins=eval_pins, negatives=_negatives(negatives, model), loss=loss,
        epochs=epochs, batch_size=batch_size, lr=lr, lr_patience=lr_patience, patience=patience,
        seed=seed, threads=threads, device=device, resume=resume, dataset_options={"labels": labels} if labels else {}))
    if as_json:
        click.echo(json.dumps(record, indent=1))
    else:
        click.echo(f"link model in {out}; test: {summary(record['test'])}")


def _negatives(text: str, model: str) -> int | None:
    from ckt.linkpred.train import DEFAULT_NEGATIVES

    if text == "auto":
        return DEFAULT_NEGATIVES[model]
    if text == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither a count nor 'all'", param_hint="--negatives") from None


@click.command("linkpred")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--dataset", default=None, help="Dataset (default: the one it was trained on; another: transfer).")
@click.option("--protocol", type=click.Choice(PROTOCOL_CHOICES), default="hard", show_default=True)
@click.option("--root", type=click.Path(file_okay=False), default=None)
@click.option("--source", default=None)
@click.option("-n", "n", type=int, default=None, help="Use only N circuits of the dataset.")
@click.option("--eval-pins", type=int, default=None, help="Test positives per circuit (default: as trained).")
@click.option("--json", "as_json", is_flag=True)
def eval_linkpred_cmd(folder: str, dataset: str | None, protocol: str, root: str | None, source: str | None,
                      n: int | None, eval_pins: int | None, as_json: bool) -> None:
    """Accuracy and AUC (and, with hard negatives, completion top-1/top-3/MRR) on the test side."""
    from ckt.linkpred.evaluate import evaluate_linkpred

    metrics = evaluate_linkpred(folder, dataset, protocol, root, source, n, eval_pins)
    click.echo(json.dumps(metrics, indent=1) if as_json else f"{metrics['dataset']} ({protocol}): {summary(metrics)}")


def summary(m: dict) -> str:
    """One line of a metrics dict."""
    line = f"accuracy {_pct(m.get('accuracy'))}, AUC {_num(m.get('auc'))} (n={m['n']})"
    c = m.get("completion")
    if c:
        line += f"; completion top-1 {_pct(c['top1'])}, top-3 {_pct(c['top3'])}, MRR {_num(c['mrr'])} " \
                f"({c['queries']} pins)"
    return line


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"
