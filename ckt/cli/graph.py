"""``ckt graph``: a netlist file as a bipartite or pin-level graph, or as its two-level decomposition
into typed subgraphs, summarised, as JSON or as a ``.pt`` file of PyG tensors."""

from __future__ import annotations

import json
from collections import Counter

import click
import networkx as nx

from ckt.cli.netlist import FORMAT, include_options, load
from ckt.errors import CktError, NotDecomposableError
from ckt.graph.bipartite import to_bipartite_nx
from ckt.graph.codec import graph_to_json
from ckt.graph.features import EDGE_TYPES
from ckt.graph.pins import RELATIONS, to_pins_nx
from ckt.graph.two_level import TwoLevelGraph
from ckt.netlist.ir import Netlist
from ckt.netlist.units import format_number


def summary_line(g: nx.Graph) -> str:
    """``N devices, M nets, E edges, edge types: name=count, ...`` (types in vocabulary order)."""
    types = Counter(attrs["type"] for _, attrs in g.nodes(data=True))
    names = EDGE_TYPES if g.graph["view"] == "bipartite" else RELATIONS
    counts = Counter(names[e] for _, _, e in g.edges(data="etype"))
    parts = [f"{types['device']} devices"]
    if g.graph["view"] == "pins":
        parts.append(f"{types['pin']} pins")
    parts += [f"{types['net']} nets", f"{g.number_of_edges()} edges"]
    listed = ", ".join(f"{n}={counts[n]}" for n in names if counts[n]) or "none"
    return ", ".join(parts) + f", edge types: {listed}"


def decompose(netlist: Netlist) -> tuple[TwoLevelGraph, tuple[str, ...], str | None]:
    """The OCB decomposition when the netlist is an OCB behavioural op-amp, else the device-level
    building blocks; with the basis vocabulary and, on fallback, why OCB did not fit.

    Raises:
        CktError: neither basis is available for this netlist.
    """
    from ckt.graph.ocb_basis import OCB_BLOCK_TYPES, decompose_ocb

    try:
        return decompose_ocb(netlist), OCB_BLOCK_TYPES, None
    except NotDecomposableError as exc:
        why = str(exc)
    try:
        from ckt.graph.blocks import BLOCK_TYPES, decompose_blocks
    except ImportError as exc:
        raise CktError(f"{why}; and device-level building blocks are not available here "
                       f"(ckt.graph.blocks: {exc})") from exc
    return decompose_blocks(netlist), BLOCK_TYPES, why


def block_lines(g: TwoLevelGraph) -> list[str]:
    """One line per block (index, type, devices, values), then the outer edges and the coverage."""
    width = max((len(b.type) for b in g.blocks), default=0)
    lines = [f"basis {g.basis}: {len(g.blocks)} blocks, {len(g.edges)} edges, coverage {g.coverage():.0%}"]
    for i, b in enumerate(g.blocks):
        values = " ".join(f"{k}={format_number(v)}" for k, v in b.values)
        lines.append(f"[{i}] {b.type:<{width}}  {' '.join(b.devices) or '-'}" + (f"  {values}" if values else ""))
    lines.append("edges: " + (" ".join(f"{i}->{j}" for i, j in g.edges) or "none"))
    if g.uncovered:
        lines.append("uncovered: " + " ".join(g.uncovered))
    return lines


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--kind", "view", type=click.Choice(["bipartite", "pins", "subgraphs"]), default="bipartite",
    show_default=True,
    help="Device–net bipartite graph, device–pin–net graph, or typed subgraphs (OCB blocks for a "
         "behavioural OCB op-amp, else device-level building blocks).",
)
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON instead of a summary (node-link data; for subgraphs the blocks and edges).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Also save the PyG Data to this .pt file (load it with ckt.graph.load_graph).")
@click.option("--flatten", "flat", is_flag=True, help="Expand subcircuit instances first.")
@click.option("--format", "fmt", type=FORMAT, default=None, help="Input format (default: detected).")
@click.option("--strict", is_flag=True, help="An include that cannot be found is an error.")
@include_options
def graph(
    file: str, view: str, as_json: bool, out: str | None, flat: bool, fmt: str | None, strict: bool,
    include_path: tuple[str, ...],
) -> None:
    """Turn the top level of FILE (devices of included files too) into a graph and summarise it,
    print it as JSON or save it."""
    netlist = load(file, fmt, flat, include_path, strict)
    if view == "subgraphs":
        _subgraphs(netlist, as_json, out)
        return
    g = to_bipartite_nx(netlist) if view == "bipartite" else to_pins_nx(netlist)
    if out is not None:
        from ckt.graph import to_pyg

        data = to_pyg.to_bipartite_pyg(netlist) if view == "bipartite" else to_pyg.to_pins_pyg(netlist)
        to_pyg.save_graph(data, out)
    if as_json:
        click.echo(json.dumps(graph_to_json(g), allow_nan=False))
    else:
        click.echo(summary_line(g))


def _subgraphs(netlist: Netlist, as_json: bool, out: str | None) -> None:
    two_level, vocabulary, why = decompose(netlist)
    if why is not None:
        click.echo(f"note: {why}; showing device-level building blocks", err=True)
    if out is not None:
        from ckt.graph import to_pyg
        from ckt.graph.two_level import to_two_level_pyg

        to_pyg.save_graph(to_two_level_pyg(netlist, two_level, vocabulary), out)
    if as_json:
        click.echo(json.dumps(two_level.to_json(), allow_nan=False))
    else:
        click.echo("\n".join(block_lines(two_level)))
