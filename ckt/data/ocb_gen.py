"""The Open Circuit Benchmark generator, rewritten: random 2- and 3-stage behavioural op-amps over
the 26-type subgraph basis of ``ckt.graph.ocb_basis``, drawn the way CktGNN drew Ckt-Bench-101.

What a circuit is (positions are upstream's subgraph slots):

- 0 ``In`` and 1 ``Out``;
- 2 and 3 the first two main-path stages, 4 a third stage with probability 0.8; each stage is one of
  ``+gm+``, ``-gm+``, ``C||+gm+``, ``C||-gm+`` (uniform), on ``in -> n1 -> (n2 ->) out``;
- 6, with probability 0.6, a passive (``R``, ``C``, ``R-C``, ``R||C``) from a stage net to ``out``:
  ``n1`` in a 2-stage amplifier, ``n1`` or ``n2`` (even odds) in a 3-stage one. NOTES.md calls it
  "a passive to ground"; upstream's generator and netlister both hang it on the stage net and
  ``out`` (Miller-style compensation), and so does this one;
- 5 and 7, each with probability 0.6, a bridge of any type but ``In``/``Out`` (uniform over 24)
  between two distinct nets of ``in, n1, (n2,) out`` (uniform over pairs), ``src`` the one nearer
  the input.

Each topology is reused for 20 consecutive circuits with fresh values: integers ``v`` in 1..101 per
element, ``R = 0.1 v`` MOhm, ``C = 10 v`` fF, ``gm = 0.1 v`` mS (negative for ``-gm`` types). The
random stream is numpy's PCG64 seeded by ``seed``; upstream's circuits cannot be re-created, only
their distribution.

Labels are made elsewhere (``ckt.data.ocb_label``); what upstream's labels imply for them: it measured
``V(out)/V(in)`` of this netlist as is, and its PM column matches 180 deg + the phase at the UGF folded
into (-180, 180] (KS 0.03-0.04 between perform101 and these circuits, against 0.17-0.5 for the
unfolded, sign-corrected or wrapped-phase readings). So an inverting main path (an odd number of
``+gm`` stages) was not treated specially: its phase starts at +-180 deg and its PM reads as minus the
lag at the UGF, while a non-inverting 3-stage amplifier lagging more than 180 deg reads negative too.
perform101 also holds 769 placeholder rows (gain 0 dB, PM 0, bw 1e-5 GHz) spread over 404 of its 500
topology groups: failed runs, not a property of topologies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ckt.errors import CktError
from ckt.graph.ocb_basis import (
    OCB_BLOCK_TYPES,
    PASSIVE_TYPES,
    SHAPES,
    STAGE_TYPES,
    OcbPart,
    assemble,
    part_devices,
)
from ckt.graph.two_level import TwoLevelGraph
from ckt.netlist.ir import Netlist

TOPOLOGY_REUSE = 20
"""Consecutive circuits that share one topology."""
P_THIRD_STAGE = 0.8
P_EXTRA = 0.6
"""Probability of each of positions 5, 6 and 7."""
GRID = (1, 101)
"""Inclusive range of the integer value grid."""
UNITS: dict[str, float] = {"r": 0.1e6, "c": 10e-15, "gm": 0.1e-3}
"""SI value of one grid step per value name."""
BRIDGE_TYPES: tuple[str, ...] = OCB_BLOCK_TYPES[2:]


@dataclass(frozen=True, slots=True)
class OcbCircuit:
    """One generated op-amp.

    Attributes:
        index: its number in the generated sequence.
        topology_id: ``index // 20``; circuits with one id differ only in values.
        stages: 2 or 3.
        parts: the blocks (``In``, ``Out``, then positions 2..7 that are present) with their nets
            and SI values.
        positions: upstream's slot of each part.
        grid: each part's integer grid values, in its ``values`` order.
    """

    index: int
    topology_id: int
    stages: int
    parts: tuple[OcbPart, ...]
    positions: tuple[int, ...]
    grid: tuple[tuple[int, ...], ...]

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(p.type for p in self.parts)

    def _devices(self) -> list[tuple]:
        return [part_devices(p, str(pos)) for p, pos in zip(self.parts, self.positions)]

    def netlist(self) -> Netlist:
        """The behavioural netlist (``G``, ``R``, ``C``; nets ``in``, ``out``, ``n1``, ``n2``, ``0``),
        without a source or analysis: a testbench adds those. Devices are named by position
        (``G2`` is the first stage, ``RL2``/``CL2`` its load)."""
        devices = tuple(d for group in self._devices() for d in group)
        return Netlist(title=f"ocb circuit {self.index} (topology {self.topology_id}, {self.stages} stages)",
                       devices=devices)

    def two_level(self) -> TwoLevelGraph:
        """The generator's own blocks as a two-level graph over ``netlist()``'s devices."""
        return assemble(self.parts, self._devices())


@dataclass(frozen=True, slots=True)
class _Topology:
    stages: int
    slots: tuple[tuple[int, str, str, str, str], ...]  # (position, type, src, dst, role)


def generate(n: int, seed: int = 0) -> list[OcbCircuit]:
    """``n`` circuits, a new topology every 20, all fixed by ``seed``.

    Raises:
        CktError: ``n`` is negative.
    """
    if n < 0:
        raise CktError(f"cannot generate {n} circuits: n must be 0 or more")
    rng = np.random.default_rng(seed)
    out: list[OcbCircuit] = []
    topology = None
    for index in range(n):
        if index % TOPOLOGY_REUSE == 0:
            topology = _draw_topology(rng)
        assert topology is not None
        out.append(_draw_values(rng, topology, index))
    return out


def _draw_topology(rng: np.random.Generator) -> _Topology:
    stage_types = [str(rng.choice(STAGE_TYPES)) for _ in range(2)]
    if rng.random() < P_THIRD_STAGE:
        stage_types.append(str(rng.choice(STAGE_TYPES)))
    chain = ["in", *(f"n{k}" for k in range(1, len(stage_types))), "out"]
    slots = [(0, "In", "in", "in", "in"), (1, "Out", "out", "out", "out")]
    slots += [(2 + k, t, chain[k], chain[k + 1], "stage") for k, t in enumerate(stage_types)]
    for position in (5, 6, 7):
        if rng.random() >= P_EXTRA:
            continue
        if position == 6:
            src = chain[1] if len(stage_types) == 2 else str(rng.choice(chain[1:-1]))
            slots.append((6, str(rng.choice(PASSIVE_TYPES)), src, "out", "comp"))
        else:
            type_ = str(rng.choice(BRIDGE_TYPES))
            i, j = sorted(int(k) for k in rng.choice(len(chain), size=2, replace=False))
            slots.append((position, type_, chain[i], chain[j], "bridge"))
    return _Topology(len(stage_types), tuple(slots))


def _draw_values(rng: np.random.Generator, topology: _Topology, index: int) -> OcbCircuit:
    parts: list[OcbPart] = []
    grid: list[tuple[int, ...]] = []
    for _, type_, src, dst, role in topology.slots:
        shape = SHAPES[type_]
        steps = tuple(int(v) for v in rng.integers(GRID[0], GRID[1] + 1, size=len(shape.value_names)))
        sign = -1.0 if shape.gm.startswith("-") else 1.0
        values = tuple(
            (name, (sign if name == "gm" else 1.0) * step * UNITS[name])
            for name, step in zip(shape.value_names, steps)
        )
        parts.append(OcbPart(type_, src, dst, values, role))
        grid.append(steps)
    return OcbCircuit(index, index // TOPOLOGY_REUSE, topology.stages, tuple(parts),
                      tuple(s[0] for s in topology.slots), tuple(grid))
