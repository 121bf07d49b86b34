"""``ckt dataset``: prepare a registered dataset into its cache, and summarise a prepared one
(counts, label statistics, split sizes, provenance) as text or JSON."""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ckt.data import registry
from ckt.errors import DatasetError

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def _dataset_options(f: Any) -> Any:
    f = click.option("--root", type=click.Path(file_okay=False), default=None,
                     help="Cache folder (default $CKT_DATA/NAME, else ~/.cache/ckt/NAME).")(f)
    f = click.option("--source", default=None,
                     help="Local archive, URL, or (folder dataset) the folder of netlists.")(f)
    return click.argument("name")(f)


@click.group()
def dataset() -> None:
    """Prepare and inspect circuit datasets (AnalogGenie, Image2Net, OCB regenerated, a folder of your own)."""


@dataset.command()
@_dataset_options
@click.option("-n", "n", type=int, default=None, help="Prepare only N circuits, spread over the dataset.")
@click.option("--force", is_flag=True, help="Rebuild the processed file even if it exists.")
@click.option("--view", type=click.Choice(["bipartite", "pins", "subgraphs"]), default=None,
              help="Graph view of each circuit (default: bipartite; ocb: subgraphs, its OCB blocks).")
@click.option("--seed", type=int, default=0, show_default=True, help="ocb: the generator's seed.")
@click.option("--workers", type=int, default=None, help="ocb: simulation workers (default all CPUs).")
@click.option("--executor", "executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="ocb: where the labelling simulations run.")
@click.option("--address", default=None, help="ocb with --executor ray: the cluster address (auto: running one).")
@click.option("--labels", type=click.Path(dir_okay=False), default=None,
              help="Folder dataset: the labels CSV (default SOURCE/labels.csv).")
@click.option("--label", "label", default=None, help="Folder dataset: the class column.")
@click.option("--target", "targets", multiple=True, help="Folder dataset: a regression column (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def prepare(name: str, root: str | None, source: str | None, n: int | None, force: bool, view: str | None,
            seed: int, workers: int | None, executor: str, address: str | None,
            labels: str | None, label: str | None, targets: tuple[str, ...], as_json: bool) -> None:
    """Read dataset NAME from its source (the reference data when present, else upstream) and
    cache its graphs."""
    cls = registry.get(name)
    if cls.name == "digtime":  # one labelled graph, not a collection of circuits
        _prepare_graph(cls, root, source, force, as_json, n=n, view=view or "pins")
        return
    kwargs: dict[str, Any] = {"n": n, "force_reload": force}
    if view is not None:
        kwargs["view"] = view
    if cls.name == "ocb":
        if source is not None:
            raise DatasetError("ocb is generated and simulated here; it takes no --source")
        kwargs.update(seed=seed, workers=workers, executor=executor, address=address)
    else:
        kwargs["source"] = source
    if cls.name == "folder":
        kwargs.update(labels=labels, label=label, targets=targets)
    elif labels or label or targets:
        raise DatasetError("--labels, --label and --target are for the folder dataset only")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = cls(root, progress=_progress_line(cls.name), **kwargs)
    elapsed = time.perf_counter() - start
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    report = summary(ds.meta)
    report["processed"] = ds.processed_paths[0]
    report["seconds"] = round(elapsed, 2)
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        click.echo(f"{ds.name}: {report['circuits']} circuits, {report['failed']} failed, "
                   f"{report['groups']} groups, {elapsed:.1f} s -> {report['processed']}")


def _progress_line(name: str) -> Callable[[int, int], None] | None:
    """``name: done/total circuits`` rewritten in place on a terminal's stderr; nothing in logs."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if done % 50 == 0 or done == total:
            click.echo(f"\r{name}: {done}/{total} circuits", err=True, nl=done == total)

    return show


@dataset.command()
@_dataset_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def info(name: str, root: str | None, source: str | None, as_json: bool) -> None:
    """Summarise the last prepared version of dataset NAME: counts, labels, splits, provenance."""
    cls = registry.get(name)
    folder = Path(root) if root is not None else cls.cache_root(source)
    metas = sorted((folder / "processed").glob("*.meta.json"), key=lambda p: p.stat().st_mtime)
    if not metas:
        raise DatasetError(f"{name} is not prepared in {folder}; run: ckt dataset prepare {name}")
    meta = json.loads(metas[-1].read_text())
    if "counts" in meta:  # a single-graph dataset (digtime)
        _show_graph({**meta, "processed": str(metas[-1]).removesuffix(".meta.json") + ".pt"}, as_json)
        return
    report = summary(meta)
    report["processed"] = str(metas[-1].with_name(metas[-1].name.removesuffix(".meta.json") + ".pt"))
    if as_json:
        click.echo(json.dumps(report, indent=1))
        return
    prov = report["provenance"]
    click.echo(f"{prov['dataset']}: {report['circuits']} circuits ({report['view']} view"
               f"{', sample of ' + str(report['n']) if report['n'] else ''}), {report['failed']} failed, "
               f"{report['renamed_circuits']} with renamed duplicate devices")
    click.echo(f"  source {prov['source']} (sha256 {prov['sha256'][:16]}..., {prov['size']} bytes)"
               + (f", upstream {prov['upstream']} @ {prov['commit']}" if prov["commit"] else ""))
    if report["classes"]:
        click.echo(f"  {len(report['classes'])} classes:")
        for c, k in report["classes"].items():
            click.echo(f"    {c:<20} {k}")
    for t, stats in report["targets"].items():
        click.echo(f"  target {t}: mean {stats['mean']:.4g}, std {stats['std']:.4g}, "
                   f"min {stats['min']:.4g}, max {stats['max']:.4g}")
    click.echo(f"  {report['groups']} groups (largest {report['largest_group']})")
    for kind, sizes in report["splits"].items():
        click.echo(f"  {kind} split {'/'.join(str(round(f * 100)) for f in SPLIT_FRACTIONS)}, seed 0: "
                   + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    for note in report["notes"]:
        click.echo(f"  {note}")
    for f in report["failures"][:5]:
        click.echo(f"  failed {f['circuit']}: {f['reason']}")


def _prepare_graph(cls: Any, root: str | None, source: str | None, force: bool, as_json: bool,
                   **kwargs: Any) -> None:
    start = time.perf_counter()
    ds = cls(root, source=source, force_reload=force, **kwargs)
    _show_graph({**ds.meta, "processed": ds.processed_paths[0],
                 "seconds": round(time.perf_counter() - start, 2)}, as_json)


def _show_graph(report: dict[str, Any], as_json: bool) -> None:
    """A single-graph dataset's counts and provenance, as text or JSON."""
    if as_json:
        click.echo(json.dumps(report, indent=1))
        return
    c, prov = report["counts"], report["provenance"]
    click.echo(f"{prov['dataset']}: one graph, {c['devices']} devices, {c['pins']} pins, {c['nets']} nets, "
               f"{c['edges']} edges -> {report['processed']}")
    click.echo(f"  labels: {c['labelled_nets']} net and {c['labelled_pins']} pin ground capacitances "
               f"({c['net_cap_range'][0]:.3g}..{c['net_cap_range'][1]:.3g} F on nets); coupling links "
               + ", ".join(f"{k} {v}" for k, v in c["links"].items()))
    click.echo(f"  source {prov['source']} (sha256 {prov['sha256'][:16]}..., {prov['size']} bytes)"
               + (f", upstream {prov['upstream']} @ {prov['commit']}" if prov["commit"] else ""))


def summary(meta: dict[str, Any]) -> dict[str, Any]:
    """What ``info`` reports, from a prepared dataset's meta record."""
    from ckt.data.splits import group_split, random_split

    groups = meta["groups"]
    counts = Counter(meta["ckt_types"])
    targets: dict[str, dict[str, float]] = {}
    for j, t in enumerate(meta["target_names"]):
        values = [row[j] for row in meta["targets"]]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        targets[t] = {"mean": mean, "std": std, "min": min(values), "max": max(values)}
    splits: dict[str, dict[str, int]] = {}
    notes: list[str] = []
    try:
        types = sorted(counts)
        strata = [types.index(t) for t in meta["ckt_types"]] if any(types) else None  # as CircuitDataset.split
        splits["group"] = {k: len(v) for k, v in group_split(groups, SPLIT_FRACTIONS, 0, strata=strata).items()}
    except DatasetError as exc:  # too few groups for three sides
        notes.append(f"no group split: {exc}")
    splits["random"] = {k: len(v) for k, v in random_split(len(groups), SPLIT_FRACTIONS, 0).items()}
    return {
        "provenance": meta["provenance"], "view": meta["view"], "n": meta["n"],
        "circuits": len(meta["circuits"]), "failed": len(meta["failures"]),
        "renamed_circuits": meta["renamed_circuits"], "renamed_devices": meta["renamed_devices"],
        "classes": {c: counts[c] for c in meta["classes"]}, "targets": targets,
        "groups": len(set(groups)), "largest_group": max(Counter(groups).values()) if groups else 0,
        "splits": splits, "failures": meta["failures"], "notes": notes,
    }
