"""How much of real device-level circuits the building-block library explains.

Every AnalogGenie circuit (``Dataset/{ID}/{ID}.cir``, typed by the AnalogToBi ID ranges of
``../shared/data/README.md``) and every Image2Net netlist (typed by its ``ckt_type``) is read
straight from its tarball and decomposed by ``ckt.graph.blocks.decompose_blocks``. Per circuit type
the script reports the fraction of devices that sit in a real block (pooled over the type's
devices, and the mean of the per-circuit fractions), the same fraction over transistors only
(load capacitors, sources and digital cells are no building blocks, so they bound the first
number), and how often each block type occurs. A circuit that cannot be read is counted, with its
reason, and left out.

Writes ``block_coverage.json`` and ``block_coverage.png`` (coverage per type, both datasets) and
``block_example.png`` (one recognised op-amp, devices coloured by block) under ``--out``.

Usage::

    python experiments/block_coverage.py [--data ../shared/data] [--out experiments/results] \
        [--example analoggenie:1800]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tarfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "block_coverage"
sys.path.insert(0, str(ROOT))

from ckt.data.analoggenie import circuit_type as analoggenie_type  # noqa: E402
from ckt.errors import CktError  # noqa: E402
from ckt.graph.blocks import PATTERNS, decompose_blocks, is_supply_net  # noqa: E402
from ckt.graph.two_level import TwoLevelGraph  # noqa: E402
from ckt.netlist import DeviceKind, Netlist, parse_components, parse_spectre  # noqa: E402

TRANSISTORS = (DeviceKind.MOSFET, DeviceKind.BJT, DeviceKind.JFET)




def analoggenie(tarball: Path) -> Iterator[tuple[str, str, Netlist | str]]:
    """``(circuit id, type, netlist or the reason it could not be read)`` per AnalogGenie circuit."""
    with tarfile.open(tarball) as tar:
        for member in tar:
            parts = member.name.split("/")
            if len(parts) != 3 or parts[2] != f"{parts[1]}.cir" or not parts[1].isdigit():
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            text = handle.read().decode("utf-8", errors="replace")
            try:
                netlist: Netlist | str = parse_spectre(text, path=member.name, follow_includes=False)
            except CktError as exc:
                netlist = str(exc).splitlines()[0]
            yield parts[1], analoggenie_type(int(parts[1])), netlist


def image2net(tarball: Path) -> Iterator[tuple[str, str, Netlist | str]]:
    """``(circuit id, ckt_type, netlist or the reason it could not be read)`` per Image2Net netlist."""
    with tarfile.open(tarball) as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".txt")):
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            ident = Path(member.name).stem
            try:
                netlist = parse_components(handle.read(), path=member.name)
            except CktError as exc:
                yield ident, "unreadable", str(exc).splitlines()[0]
                continue
            yield ident, netlist.title or "untyped", netlist


def coverage_row(netlist: Netlist, graph: TwoLevelGraph) -> dict:
    """Device and transistor counts, covered and total, of one decomposition."""
    uncovered = set(graph.uncovered)
    transistors = [d.name for d in netlist.devices if d.kind in TRANSISTORS]
    return {
        "devices": len(netlist.devices),
        "covered": len(netlist.devices) - len(uncovered),
        "transistors": len(transistors),
        "transistors_covered": sum(1 for name in transistors if name not in uncovered),
        "blocks": Counter(b.type for b in graph.blocks if not b.type.startswith("device:")),
    }


def summarise(rows: list[dict]) -> dict:
    """Pooled and mean-per-circuit coverage and block counts over ``rows``."""
    dev = sum(r["devices"] for r in rows)
    cov = sum(r["covered"] for r in rows)
    tr = sum(r["transistors"] for r in rows)
    trc = sum(r["transistors_covered"] for r in rows)
    per = [r["covered"] / r["devices"] for r in rows if r["devices"]]
    blocks: Counter[str] = Counter()
    for r in rows:
        blocks.update(r["blocks"])
    return {
        "circuits": len(rows),
        "devices": dev,
        "device_coverage": cov / dev if dev else None,
        "mean_circuit_coverage": sum(per) / len(per) if per else None,
        "transistors": tr,
        "transistor_coverage": trc / tr if tr else None,
        "fully_covered_circuits": sum(1 for r in rows if r["covered"] == r["devices"]),
        "blocks": {t: blocks[t] for t in PATTERNS if blocks[t]},
    }


def run_dataset(
    items: Iterator[tuple[str, str, Netlist | str]],
) -> tuple[dict, dict[str, tuple[Netlist, TwoLevelGraph]]]:
    """Decompose every circuit; the per-type summary and, per id, what was decomposed."""
    by_type: dict[str, list[dict]] = defaultdict(list)
    failures: list[dict] = []
    kept: dict[str, tuple[Netlist, TwoLevelGraph]] = {}
    seconds = 0.0
    for ident, ctype, netlist in items:
        if isinstance(netlist, str):
            failures.append({"circuit": ident, "reason": netlist})
            continue
        start = time.perf_counter()
        graph = decompose_blocks(netlist)
        seconds += time.perf_counter() - start
        by_type[ctype].append(coverage_row(netlist, graph))
        kept[ident] = (netlist, graph)
    rows = [r for group in by_type.values() for r in group]
    return {
        "all": summarise(rows),
        "types": {t: summarise(by_type[t]) for t in sorted(by_type, key=lambda t: -len(by_type[t]))},
        "unreadable": failures,
        "decompose_seconds": seconds,
        "devices_per_second": sum(r["devices"] for r in rows) / seconds if seconds else None,
    }, kept


def bar_figure(results: dict, path: Path) -> None:
    """Device and transistor coverage per circuit type, one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["datasets"])
    widths = [len(results["datasets"][n]["types"]) + 1 for n in names]
    fig, axes = plt.subplots(1, len(names), figsize=(14, 4.8), gridspec_kw={"width_ratios": widths})
    for ax, name in zip(axes, names):
        res = results["datasets"][name]
        labels = [*res["types"], "all"]
        stats = [*res["types"].values(), res["all"]]
        xs = range(len(labels))
        dev = [s["device_coverage"] or 0 for s in stats]
        tr = [s["transistor_coverage"] or 0 for s in stats]
        ax.bar([x - 0.2 for x in xs], dev, 0.4, label="all devices", color="#3b75af")
        ax.bar([x + 0.2 for x in xs], tr, 0.4, label="transistors", color="#ef8636")
        ax.set_xticks(list(xs), [f"{lab}\n({s['circuits']})" for lab, s in zip(labels, stats)],
                      rotation=60, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(f"{name}: {res['all']['circuits']} circuits")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("fraction covered by building blocks")
    axes[0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def example_figure(netlist: Netlist, graph: TwoLevelGraph, title: str, path: Path) -> None:
    """The device–net graph of one circuit (supplies left out), each device coloured by its block."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    g = nx.Graph()
    for dev in netlist.devices:
        g.add_node(dev.name, kind="device")
        for net in dict.fromkeys(dev.nets):
            if not is_supply_net(net):
                g.add_node(("net", net), kind="net")
                g.add_edge(dev.name, ("net", net))
    pos = nx.kamada_kawai_layout(g)
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(11, 8))
    nx.draw_networkx_edges(g, pos, ax=ax, edge_color="#bbbbbb")
    nets = [n for n, k in g.nodes(data="kind") if k == "net"]
    nx.draw_networkx_nodes(g, pos, nodelist=nets, node_shape="s", node_size=60, node_color="#dddddd", ax=ax)
    nx.draw_networkx_labels(g, pos, {n: n[1] for n in nets}, font_size=6, ax=ax)
    for i, block in enumerate(graph.blocks):
        real = not block.type.startswith("device:")
        nx.draw_networkx_nodes(g, pos, nodelist=list(block.devices), node_size=420, ax=ax,
                               node_color=[cmap(i % 20) if real else "#ffffff"], edgecolors="black",
                               label=f"{i}: {block.type} ({', '.join(block.devices)})")
    nx.draw_networkx_labels(g, pos, {d.name: d.name for d in netlist.devices}, font_size=7, ax=ax)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"{title}: {len(netlist.devices)} devices, coverage {graph.coverage():.0%} "
                 f"(white: no block; supplies not drawn)", fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "results")
    parser.add_argument("--example", default="analoggenie:1800",
                        help="DATASET:ID of the op-amp to draw (default analoggenie:1800, a folded cascode)")
    args = parser.parse_args(argv)
    sources = {
        "analoggenie": (analoggenie, args.data / "analoggenie" / "analoggenie-dataset.tar.gz"),
        "image2net": (image2net, args.data / "image2net" / "image2net-netlists.tar.gz"),
    }
    missing = [str(p) for _, p in sources.values() if not p.exists()]
    if missing:
        print(f"error: data not found: {', '.join(missing)}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {"experiment": NAME, "python": platform.python_version(), "datasets": {},
                     "sources": {k: str(p) for k, (_, p) in sources.items()}}
    kept: dict[str, dict[str, tuple[Netlist, TwoLevelGraph]]] = {}
    for name, (reader, tarball) in sources.items():
        results["datasets"][name], kept[name] = run_dataset(reader(tarball))
        res = results["datasets"][name]
        print(f"{name}: {res['all']['circuits']} circuits, device coverage {res['all']['device_coverage']:.3f}, "
              f"transistor coverage {res['all']['transistor_coverage']:.3f}, {len(res['unreadable'])} unreadable, "
              f"{res['devices_per_second']:.0f} devices/s")
        for ctype, s in res["types"].items():
            print(f"  {ctype:20s} {s['circuits']:5d} circuits  devices {s['device_coverage']:.3f}  "
                  f"transistors {s['transistor_coverage'] or 0:.3f}  mean/circuit {s['mean_circuit_coverage']:.3f}")
    dataset, ident = args.example.split(":", 1)
    netlist, graph = kept[dataset][ident]
    results["example"] = {"circuit": args.example, **graph.to_json()}
    (args.out / f"{NAME}.json").write_text(json.dumps(results, indent=1) + "\n")
    bar_figure(results, args.out / f"{NAME}.png")
    example_figure(netlist, graph, args.example, args.out / "block_example.png")
    print(f"wrote {args.out / (NAME + '.json')}, {NAME}.png, block_example.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
