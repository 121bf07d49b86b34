"""Tiny circuits of our own for the link-prediction tests: op-amp-like decks as pin-level graphs, split
by hand into train, val and test."""

from __future__ import annotations

from torch_geometric.data import Data

from ckt.graph.to_pyg import to_pins_pyg
from ckt.linkpred.datasets import PinCircuits
from ckt.netlist import parse_spice

MODELS = ".model nch nmos level=1\n.model pch pmos level=1\n"


def _ladder(start: str, length: int) -> list[str]:
    """An R-C ladder of ``length`` sections hanging off ``start``: each ``k`` its own topology."""
    lines, prev = [], start
    for i in range(length):
        lines += [f"RL{i} {prev} l{i} 1k", f"CL{i} l{i} 0 1p"]
        prev = f"l{i}"
    return lines


def ota(k: int) -> str:
    """A five-transistor OTA with ``k % 3`` load capacitors, a bias resistor when k is odd and a
    ``k // 2``-section output ladder."""
    lines = [f"* ota {k}",
             "M1 x inp tail 0 nch w=1u l=0.2u", "M2 out inn tail 0 nch w=1u l=0.2u",
             "M3 x x vdd vdd pch w=2u l=0.2u", "M4 out x vdd vdd pch w=2u l=0.2u",
             "M5 tail bias 0 0 nch w=2u l=0.4u", "V1 vdd 0 1.8"]
    lines += [f"C{i} out 0 {i + 1}p" for i in range(k % 3)]
    if k % 2:
        lines.append("R1 vdd bias 50k")
    lines += _ladder("out", k // 2)
    return "\n".join(lines) + "\n" + MODELS + ".end\n"


def mirror_amp(k: int) -> str:
    """A common-source stage with a mirror load, a follower and a ``k // 2``-section ladder."""
    lines = [f"* cs {k}", "M1 out in 0 0 nch w=1u l=0.2u", "M2 out pb vdd vdd pch w=2u l=0.2u",
             "M3 pb pb vdd vdd pch w=2u l=0.2u", "R1 pb 0 20k", "M4 vdd out buf 0 nch w=1u l=0.2u",
             "R2 buf 0 10k", "V1 vdd 0 1.8"]
    lines += [f"C{i} buf 0 {i + 1}p" for i in range(k % 2 + 1)]
    lines += _ladder("buf", k // 2)
    return "\n".join(lines) + "\n" + MODELS + ".end\n"


def graphs(count: int = 12) -> list[Data]:
    """``count`` small pin-level graphs, OTAs and CS stages alternating."""
    return [to_pins_pyg(parse_spice(ota(k) if k % 2 == 0 else mirror_amp(k))) for k in range(count)]


def tiny_circuits(count: int = 12) -> PinCircuits:
    """``graphs(count)`` split 2/3 train, 1/6 val, 1/6 test (by circuit)."""
    gs = graphs(count)
    a, b = count * 2 // 3, count * 5 // 6
    split = {"train": tuple(range(a)), "val": tuple(range(a, b)), "test": tuple(range(b, count))}
    return PinCircuits("tiny", tuple(gs), split, tuple(f"c{i}" for i in range(count)))


def write_folder(folder, count: int = 12) -> None:
    """The same circuits as SPICE files with a labels CSV (for the folder dataset and the CLI)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["circuit,kind"]
    for k in range(count):
        name = f"c{k}.cir"
        (folder / name).write_text(ota(k) if k % 2 == 0 else mirror_amp(k))
        rows.append(f"{name},{'ota' if k % 2 == 0 else 'cs'}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
