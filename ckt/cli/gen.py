"""``ckt train generator``, ``ckt generate`` and ``ckt eval generator``: thin calls into ``ckt.gen``."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("generator")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder for checkpoints.")
@click.option("--archive", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The AnalogGenie archive (default: the reference-data copy).")
@click.option("--type", "types", multiple=True, help="Train on these circuit types only (repeatable; default all).")
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=2e-3, show_default=True)
@click.option("--patience", type=int, default=5, show_default=True, help="Epochs without a better validation loss.")
@click.option("--d-model", type=int, default=128, show_default=True)
@click.option("--layers", "n_layers", type=int, default=4, show_default=True)
@click.option("--heads", "n_heads", type=int, default=4, show_default=True)
@click.option("--rename", is_flag=True, help="Renaming augmentation: random device and net numbers per walk.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=int, default=None, help="CPU threads for torch (1 is fastest on a shared CPU).")
@click.option("--device", default=None, help="cpu or cuda (default: cuda when present).")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt.")
def train_generator_cmd(out: str, archive: str | None, types: tuple[str, ...], epochs: int, batch_size: int,
                        lr: float, patience: int, d_model: int, n_layers: int, n_heads: int, rename: bool, seed: int,
                        threads: int | None, device: str | None, resume: bool) -> None:
    """Train the topology generator on AnalogGenie (circuit-level split, early stop on validation)."""
    from ckt.gen.train import GeneratorTrainRequest, train_generator

    result = train_generator(GeneratorTrainRequest(
        out=out, archive=archive, types=types, epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
        d_model=d_model, n_layers=n_layers, n_heads=n_heads, d_ff=4 * d_model, rename=rename, seed=seed,
        threads=threads,
        device=device, resume=resume))
    click.echo(f"generator in {out}: best validation loss {result.best_val_loss:.4g} at epoch {result.best_epoch}")


@click.command("generate")
@click.option("--type", "ckt_type", default="Opamp", show_default=True,
              help="Circuit type to generate (case-insensitive: opamp, ldo, mirror...).")
@click.option("-n", "n", type=int, default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder for the .cir files.")
@click.option("--checkpoint", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A generator checkpoint (default: the shipped one).")
@click.option("--temperature", type=float, default=1.0, show_default=True)
@click.option("--top-k", type=int, default=None)
@click.option("--length", type=int, default=None,
              help="Every sample's length budget in tokens (default: drawn from the training circuits of the type).")
@click.option("--no-dc", is_flag=True, help="Skip the DC operating-point check.")
@click.option("--size", "do_size", is_flag=True, help="Size each valid op-amp with a short ckt size run.")
@click.option("--screen", is_flag=True, help="With --size: size only op-amps that amplify at their default sizes.")
@click.option("--pdk", default="ptm180", show_default=True)
@click.option("--budget", type=int, default=40, show_default=True, help="Simulations per sizing run.")
@click.option("--archive", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The AnalogGenie archive novelty is judged against (default: the reference-data copy).")
@click.option("--workers", type=int, default=2, show_default=True)
def generate_cmd(ckt_type: str, n: int, seed: int, out: str, checkpoint: str | None, temperature: float,
                 top_k: int | None, length: int | None, no_dc: bool, do_size: bool, screen: bool, pdk: str, budget: int,
                 archive: str | None, workers: int) -> None:
    """Generate circuits of one type; write OUT/*.cir and OUT/summary.json."""
    from ckt.gen.generate import GenerateRequest, generate

    if screen and not do_size:
        raise click.UsageError("--screen only chooses what --size sizes: give --size too")

    summary = generate(GenerateRequest(
        ckt_type=ckt_type, n=n, seed=seed, out=Path(out), checkpoint=Path(checkpoint) if checkpoint else None,
        temperature=temperature, top_k=top_k, length=length, dc=not no_dc, size=do_size, screen=screen, pdk=pdk,
        budget=budget, workers=workers, archive=archive))
    t = summary["totals"]
    sized = f", {t['feasible']} sized to spec" if do_size else ""
    if screen:
        sized += f" ({t['screened_out']} screened out: not exportable or no gain at the default sizes)"
    click.echo(f"{t['n']} {summary['ckt_type']} circuits in {out}: {t['valid']} valid, {t['unique']} unique, "
               f"{t['novel']} novel{sized}")


@click.command("generator")
@click.option("--checkpoint", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A generator checkpoint (default: the shipped one).")
@click.option("--type", "types", multiple=True, help="Types to evaluate (repeatable; default Opamp).")
@click.option("-n", "n", type=int, default=1000, show_default=True, help="Samples per type.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--length", type=int, default=None,
              help="Every sample's length budget in tokens (default: drawn from the training circuits of the type).")
@click.option("--no-dc", is_flag=True, help="Skip the DC operating-point check.")
@click.option("--yield-n", type=int, default=0, show_default=True,
              help="Size this many valid novel op-amps (and as many dataset op-amps) for the functional yield.")
@click.option("--budget", type=int, default=40, show_default=True, help="Simulations per sizing run.")
@click.option("--screen", is_flag=True,
              help="Size only op-amps that amplify at their default sizes (one simulation each), taking candidates "
                   "in order until --yield-n pass.")
@click.option("--classifier", type=click.Path(file_okay=False, exists=True), default=None,
              help="A type classifier (ckt train encoder --target ckt_type) for type agreement.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Folder for sizing runs and files.")
@click.option("--archive", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The AnalogGenie archive novelty is judged against (default: the reference-data copy).")
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def eval_generator_cmd(checkpoint: str | None, types: tuple[str, ...], n: int, seed: int, length: int | None,
                       no_dc: bool, yield_n: int, budget: int, screen: bool, classifier: str | None,
                       out: str | None, archive: str | None, workers: int, as_json: bool) -> None:
    """Validity, uniqueness, novelty, type agreement, memorisation and functional yield of samples."""
    from ckt.gen.evaluate import EvalRequest, evaluate_generator

    if screen and yield_n < 1:
        raise click.UsageError("--screen only chooses what the functional yield sizes: give --yield-n N too")

    report = evaluate_generator(EvalRequest(
        checkpoint=Path(checkpoint) if checkpoint else None, types=types or ("Opamp",), n=n, seed=seed,
        length=length, dc=not no_dc, yield_n=yield_n, budget=budget, screen=screen,
        classifier=Path(classifier) if classifier else None, out=Path(out) if out else None, workers=workers,
        archive=archive))
    if as_json:
        click.echo(json.dumps(report, indent=1))
        return
    for t, row in report["types"].items():
        click.echo(f"{t}: {row['n']} samples, valid {row['valid']:.1%}, unique {row['unique']:.1%}, "
                   f"novel {row['novel']:.1%}, valid and novel {row['valid_and_novel']:.1%}"
                   + (f", type agreement {row['type_agreement']:.1%}" if row.get("type_agreement") is not None
                      else "")
                   + f", 10-gram memorisation {row['memorisation']['copied']:.1%}")
    if report.get("functional_yield"):
        fy = report["functional_yield"]
        screened = (f"; sized those that amplify at the default sizes, {fy['generated']['screened']} and "
                    f"{fy['dataset']['screened']} screened" if fy.get("screen") else "")
        click.echo(f"functional yield: generated {fy['generated']['feasible']}/{fy['generated']['n']}, "
                   f"dataset {fy['dataset']['feasible']}/{fy['dataset']['n']} (budget {fy['budget']} simulations"
                   f"{screened})")
