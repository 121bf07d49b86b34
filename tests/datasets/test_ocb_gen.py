"""The OCB generator: fixed by its seed, upstream's slots and probabilities, topologies reused for
20 circuits, values on the grid, and netlists that reproduce NOTES.md's hand-checked record."""

from __future__ import annotations

import subprocess
from collections import Counter

import numpy as np
import pytest

from ckt.data.ocb_gen import TOPOLOGY_REUSE, OcbCircuit, generate
from ckt.errors import CktError
from ckt.graph.ocb_basis import LOAD_C, LOAD_R, PASSIVE_TYPES, SHAPES, STAGE_TYPES, OcbPart
from ckt.netlist.ir import DeviceKind
from ckt.netlist.write import write_spice
from tests.conftest import requires_ngspice


def topology(c: OcbCircuit) -> tuple:
    return c.stages, c.positions, tuple((p.type, p.src, p.dst, p.role) for p in c.parts)


def test_the_seed_fixes_every_circuit():
    assert generate(60, seed=3) == generate(60, seed=3)
    assert generate(60, seed=3) != generate(60, seed=4)
    assert generate(45, seed=3) == generate(60, seed=3)[:45]
    assert generate(0) == []
    with pytest.raises(CktError):
        generate(-1)


def test_a_topology_serves_20_consecutive_circuits_with_fresh_values():
    circuits = generate(200, seed=1)
    for start in range(0, 200, TOPOLOGY_REUSE):
        group = circuits[start:start + TOPOLOGY_REUSE]
        assert {c.topology_id for c in group} == {start // TOPOLOGY_REUSE}
        assert len({topology(c) for c in group}) == 1
        assert len({c.grid for c in group}) > 15
    assert len({topology(circuits[s]) for s in range(0, 200, TOPOLOGY_REUSE)}) >= 8


def test_every_circuit_follows_upstreams_slots():
    for c in generate(4000, seed=2):
        chain = ["in", "n1", "out"] if c.stages == 2 else ["in", "n1", "n2", "out"]
        rank = {n: i for i, n in enumerate(chain)}
        assert c.positions[:4] == (0, 1, 2, 3) and list(c.positions) == sorted(set(c.positions))
        assert set(c.positions) <= set(range(8)) and (4 in c.positions) == (c.stages == 3)
        assert len(c.parts) <= 8
        assert sum(len(SHAPES[t].value_names) for t in c.types) <= 24
        for p, pos in zip(c.parts, c.positions):
            assert rank[p.src] <= rank[p.dst]
            if pos in (2, 3, 4):
                assert p.role == "stage" and p.type in STAGE_TYPES
                assert (p.src, p.dst) == (chain[pos - 2], chain[pos - 1])
            elif pos == 6:
                assert p.role == "comp" and p.type in PASSIVE_TYPES and p.dst == "out" and p.src in chain[1:-1]
            elif pos in (5, 7):
                assert p.role == "bridge" and p.type not in ("In", "Out") and rank[p.src] < rank[p.dst]


def test_the_probabilities_are_upstreams():
    circuits = generate(TOPOLOGY_REUSE * 1000, seed=4)[::TOPOLOGY_REUSE]  # one circuit per topology
    present = Counter(pos for c in circuits for pos in c.positions)
    n = len(circuits)
    assert abs(present[4] / n - 0.8) < 0.04
    for pos in (5, 6, 7):
        assert abs(present[pos] / n - 0.6) < 0.05
    stage_types = Counter(p.type for c in circuits for p in c.parts if p.role == "stage")
    assert set(stage_types) == set(STAGE_TYPES)
    assert min(stage_types.values()) / max(stage_types.values()) > 0.8
    bridges = Counter(p.type for c in circuits for p in c.parts if p.role == "bridge")
    assert len(bridges) == 24
    comp_src = Counter(p.src for c in circuits if c.stages == 3 for p in c.parts if p.role == "comp")
    assert 0.8 < comp_src["n1"] / comp_src["n2"] < 1.25


def test_values_sit_on_the_grid_with_the_sign_of_the_type():
    circuits = generate(2000, seed=6)
    steps = [s for c in circuits for g in c.grid for s in g]
    assert min(steps) == 1 and max(steps) == 101 and len(set(steps)) == 101
    unit = {"r": 0.1e6, "c": 10e-15, "gm": 0.1e-3}
    for c in circuits[:300]:
        for p, grid in zip(c.parts, c.grid):
            assert tuple(n for n, _ in p.values) == SHAPES[p.type].value_names
            for (name, value), step in zip(p.values, grid):
                sign = -1 if name == "gm" and SHAPES[p.type].gm.startswith("-") else 1
                assert value == pytest.approx(sign * step * unit[name])


def test_the_netlist_is_behavioural_elements_with_the_fixed_loads():
    for c in generate(300, seed=9):
        netlist = c.netlist()
        kinds = Counter(d.kind for d in netlist.devices)
        assert set(kinds) <= {DeviceKind.VCCS, DeviceKind.RESISTOR, DeviceKind.CAPACITOR}
        gm_parts = [p for p in c.parts if SHAPES[p.type].gm]
        assert kinds[DeviceKind.VCCS] == len(gm_parts)
        for p, pos in zip(c.parts, c.positions):
            if not SHAPES[p.type].gm:
                continue
            g = netlist.device(f"G{pos}")
            sense, drive = (p.dst, p.src) if SHAPES[p.type].feedback else (p.src, p.dst)
            assert g.nets == (drive, "0", sense, "0") and g.value == dict(p.values)["gm"]
            assert netlist.device(f"RL{pos}").nets == (drive, "0") and netlist.device(f"RL{pos}").value == LOAD_R
            assert netlist.device(f"CL{pos}").nets == (drive, "0") and netlist.device(f"CL{pos}").value == LOAD_C
        assert set(netlist.nets) <= {"in", "out", "n1", "n2", "0"} | {f"s{pos}" for pos in c.positions}


def _hand_check_circuit() -> OcbCircuit:
    """NOTES.md's row 1506: two +gm+ stages, 9.8 mS and 8.9 mS, nothing else."""
    parts = (OcbPart("In", "in", "in", (), "in"), OcbPart("Out", "out", "out", (), "out"),
             OcbPart("+gm+", "in", "n1", (("gm", 9.8e-3),), "stage"),
             OcbPart("+gm+", "n1", "out", (("gm", 8.9e-3),), "stage"))
    return OcbCircuit(1506, 75, 2, parts, (0, 1, 2, 3), ((), (), (98,), (89,)))


@pytest.mark.ngspice
@requires_ngspice
def test_the_hand_checked_record_comes_out(tmp_path):
    deck = write_spice(_hand_check_circuit().netlist()).replace(
        ".end", "Vin in 0 dc 0 ac 1\n.ac dec 100 1 100g\n.control\nrun\nwrdata out.txt v(out)\n.endc\n.end")
    (tmp_path / "hc.cir").write_text(deck)
    # ngspice -b exits 1 after a .control block that ran fine; the written vectors are the evidence
    subprocess.run(["ngspice", "-b", "hc.cir"], cwd=tmp_path, capture_output=True, timeout=60, check=False)
    f, re_, im = np.loadtxt(tmp_path / "out.txt").T
    h = re_ + 1j * im
    db = 20 * np.log10(np.abs(h))
    phase = np.degrees(np.unwrap(np.angle(h)))
    i = int(np.argmax(db < 0))
    log_ugf = np.interp(0.0, db[[i, i - 1]], np.log10(f[[i, i - 1]]))
    pm = 180 + np.interp(log_ugf, np.log10(f[[i - 1, i]]), phase[[i - 1, i]])
    assert db[0] == pytest.approx(158.8, abs=0.05)  # CSV gain 2.7834 = 158.8/100 + 1.19531
    assert 10 ** log_ugf == pytest.approx(29.73e9, rel=2e-3)
    assert pm == pytest.approx(0.0123, abs=5e-4)  # CSV pm 1.99987
    assert abs(phase[0]) < 1e-3  # two inverting stages: in phase at DC
