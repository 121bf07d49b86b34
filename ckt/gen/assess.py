"""What each generated circuit is worth before anyone sizes it: valid, unique, novel.

Validity is judged *independently of the grammar* that produced the circuit: the rule check
(``ckt.gen.rules``) on the decoded netlist and, optionally, a DC operating point that converges in
ngspice (``ckt.gen.dcop``). Uniqueness and novelty are exact (``ckt.gen.iso``: a hash bucket, then
an isomorphism test), novelty against every circuit of the reference set, not only the training
split, so a circuit the model saw in validation or test is not counted as new either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ckt.gen.dcop import dc_converges
from ckt.gen.iso import IsoIndex, unique_and_novel
from ckt.gen.rules import check_circuit
from ckt.gen.tokens import GeneratedCircuit

if TYPE_CHECKING:
    from ckt.sim.executor_base import Executor


_DC_CHUNK = 50
"""DC checks per executor batch (one progress call each)."""


@dataclass(frozen=True, slots=True)
class Assessment:
    """One generated circuit's verdicts.

    Attributes:
        violations: the rules it breaks (``rule: message``); empty when the rule check passes.
        dc: whether its DC operating point converges (None: not checked).
        unique: it is the first of its topology among the samples.
        novel: no circuit of the reference set is isomorphic to it.
    """

    violations: tuple[str, ...]
    dc: bool | None
    unique: bool
    novel: bool

    @property
    def valid(self) -> bool:
        """The rule check passes and (where it was run) the DC operating point converges."""
        return not self.violations and self.dc is not False


def assess(circuits: Sequence[GeneratedCircuit], reference: IsoIndex, *, dc: bool = True, pdk: str = "ptm180",
           executor: Executor | None = None, progress: Callable[[int, int], None] | None = None
           ) -> list[Assessment]:
    """The verdicts on ``circuits`` in order (module docstring); ``dc=False`` skips ngspice.

    Args:
        circuits: decoded samples.
        reference: the dataset's circuits, indexed once (``IsoIndex.of``).
        dc: run the DC operating-point check on the circuits the rules pass.
        pdk: what the DC check binds MOSFETs to.
        executor: where the DC checks run (None: the module's default one-worker pool).
        progress: called with (circuits DC-checked, total) as it goes.
    """
    rules = [tuple(f"{v.rule}: {v.message}" for v in check_circuit(c.netlist, c.ckt_type, c.ports))
             for c in circuits]
    checks: list[bool | None] = [None] * len(circuits)
    if dc:
        todo = [i for i, r in enumerate(rules) if not r]
        for start in range(0, len(todo), _DC_CHUNK):
            chunk = todo[start:start + _DC_CHUNK]
            for i, ok in zip(chunk, dc_converges([(circuits[i].netlist, circuits[i].ports) for i in chunk], pdk,
                                                 executor)):
                checks[i] = ok
            if progress is not None:
                progress(start + len(chunk), len(todo))
    iso = unique_and_novel(circuits, reference)
    return [Assessment(r, d, u, n) for r, d, u, n in zip(rules, checks, iso.unique, iso.novel)]
