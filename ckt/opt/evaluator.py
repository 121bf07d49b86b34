"""Evaluators: what turns a batch of designs into measured values.

The sizing loop only knows the ``Evaluator`` protocol, so it is tested against analytic fakes and
run against ngspice with ``SimEvaluator``. Outcomes stream back as they complete, which lets the
loop commit each one to the history before the rest of the batch has finished.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

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


@dataclass(frozen=True)
class Provided:
    """The names an evaluator measures and who provides them (for the message when a spec names
    something else)."""

    names: frozenset[str]
    source: str


class Evaluator(Protocol):
    """Anything that evaluates designs given as ``{variable: SI value}`` dicts.

    Attributes:
        provides: the measured names (checked against the spec before any simulation), or None
            when the evaluator cannot tell.
        context: identifies everything besides the design that determines an outcome; stored
            outcomes are reused across runs only under the same context.
    """

    provides: Provided | None
    context: str

    def evaluate(self, batch: Sequence[Mapping[str, float]]) -> Iterator[tuple[int, Outcome]]:
        """Yield ``(index in batch, outcome)`` as each design completes, in any order."""
        ...


def context_key(jobs: Sequence, extra: Mapping[str, object]) -> str:
    """SHA-256 (first 16 hex digits) of everything besides the design that determines a result:
    the ``SimJob``s of one design (deck text: netlist content, testbench, ``.meas`` lines,
    options; backend), the contents of every file in their include closure (nested includes of
    model files too), and ``extra`` (derived definitions, simulator version and options)."""
    from ckt.sim.decktext import include_closure

    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(label.encode() + len(data).to_bytes(8, "little") + data)

    for job in jobs:
        add("deck", job.deck.encode())
        add("backend", str(job.backend).encode())
        for f in include_closure(job.deck, job.files):
            add("file", f.path.encode())
            add("content" if f.exists else "missing", f.digest.encode())
    add("extra", json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


_MEAS_LINE = re.compile(r"^\s*\.?meas(?:ure)?\s+\S+\s+([^\s=]+)", re.IGNORECASE)


def meas_failures(log: str, names: Sequence[str]) -> dict[str, str]:
    """Why each ``.meas`` in ``names`` failed, from ngspice's log: the ``Error:`` line naming it,
    else its ``failed!`` line."""
    lines = log.splitlines()
    out: dict[str, str] = {}
    for name in names:
        why = ""
        for i, line in enumerate(lines):
            m = _MEAS_LINE.match(line.strip())
            if m and m.group(1).lower() == name and "failed" in line.lower():
                prev = lines[i - 1].strip() if i else ""
                why = prev if prev.lower().startswith("error") else line.strip()
                break
        out[name] = why or "no value in the log"
    return out


class SimEvaluator:
    """Evaluates designs with ngspice through a ``ckt.sim`` executor.

    Two modes, chosen by the spec:

    * no ``testbench:`` — the netlist is a complete deck with its own analyses and ``.meas``
      statements; each design is the deck with its ``.param`` values overridden, and its values are
      the ``.meas`` results. A failed ``.meas`` is that value missing (a target on it is unmet), not
      a failed design, and the outcome's message says why it failed;
    * ``testbench: {kind: opamp, ...}`` — ``ckt.sim.testbench.opamp.OpAmpTestbench`` builds the decks
      the spec's metrics need and measures them; a design is ok when its simulations ran, even if
      some metric could not be measured (its reason is in the message). With the spec's
      ``corners:``, every design is measured at every PVT point (``ckt.sim.pvt``) and its values
      are the worst case over them (``worst_case``).

    All decks of a batch (every corner of every design) go to the executor at once, so ``W``
    workers run ``W`` decks in parallel.

    Args:
        netlist: the parsed netlist (parse it once at the edge), or its file.
        spec: the sizing spec (variables must be global ``.param`` names of the netlist).
        executor: a ``ckt.sim`` executor (``make_executor(...)``).
        timeout_s: per-simulation limit.
        source: the netlist's file name for messages (default: ``netlist`` when it is a path).

    Attributes:
        initial: the netlist's own values of the variables.
        pvts: the spec's corners as ``PVT`` points (empty without ``corners:``).
        provides: the ``.meas`` names of the deck, or the testbench's metrics.
        context: the reuse key (``context_key``) of everything but the design.
        trust_deck: the spec's ``trust_deck``, set on every ``SimJob`` (``trusted``: the deck policy
            lets its control commands run unchecked).
    """

    def __init__(self, netlist, spec, executor, *, timeout_s: float = 60.0, source: str | None = None) -> None:
        from ckt.errors import SpecError
        from ckt.netlist.params import global_scope
        from ckt.sim.backends import ngspice_version
        from ckt.sim.deck import load_netlist, prepare
        from ckt.sim.decktext import meas_names

        self.spec = spec
        self.executor = executor
        self.timeout_s = timeout_s
        self.trust_deck = spec.trust_deck
        self.path = source or (str(netlist) if not hasattr(netlist, "devices") else "<netlist>")
        net = load_netlist(netlist)
        self.netlist = net
        scope = global_scope(net)
        missing = [v.name for v in spec.variables if v.name.lower() not in scope]
        if missing:
            raise SpecError(f"{spec.source or '<spec>'}: variable(s) {', '.join(missing)} are not global .param "
                            f"values of {self.path} (it defines: {', '.join(sorted(scope)) or 'none'})")
        self.initial = {v.name: float(scope[v.name.lower()]) for v in spec.variables}
        self.testbench = None
        self.pvts: tuple = ()
        self._benches: tuple = ()
        if spec.testbench is None:
            self._base = prepare(net, pdk=spec.pdk, models=spec.models)
            self._meas = tuple(meas_names(self._base.deck()))
            self.provides: Provided | None = Provided(frozenset(self._meas), f"the .meas lines of {self.path}")
        else:
            from ckt.sim.testbench.opamp import METRICS

            self.testbench = self._make_testbench(net)
            self._benches = (self.testbench,)
            if spec.corners is not None:
                nominal = self.testbench.supplies(prepare(net, pdk=spec.pdk, models=spec.models))[0]
                self.pvts = tuple(spec.corners.points(nominal))
                self._benches = tuple(p.apply(self.testbench) for p in self.pvts)
            self.provides = Provided(frozenset(METRICS), "the op-amp testbench's metrics")
        self.context = context_key(self._jobs(self.initial), {
            "derived": list(spec.derived), "ngspice": ngspice_version(), "timeout_s": timeout_s,
            "trust_deck": spec.trust_deck})

    def _make_testbench(self, net):
        from ckt.netlist.expr import free_names
        from ckt.sim.testbench.opamp import METRICS, OpAmpTestbench

        tb = self.spec.testbench
        wanted = set(self.spec.metric_names)
        for _, text in self.spec.derived:
            wanted |= set(free_names(text))
        metrics = tuple(m for m in METRICS if m in wanted) or None
        kwargs = {"timeout_s": self.timeout_s, **tb.kwargs()}
        if metrics:
            kwargs["metric_names"] = metrics
        return OpAmpTestbench(net, tb.dut, ports=dict(tb.ports), pdk=self.spec.pdk, models=self.spec.models,
                              **kwargs)

    def _jobs(self, params, vectors: bool = False) -> list:
        from ckt.sim.deck import prepare
        from ckt.sim.result import SimJob

        if self.testbench is not None:
            jobs = [j for bench in self._benches for j in bench.jobs(params)]
        else:
            prepared = prepare(self._base.netlist, overrides=params)
            jobs = [SimJob(prepared.deck(), vectors=vectors, timeout_s=self.timeout_s, files=self._base.files)]
        return self._stamped(jobs)

    def _stamped(self, jobs: Sequence) -> list:
        """``jobs`` carrying the deck's trust flag and source file (read by the deck policy)."""
        return [dataclasses.replace(j, trusted=self.trust_deck, source=self.path) for j in jobs]

    def evaluate(self, batch: Sequence[Mapping[str, float]]) -> Iterator[tuple[int, Outcome]]:
        return self._stream([lambda p=params: self._jobs(p) for params in batch], self._outcome)

    def _stream(self, builders: Sequence, finish) -> Iterator[tuple[int, Outcome]]:
        """Build every design's jobs (``builders[i]()``), submit them all in one executor batch and
        yield ``(i, finish(results of design i))`` as each design's last job completes."""
        from ckt.errors import CktError

        jobs: list = []
        owner: list[tuple[int, int]] = []
        counts: dict[int, int] = {}
        for i, build in enumerate(builders):
            try:
                mine = build()
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
                yield i, finish(results.pop(i))

    def _corner_sets(self, results: list, benches: Sequence | None = None) -> list:
        """The ``MetricSet`` of each corner (``benches``, default ``_benches``, in order) from one
        design's results."""
        benches = self._benches if benches is None else benches
        n = len(results) // len(benches)
        return [b.metrics(results[k * n:(k + 1) * n]) for k, b in enumerate(benches)]

    def _worst(self, results: list, benches: Sequence | None = None) -> Outcome:
        """One design's testbench outcome: its only corner's metrics, or the worst case over corners."""
        sets = self._corner_sets(results, benches)
        if self.pvts:
            from ckt.sim.pvt import worst_case

            ms = worst_case(list(zip(self.pvts, sets)))
        else:
            ms = sets[0]
        return self._metric_outcome(ms, sum(r.elapsed_s for r in results))

    def _outcome(self, results: list) -> Outcome:
        if self.testbench is not None:
            return self._worst(results)
        seconds = sum(r.elapsed_s for r in results)
        (r,) = results
        values = {k: v for k, v in r.measurements.items() if v is not None}
        status = r.status
        if status != Status.OK and not values:
            return Outcome(status, {}, seconds, r.message)
        failed = [k for k, v in r.measurements.items() if v is None]
        notes = [f"{k}: {why}" for k, why in meas_failures(r.log, failed).items()]
        if status != Status.OK:  # some .meas have values: the rest are missing, not the whole design
            notes.insert(0, r.message.splitlines()[0] if r.message else status)
        return Outcome(Status.OK, values, seconds, "; ".join(notes))

    def _metric_outcome(self, ms, seconds: float) -> Outcome:
        """A testbench ``MetricSet`` as an outcome: ok when its simulations ran."""
        status = Status.OK if not ms.failed else ms.status
        reasons = {**ms.messages, **{k: v for k, v in ms.missing.items() if k in self.spec.metric_names}}
        message = "; ".join(f"{k}: {v}" for k, v in reasons.items())
        return Outcome(status, dict(ms.values), seconds, message)

    def corner_values(self, params: Mapping[str, float]) -> list[dict]:
        """Each corner's metrics of one design (for the report): ``[{"corner", "process", "temp",
        "vdd", "values", "missing"}]`` in corner order; empty without ``corners:``."""
        if not self.pvts:
            return []
        sets = self._corner_sets(self.executor.map(self._jobs(params)))
        return [{"corner": str(p), "process": p.corner, "temp": p.temp, "vdd": p.vdd, "values": dict(ms.values),
                 "missing": dict(ms.missing)} for p, ms in zip(self.pvts, sets)]

    def mismatch_samples(self, params: Mapping[str, float], seeds: Sequence[int]) -> Iterator[tuple[int, Outcome]]:
        """Yield ``(k, outcome)`` of the design ``params`` as Monte Carlo mismatch sample ``k``
        (ngspice seed ``seeds[k]``, see ``ckt.sim.montecarlo``), all in one executor batch. With
        ``corners:`` a sample is simulated at every corner with the same draw (the same seed, the
        same devices: one die, several conditions) and its values are the worst case over them.

        Raises:
            SpecError: the spec has no generated testbench.
            PdkError: the PDK's models carry no mismatch.
        """
        from ckt.errors import SpecError
        from ckt.sim.montecarlo import mismatch_switch, sample

        if self.testbench is None:
            raise SpecError(f"{self.spec.source or '<spec>'}: Monte Carlo needs a generated testbench "
                            "(a testbench: block)")
        mismatch_switch(self.spec.pdk)
        draws = [tuple(sample(b, s) for b in self._benches) for s in seeds]
        return self._stream([lambda d=d: self._stamped([j for b in d for j in b.jobs(params)]) for d in draws],
                            lambda results: self._worst(results, draws[0]))

    def responses(self, params: Mapping[str, float]):
        """``(bode, step)`` of one design (testbench mode): the open-loop ``(freq, H)`` and the
        unity-gain follower's ``(t, v)``, each None where the testbench could not produce it."""
        if self.testbench is None or "ac" not in self.testbench.analyses():
            return None, None
        tb = dataclasses.replace(self.testbench, metric_names=("gain_db", "stable"))
        ms = tb.metrics(self.executor.map(self._stamped(tb.jobs(params))))
        return ms.bode, ms.step
