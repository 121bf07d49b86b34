"""``ckt graph``: a netlist file as a bipartite or pin-level graph, summarised, as JSON or as a
``.pt`` file of PyG tensors."""

from __future__ import annotations

import json
from collections import Counter

import click
import networkx as nx

from ckt.graph.bipartite import to_bipartite_nx
from ckt.graph.codec import graph_to_json
from ckt.graph.features import EDGE_TYPES
from ckt.graph.pins import RELATIONS, to_pins_nx
from ckt.netlist.commands import FORMAT, include_options, load


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


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--kind", "view", type=click.Choice(["bipartite", "pins"]), default="bipartite", show_default=True,
    help="Device–net bipartite graph, or device–pin–net graph.",
)
@click.option("--json", "as_json", is_flag=True, help="Print networkx node-link JSON instead of a summary.")
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
    g = to_bipartite_nx(netlist) if view == "bipartite" else to_pins_nx(netlist)
    if out is not None:
        from ckt.graph import to_pyg

        data = to_pyg.to_bipartite_pyg(netlist) if view == "bipartite" else to_pyg.to_pins_pyg(netlist)
        to_pyg.save_graph(data, out)
    if as_json:
        click.echo(json.dumps(graph_to_json(g), allow_nan=False))
    else:
        click.echo(summary_line(g))
