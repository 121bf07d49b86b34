"""``ckt doctor``: the table of what ckt found on this machine (``ckt.doctor``)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from ckt.doctor import format_table, healthy, run_checks


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check ngspice, the Python packages, the bundled PDKs and the cache; exit 1 if something needed is missing."""
    checks = run_checks()
    if as_json:
        click.echo(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        click.echo(format_table(checks))
    if not healthy(checks):
        if not as_json:
            click.echo("\nckt cannot run until the MISSING rows are fixed.", err=True)
        ctx.exit(1)
