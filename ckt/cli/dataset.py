"""``ckt dataset``: prepare a registered dataset into its cache, and summarise a prepared one
(counts, label statistics, split sizes, provenance) as text or JSON."""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ckt.data import registry
from ckt.errors import DatasetError


def _dataset_options(f: Any) -> Any:
    f = click.option("--root", type=click.Path(file_okay=False), default=None,
                     help="Cache folder (default $CKT_DATA/NAME, else ~/.cache/ckt/NAME).")(f)
    f = click.option("--source", default=None,
                     help="Local archive, URL, or (folder dataset) the folder of netlists.")(f)
    return click.argument("name")(f)


UNSET_DEFAULTS = {"seed": 0, "executor": "local"}
"""The defaults of ``prepare``'s dataset-specific options: left so, they ask nothing of a dataset."""


def _flag(option: str) -> str:
    """The command-line flag of a ``prepare_options`` keyword."""
    return "--target" if option == "targets" else f"--{option}"


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
    kwargs: dict[str, Any] = {"n": n, "force_reload": force}
    if view is not None:
        kwargs["view"] = view
    asked = {"source": source, "seed": seed, "workers": workers, "executor": executor, "address": address,
             "labels": labels, "label": label, "targets": targets}
    for option, value in asked.items():
        if option in cls.prepare_options:
            kwargs[option] = value
        elif value not in (None, (), UNSET_DEFAULTS.get(option)):
            raise DatasetError(f"{cls.name} takes no {_flag(option)} (its own: "
                               f"{', '.join(_flag(o) for o in cls.prepare_options) or 'none'})")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = cls(root, progress=_progress_line(cls.name), **kwargs)
    elapsed = time.perf_counter() - start
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    report = cls.report(ds.meta)
    report["processed"] = ds.processed_paths[0]
    report["seconds"] = round(elapsed, 2)
    _show(report, cls.prepared_lines, as_json)


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
    report = cls.report(meta)
    report["processed"] = str(metas[-1].with_name(metas[-1].name.removesuffix(".meta.json") + ".pt"))
    _show(report, cls.report_lines, as_json)


def _show(report: dict[str, Any], lines: Callable[[dict[str, Any]], list[str]], as_json: bool) -> None:
    """A dataset's report as JSON, or as the lines its class words it in."""
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        for line in lines(report):
            click.echo(line)
