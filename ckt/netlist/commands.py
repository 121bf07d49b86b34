"""``ckt parse``, ``ckt check`` and ``ckt convert``: the netlist layer from the command line."""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path

import click

from ckt.netlist.inline import inline_includes
from ckt.netlist.ir import Diagnostic, Expr, Netlist, Value


def load(path: str, fmt: str | None, flat: bool, include_path: tuple[str, ...] = (), strict: bool = False) -> Netlist:
    """The netlist file as the netlist commands read it (``ckt graph`` too): format detected unless
    given, includes searched on ``include_path``, flattened on request."""
    from ckt.netlist.read import read_netlist

    netlist = read_netlist(Path(path), format=fmt, include_path=include_path, strict=strict)
    if flat:
        from ckt.netlist.flatten import flatten

        netlist = flatten(netlist)
    return netlist


def _json_value(value: Value) -> float | str | None:
    if isinstance(value, Expr):
        return value.text
    return value if math.isfinite(value) else str(value)


def summary(netlist: Netlist) -> dict:
    """The machine-readable summary ``ckt parse --json`` prints: what ngspice would read, so the
    content of included files counts (``inline_includes``); ``includes`` lists the include lines."""
    written = netlist.includes
    netlist = inline_includes(netlist)
    return {
        "title": netlist.title,
        "devices": len(netlist.devices),
        "nets": len(netlist.nets),
        "kinds": dict(sorted(Counter(d.kind.name.lower() for d in netlist.devices).items())),
        "subckts": [s.name for s in netlist.subckts],
        "models": [m.name for m in netlist.models],
        "params": {p.name: _json_value(p.value) for p in netlist.params},
        "includes": [inc.path + (f" {inc.section}" if inc.section else "") for inc in written],
        "statements": len(netlist.statements),
        "warnings": [str(d) for d in netlist.diagnostics if d.severity != "info"],
    }


def _rebase_includes(netlist: Netlist, source_dir: Path, target_dir: Path) -> Netlist:
    """Rewrite relative include paths so they still point at the same files from ``target_dir``."""
    if source_dir.resolve() == target_dir.resolve():
        return netlist
    includes = tuple(
        inc if Path(inc.path).is_absolute()
        else replace(inc, path=os.path.relpath((source_dir / inc.path).resolve(), target_dir.resolve()))
        for inc in netlist.includes
    )
    return replace(netlist, includes=includes)


FORMAT = click.Choice(["spice", "spectre", "components", "json"])


include_options = click.option(
    "--include-path", "include_path", multiple=True, type=click.Path(file_okay=False), metavar="DIR",
    help="Folder to search for .include/.lib files after the including file's own (repeatable; "
         "then $CKT_INCLUDE_PATH).",
)
"""``--include-path DIR``, shared by every command that reads netlists."""


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a summary.")
@click.option("--flatten", "flat", is_flag=True, help="Expand subcircuit instances first.")
@click.option("--format", "fmt", type=FORMAT, default=None, help="Input format (default: detected).")
@click.option("--strict", is_flag=True, help="An include that cannot be found is an error.")
@include_options
def parse(file: str, as_json: bool, flat: bool, fmt: str | None, strict: bool, include_path: tuple[str, ...]) -> None:
    """Read FILE and summarise it: devices, nets, subcircuits, parameters, warnings."""
    info = summary(load(file, fmt, flat, include_path, strict))
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{file}: {info['title'] or '(no title)'}")
    kinds = ", ".join(f"{n} {k}" for k, n in info["kinds"].items()) or "none"
    click.echo(f"  {info['devices']} devices ({kinds}), {info['nets']} nets")
    for key in ("subckts", "models", "includes"):
        if info[key]:
            click.echo(f"  {key}: {', '.join(info[key])}")
    if info["params"]:
        click.echo("  params: " + ", ".join(f"{k}={v}" for k, v in info["params"].items()))
    for warning in info["warnings"]:
        click.echo(warning, err=True)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON list.")
@click.option("--strict", is_flag=True, help="Fail on warnings too (a missing include among them).")
@click.option("--format", "fmt", type=FORMAT, default=None, help="Input format (default: detected).")
@include_options
def check(file: str, as_json: bool, strict: bool, fmt: str | None, include_path: tuple[str, ...]) -> None:
    """Electrical rule checks: floating nets, shorted devices, missing ground/supply, duplicate names,
    undefined models and subcircuits. Exit 1 when an error (or, with --strict, a warning) is found."""
    from ckt.netlist.check import check as run_checks

    netlist = load(file, fmt, False, include_path)
    findings: list[Diagnostic] = [d for d in netlist.diagnostics if d.severity != "info"]
    findings += [d for d in run_checks(netlist) if d not in findings]
    if as_json:
        click.echo(json.dumps([{"severity": d.severity, "code": d.code, "file": d.file, "line": d.line,
                                "message": d.message} for d in findings], indent=2))
    else:
        for d in findings:
            click.echo(str(d))
        errors = sum(d.severity == "error" for d in findings)
        click.echo(f"{file}: {errors} error(s), {len(findings) - errors} warning(s)", err=True)
    failing = {"error", "warning"} if strict else {"error"}
    if any(d.severity in failing for d in findings):
        raise click.exceptions.Exit(1)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--to", "target", type=click.Choice(["spice", "spectre", "json"]), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write here (default stdout).")
@click.option("--flatten", "flat", is_flag=True, help="Expand subcircuit instances first.")
@click.option("--format", "fmt", type=FORMAT, default=None, help="Input format (default: detected).")
@click.option("--strict", is_flag=True, help="An include that cannot be found is an error.")
@include_options
def convert(
    file: str, target: str, output: str | None, flat: bool, fmt: str | None, strict: bool, include_path: tuple[str, ...]
) -> None:
    """Write FILE as SPICE, Spectre or ckt JSON (lossless; include lines are kept as written)."""
    netlist = load(file, fmt, flat, include_path, strict)
    if target == "spice":
        from ckt.netlist.write import write_spice as write
    elif target == "spectre":
        from ckt.netlist.write_spectre import write_spectre as write
    else:
        from ckt.netlist.serialize import dumps as write
    if output:
        netlist = _rebase_includes(netlist, Path(file).parent, Path(output).parent)
    text = write(netlist)
    if output:
        Path(output).write_text(text if text.endswith("\n") else text + "\n")
    else:
        click.echo(text, nl=not text.endswith("\n"))
