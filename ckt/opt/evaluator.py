"""Evaluators: what turns a batch of designs into measured values.

The sizing loop only knows the ``Evaluator`` protocol, so it is tested against analytic fakes and
run against ngspice with ``SimEvaluator``. Outcomes stream back as they complete, which lets the
loop commit each one to the history before the rest of the batch has finished.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Protocol, Sequence

from ckt.sim.result import Status


@dataclass(frozen=True)
class Outcome:
    """What one evaluated design gave.

    Attributes:
        status: ``"ok"`` or why it failed (``"error"``, ``"timeout"``, ``"nonconvergence"``...).
        values: measurement and metric name -> value (finite floats only; a measurement that
            failed is absent, not NaN).
        seconds: wall-clock time the evaluation took.
        message: why it failed, empty when ok.
    """

    status: str
    values: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""

    def __post_init__(self) -> None:
        clean = {}
        for k, v in self.values.items():
            if v is None:
                continue
            v = float(v)
            if math.isfinite(v):
                clean[str(k)] = v
        object.__setattr__(self, "values", clean)

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


class Evaluator(Protocol):
    """Anything that evaluates designs given as ``{variable: SI value}`` dicts."""

    def evaluate(self, batch: Sequence[Mapping[str, float]]) -> Iterator[tuple[int, Outcome]]:
        """Yield ``(index in batch, outcome)`` as each design completes, in any order."""
        ...


class SimEvaluator:
    """Evaluates designs with ngspice through a ``ckt.sim`` executor.

    Two modes, chosen by the spec:

    * no ``testbench:`` — the netlist is a complete deck with its own analyses and ``.meas``
      statements; each design is the deck with its ``.param`` values overridden, and its values are
      the ``.meas`` results (a failed ``.meas`` is left out, so a target on it counts as unmet);
    * ``testbench: {kind: opamp, ...}`` — ``ckt.sim.testbench.opamp.OpAmpTestbench`` builds the decks
      the spec's metrics need and measures them; a design is ok when its simulations ran, even if
      some metric could not be measured (``partial``).

    All decks of a batch go to the executor at once, so ``W`` workers run ``W`` designs in parallel.

    Args:
        netlist_path: the netlist file.
        spec: the sizing spec (variables must be global ``.param`` names of the netlist).
        executor: a ``ckt.sim`` executor (``make_executor(...)``).
        timeout_s: per-simulation limit.
    """

    def __init__(self, netlist_path, spec, executor, *, timeout_s: float = 60.0) -> None:
        from ckt.errors import SpecError
        from ckt.netlist.params import global_scope
        from ckt.sim.deck import load_netlist, prepare

        self.spec = spec
        self.executor = executor
        self.timeout_s = timeout_s
        self.path = str(netlist_path)
        net = load_netlist(netlist_path)
        scope = global_scope(net)
        missing = [v.name for v in spec.variables if v.name.lower() not in scope]
        if missing:
            raise SpecError(f"{spec.source or '<spec>'}: variable(s) {', '.join(missing)} are not global .param "
                            f"values of {self.path} (it defines: {', '.join(sorted(scope)) or 'none'})")
        self.initial = {v.name: float(scope[v.name.lower()]) for v in spec.variables}
        self.testbench = None
        if spec.testbench is None:
            base = prepare(netlist_path, pdk=spec.pdk, models=spec.models)
            self._base = base
        else:
            self.testbench = self._make_testbench(netlist_path)

    def _make_testbench(self, netlist_path):
        from ckt.netlist.expr import free_names
        from ckt.sim.testbench.opamp import METRICS, OpAmpTestbench

        tb = self.spec.testbench
        wanted = set(self.spec.metric_names)
        for _, text in self.spec.derived:
            wanted |= set(free_names(text))
        metrics = tuple(m for m in METRICS if m in wanted) or None
        kwargs = dict(tb.options)
        if metrics:
            kwargs["metric_names"] = metrics
        return OpAmpTestbench(netlist_path, tb.dut, ports=dict(tb.ports), pdk=self.spec.pdk,
                              models=self.spec.models, timeout_s=self.timeout_s, **kwargs)

    def _jobs(self, params, vectors: bool = False) -> list:
        from ckt.sim.deck import prepare
        from ckt.sim.result import SimJob

        if self.testbench is not None:
            return self.testbench.jobs(params)
        prepared = prepare(self._base.netlist, overrides=params)
        return [SimJob(prepared.deck(), vectors=vectors, timeout_s=self.timeout_s, files=self._base.files)]

    def evaluate(self, batch: Sequence[Mapping[str, float]]) -> Iterator[tuple[int, Outcome]]:
        from ckt.errors import CktError

        jobs: list = []
        owner: list[tuple[int, int]] = []
        counts: dict[int, int] = {}
        for i, params in enumerate(batch):
            try:
                mine = self._jobs(params)
            except CktError as exc:
                yield i, Outcome(Status.ERROR, message=f"could not build the deck: {exc}")
                continue
            counts[i] = len(mine)
            for k, job in enumerate(mine):
                owner.append((i, k))
                jobs.append(job)
        results: dict[int, list] = {i: [None] * n for i, n in counts.items()}
        for j, res in self.executor.submit(jobs):
            i, k = owner[j]
            results[i][k] = res
            if all(r is not None for r in results[i]):
                yield i, self._outcome(results.pop(i))

    def _outcome(self, results: list) -> Outcome:
        seconds = sum(r.elapsed_s for r in results)
        if self.testbench is not None:
            ms = self.testbench.metrics(results)
            status = Status.OK if not ms.failed else ms.status
            message = "; ".join(f"{k}: {v}" for k, v in ms.messages.items())
            return Outcome(status, dict(ms.values), seconds, message)
        (r,) = results
        return Outcome(r.status, {k: v for k, v in r.measurements.items() if v is not None}, seconds, r.message)

    def bode(self, params: Mapping[str, float]):
        """``(freq, H)`` of the open-loop response of one design (testbench mode), else None."""
        if self.testbench is None:
            return None
        from ckt.sim.testbench.opamp import OpAmpTestbench

        tb = self.testbench
        if "ac" not in tb.analyses():
            return None
        ac_only = OpAmpTestbench(tb.netlist, tb.dut, ports=dict(tb.ports), vdd=tb.vdd, vss=tb.vss, vcm=tb.vcm,
                                 cload=tb.cload, rload=tb.rload, bias=dict(tb.bias), temp=tb.temp, pdk=tb.pdk,
                                 corner=tb.corner, models=tb.models, metric_names=("gain_db",),
                                 timeout_s=tb.timeout_s)
        ms = ac_only.metrics(self.executor.map(ac_only.jobs(params)))
        return ms.bode
