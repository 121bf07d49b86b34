"""``ckt pdk``: list and inspect the bundled PDK model sets, write generic (nmos4/pmos4) cards."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ckt.pdk.bind import generic_card, pdk_deck_header
from ckt.pdk.registry import Pdk, get_pdk, list_pdks, models_root


def _as_dict(pdk: Pdk) -> dict:
    return {
        "name": pdk.name,
        "description": pdk.description,
        "node_nm": pdk.node_nm,
        "vdd": pdk.vdd,
        "nmos": pdk.nmos,
        "pmos": pdk.pmos,
        "device_style": pdk.device_style,
        "length_unit": pdk.length_unit,
        "spice_options": list(pdk.spice_options),
        "corners": {c: [[i.path, i.section] for i in incs] for c, incs in pdk.corners.items()},
        "default_corner": pdk.default_corner,
        "temperature": pdk.temperature,
        "files": [str(f) for f in pdk.files],
        "missing_files": [str(f) for f in pdk.missing_files()],
    }


@click.group()
def pdk() -> None:
    """List and inspect the bundled PDK model sets."""


@pdk.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_cmd(as_json: bool) -> None:
    """One line per registered PDK."""
    pdks = list_pdks()
    if as_json:
        click.echo(json.dumps([_as_dict(p) for p in pdks], indent=2))
        return
    root = models_root()
    rows = [("name", "node", "vdd", "nmos", "pmos", "style", "files")]
    for p in pdks:
        files = ", ".join(str(f.relative_to(root)) if f.is_relative_to(root) else str(f) for f in p.files[:1])
        more = f" (+{len(p.files) - 1})" if len(p.files) > 1 else ""
        missing = " MISSING" if p.missing_files() else ""
        rows.append((p.name, f"{p.node_nm:g}nm", f"{p.vdd:g}V", p.nmos, p.pmos, p.device_style, files + more + missing))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


@pdk.command("show")
@click.argument("name")
@click.option("--corner", default=None, help="Corner whose deck header to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_cmd(name: str, corner: str | None, as_json: bool) -> None:
    """Everything about one PDK, and the deck header that loads it."""
    p = get_pdk(name, check_files=False)
    info = _as_dict(p)
    info["deck_header"] = pdk_deck_header(p, corner)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        if isinstance(value, list) and value:
            click.echo(f"{key}:")
            for v in value:
                click.echo(f"  {v}")
        elif isinstance(value, dict) and value:
            click.echo(f"{key}:")
            for k, v in value.items():
                click.echo(f"  {k}: {v}")
        else:
            click.echo(f"{key}: {value}")


@pdk.command("generic")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout).")
def generic_cmd(name: str, output: Path | None) -> None:
    """Write a copy of a PTM card whose models are named nmos4/pmos4."""
    text = generic_card(get_pdk(name))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
