"""Functional yield: does a generated op-amp amplify once it is sized?

A circuit is exported (``ckt.gen.export``: PDK-bound, biased, sizes tied by symmetry), its inputs
oriented by one simulation (``orient``), and sized by a short ``ckt size`` run against the issue's
bar (``export.DEFAULT_TARGETS``: gain >= 40 dB, UGBW >= 1 MHz, PM >= 45 degrees; a ``pm_deg``
target implies the sizing layer's closed-loop stability check). It counts only when the sizing
run finds a feasible design: the same flow for generated and for dataset op-amps, so the dataset's
figure is the ceiling the generated one is read against.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckt.errors import CktError, ExportError
from ckt.gen.export import DEFAULT_TARGETS, export_opamp, orient, orient_checked, write_export
from ckt.netlist.ir import Netlist

if TYPE_CHECKING:
    from ckt.sim.executor_base import Executor


@dataclass(frozen=True, slots=True)
class SizedOpAmp:
    """The outcome of sizing one op-amp.

    Attributes:
        name: the DUT name (and the run folder's).
        feasible: the sizing run met every target.
        n_sims: simulations spent.
        metrics: the best design's metrics (empty when none was simulated or it was not exported).
        variables: the design space's size.
        reason: why it was not sized (export refused it, the run failed), empty otherwise.
    """

    name: str
    feasible: bool
    n_sims: int
    metrics: dict[str, Any]
    variables: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "feasible": self.feasible, "n_sims": self.n_sims, "metrics": self.metrics,
                "variables": self.variables, "reason": self.reason}


SCREENED_OUT = "screened out"
"""``SizedOpAmp.reason`` prefix of a circuit the screen did not pass (it was never sized)."""


def size_opamp(netlist: Netlist, ports: tuple[str, ...] | list[str], out: str | Path, *, name: str, budget: int,
               executor: Executor, pdk: str = "ptm180", seed: int = 0, timeout_s: float = 20.0,
               screen: bool = False) -> SizedOpAmp:
    """Export, orient and size one op-amp into ``out/NAME/`` (``NAME.cir``, ``NAME.yaml``, the run).

    With ``screen``, a circuit the export refuses or that does not amplify at its default sizes
    (``export.orient_checked``: judged from the orienting simulations) is screened out, not sized:
    a sizing run rarely rescues a topology with no gain at all, and it costs ``budget`` simulations.

    A circuit the export refuses, or a run that fails, is a ``SizedOpAmp`` with ``reason`` set, never
    an exception: one bad circuit costs its own entry, not the evaluation.
    """
    from ckt.opt.evaluator import SimEvaluator
    from ckt.opt.run import RunOptions, size

    try:
        exported = export_opamp(netlist, ports, pdk=pdk, name=name)
        if screen:
            exported, works = orient_checked(exported, executor, timeout_s=timeout_s)
        else:
            exported, works = orient(exported, executor, timeout_s=timeout_s), True
    except ExportError as exc:
        return SizedOpAmp(name, False, 0, {}, reason=f"{SCREENED_OUT + ': ' if screen else ''}not exported: {exc}")
    if not works:
        return SizedOpAmp(name, False, 0, {}, len(exported.variables),
                          reason=f"{SCREENED_OUT}: no gain at the default sizes")
    folder = Path(out) / name
    write_export(exported, folder)
    spec = exported.spec(DEFAULT_TARGETS)
    try:
        evaluator = SimEvaluator(exported.netlist, spec, executor, timeout_s=timeout_s)
        result = size(spec, evaluator, folder / "run", RunOptions(budget=budget, batch=min(4, budget), seed=seed,
                                                                  progress=False),
                      initial=evaluator.initial, netlist=exported.netlist)
    except CktError as exc:
        return SizedOpAmp(name, False, 0, {}, len(exported.variables), reason=f"sizing failed: {exc}")
    metrics = dict(result.best.get("metrics", {})) if result.best else {}
    return SizedOpAmp(name, result.feasible, result.n_sims, metrics, len(exported.variables))
