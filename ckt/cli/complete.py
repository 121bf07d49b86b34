"""``ckt complete``: the dangling or suspicious pins of a netlist, each with its ranked candidate nets
(``ckt.linkpred.complete``), scored by the trained link predictor."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ckt.cli.netlist import FORMAT, include_options, load
from ckt.linkpred.complete import Completion, complete, suspicious_pins
from ckt.linkpred.predictor import DEFAULT_MODEL, load_predictor


def completion_lines(c: Completion) -> list[str]:
    """One block: where the pin is and why it is suspect, then its candidates ranked with scores."""
    s = c.suspect
    where = f" ({s.loc})" if s.loc is not None else ""
    scope = f" in subckt {s.subckt}" if s.subckt is not None else ""
    lines = [f"{s.device} pin {s.pin} on net {s.net}{scope}{where}: {s.reason}: {s.message}"]
    width = max((len(x.net) for x in c.candidates), default=0)
    lines += [f"  {i}. {x.net:<{width}}  {x.score:.3f}" for i, x in enumerate(c.candidates, 1)]
    if not c.candidates:
        lines.append("  (no candidate net)")
    return lines


@click.command()
@click.argument("netlist", type=click.Path(dir_okay=False))
@click.option("--top", type=click.IntRange(min=1), default=3, show_default=True,
              help="Candidate nets listed per suspect pin.")
@click.option("--json", "as_json", is_flag=True,
              help='Print a JSON list of {"device", "pin", "net", "reason", "subckt", "candidates": '
                   '[{"net", "score"}, ...]}, best first.')
@click.option("--checkpoint", type=click.Path(file_okay=False), default=None,
              help="A trained link-prediction model folder (default: the shipped one).")
@click.option("--format", "fmt", type=FORMAT, default=None, help="Input format (default: detected).")
@include_options
def complete_cmd(netlist: str, top: int, as_json: bool, checkpoint: str | None, fmt: str | None,
                 include_path: tuple[str, ...]) -> None:
    """For each dangling or suspicious pin of NETLIST (on a floating net, left unconnected, or on a
    device whose pins all sit on one net), rank the circuit's nets it may belong on."""
    circuit = load(netlist, fmt, False, include_path)
    if not suspicious_pins(circuit):  # nothing to score: the model is not even loaded
        click.echo("[]" if as_json else f"{netlist}: no dangling or suspicious pins")
        return
    completions = complete(circuit, load_predictor(Path(checkpoint) if checkpoint else DEFAULT_MODEL), top=top)
    if as_json:
        click.echo(json.dumps([c.to_json() for c in completions], indent=2, allow_nan=False))
        return
    click.echo("\n\n".join("\n".join(completion_lines(c)) for c in completions))
