"""ngspice reads back every number the SPICE writer writes: magnitudes 1e-30..1e30, both signs.

The writer once used the atto suffix (``591.1a``), which ngspice 39 reads as ``591.1``; this test
has ngspice itself print each written value, so any suffix it reads differently shows up.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import pytest

from ckt.cli import run
from ckt.netlist.ir import Device, DeviceKind, Model, Netlist
from ckt.netlist.units import format_number, parse_number
from ckt.netlist.write import write_spice
from tests.conftest import requires_ngspice

pytestmark = [pytest.mark.ngspice, requires_ngspice]

MANTISSAS = (1.0, 1.5, 2.2, 4.7, 5.911, 9.99, 3.3333333333333335, 1.2345678901234567, 7.000000000000001)
VALUES = tuple(sign * m * 10.0**e for e in range(-30, 31) for m in MANTISSAS for sign in (1, -1))


def _ngspice(deck: str, tmp_path: Path) -> str:
    path = tmp_path / "deck.cir"
    path.write_text(deck)
    done = subprocess.run(["ngspice", "-b", str(path)], capture_output=True, text=True, timeout=120, check=False)
    return done.stdout + done.stderr


def _printed(output: str) -> dict[str, float]:
    """``name -> value`` from ``print @dev[param]`` lines."""
    return {m[1].lower(): float(m[2]) for m in re.finditer(r"^@([\w.]+)\[\w+\] = (\S+)$", output, re.MULTILINE)}


def test_ngspice_reads_every_written_magnitude(tmp_path: Path):
    devices = tuple(Device(f"R{i}", DeviceKind.RESISTOR, (("p", "1"), ("n", "0")), value=v) for i, v in enumerate(VALUES))
    # model cards too (where the atto suffix bit: is=591.1a); the diode model raises is below 1e-28
    models = tuple(Model(f"dm{i}", "d", (("is", v),)) for i, v in enumerate(VALUES) if 1e-27 < v < 1e-3)
    diodes = tuple(Device(f"D{i}", DeviceKind.DIODE, (("p", "1"), ("n", "0")), model=m.name)
                   for i, m in enumerate(models))
    deck = write_spice(Netlist(title="magnitudes", devices=devices + diodes, models=models))
    assert not re.search(r"\d[aA]\b", deck)
    control = ["set numdgt=17", *(f"print @r{i}[resistance]" for i in range(len(VALUES))),
               *(f"print @{m.name}[is]" for m in models)]
    deck = deck.replace(".end\n", ".control\n" + "\n".join(control) + "\n.endc\n.end\n")
    got = _printed(_ngspice(deck, tmp_path))
    wrong = [(v, format_number(v), got.get(f"r{i}")) for i, v in enumerate(VALUES)
             if got.get(f"r{i}") is None or not math.isclose(got[f"r{i}"], v, rel_tol=1e-13)]
    wrong += [(m.params[0][1], format_number(m.params[0][1]), got.get(m.name)) for m in models
              if got.get(m.name) is None or not math.isclose(got[m.name], m.params[0][1], rel_tol=1e-13)]
    assert not wrong, wrong[:10]


SUFFIXES = {
    # token: value ngspice 39 gives it on an element line (measured; see docs/numbers.md)
    "1a": 1.0, "1f": 1e-15, "1p": 1e-12, "1n": 1e-9, "1u": 1e-6, "1µ": 1e-6, "1m": 1e-3, "1M": 1e-3,
    "1k": 1e3, "1meg": 1e6, "1MEG": 1e6, "1mega": 1e6, "1g": 1e9, "1t": 1e12, "1mil": 25.4e-6, "1x": 1.0,
    "1kohm": 1e3, "1mA": 1e-3, "1e3k": 1e6, "2.5e3k": 2.5e6, "1e2meg": 1e8, "2e2mil": 2e2 * 25.4e-6,
    "1e-3V": 1e-3, "1h": 1.0, "1ms": 1e-3, "1atto": 1.0,
}


def test_reader_agrees_with_ngspice_on_every_suffix(tmp_path: Path):
    names = {f"r{i}": tok for i, tok in enumerate(SUFFIXES)}
    lines = [f"{name} {i} 0 {tok}" for i, (name, tok) in enumerate(names.items(), start=1)]
    control = ["set numdgt=17", *(f"print @{name}[resistance]" for name in names)]
    got = _printed(_ngspice("suffixes\n" + "\n".join(lines + [".control", *control, ".endc", ".end"]) + "\n",
                            tmp_path))
    for name, tok in names.items():
        assert got[name] == pytest.approx(SUFFIXES[tok], rel=1e-12), tok
        assert parse_number(tok) == pytest.approx(got[name], rel=1e-12), tok


def test_flattened_sky130_deck_simulates_like_the_original(tmp_path: Path):
    # the flattened sky130 models hold values below 1e-15, once written with the atto suffix
    from tests.conftest import ROOT

    lib = ROOT / "pdk_models" / "sky130_min_tt" / "sky130_min_tt.lib.spice"
    deck = tmp_path / "nfet.cir"
    deck.write_text(f'sky130 nfet\n.include "{lib}"\nvd d 0 1.8\nvg g 0 1.0\n'
                    "xm1 d g 0 0 sky130_fd_pr__nfet_01v8 w=1 l=0.15\n.control\nop\nprint i(vd)\n.endc\n.end\n")
    flat = tmp_path / "flat.cir"
    assert run(["convert", str(deck), "--to", "spice", "--flatten", "-o", str(flat)]) == 0
    current = [re.search(r"^i\(vd\) = (\S+)", _ngspice(p.read_text(), tmp_path), re.MULTILINE) for p in (deck, flat)]
    assert current[0] is not None and current[1] is not None, "ngspice did not run the flattened deck"
    assert float(current[1][1]) == pytest.approx(float(current[0][1]), rel=1e-6)
