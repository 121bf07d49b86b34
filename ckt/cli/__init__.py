"""The one ``ckt`` command, on the top floor: it may import every layer, and no layer imports it.

Each subcommand is a module of this package holding thin click commands that parse options and call
one library function; they are imported lazily, so ``ckt parse`` never pays for torch, BoTorch or
PySpice.

Any ``CktError`` becomes ``message`` on stderr and exit 2 (``path:line: ...`` for netlist errors);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import signal
import sys
from types import FrameType

import click

from ckt.errors import CktError

COMMANDS: dict[str, tuple[str, str]] = {
    "parse": ("ckt.cli.netlist:parse", "Read a netlist and summarise it."),
    "check": ("ckt.cli.netlist:check", "Electrical rule checks on a netlist."),
    "convert": ("ckt.cli.netlist:convert", "Write a netlist as SPICE, Spectre or JSON."),
    "graph": ("ckt.cli.graph:graph", "Turn a netlist into a graph."),
    "pdk": ("ckt.cli.pdk:pdk", "List and inspect the bundled PDK model sets."),
    "simulate": ("ckt.cli.simulate:simulate", "Simulate a deck or an op-amp testbench with ngspice."),
    "size": ("ckt.cli.size:size", "Size a netlist against a spec file."),
    "dataset": ("ckt.cli.dataset:dataset", "Prepare and inspect circuit datasets."),
    "train": ("ckt.cli.learn:train", "Train a model (encoder, generator, linkpred, parasitic)."),
    "eval": ("ckt.cli.learn:eval_", "Evaluate a trained model on its test split."),
    "generate": ("ckt.cli.gen:generate_cmd", "Generate circuit topologies (op-amps...) with the trained generator."),
    "predict": ("ckt.cli.learn:predict", "Predict op-amp specs of netlists with a trained encoder."),
    "complete": ("ckt.cli.complete:complete_cmd", "Rank the nets each dangling or suspicious pin may belong on."),
    "parasitics": ("ckt.cli.parasitic:parasitics", "Estimate the ground capacitance layout adds to a netlist's nets."),
    "doctor": ("ckt.cli.doctor:doctor", "Check that ngspice, PySpice, torch, the PDKs and the cache are usable."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when invoked (or when help lists them)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, _, attr = COMMANDS[name][0].partition(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks instead of one-line errors.")
@click.version_option(package_name="ckt")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """ckt — analog circuit design automation."""
    ctx.obj = {"debug": debug}


def _terminated(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like an exit, so executors shut their workers down on the way out."""
    raise SystemExit(128 + signum)


def run(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning ckt errors into clear one-line diagnostics."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        previous = signal.signal(signal.SIGTERM, _terminated)
    except ValueError:  # not the main thread: leave signals to the caller
        previous = None
    try:
        return _run(args, debug)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: list[str], debug: bool) -> int:
    try:
        code = main.main(args=args, prog_name="ckt", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except CktError as exc:
        if debug:
            raise
        click.echo(str(exc), err=True)
        return 2
    except (OSError, UnicodeError) as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        return 2
    return code if isinstance(code, int) else 0


def entry() -> None:
    sys.exit(run())
