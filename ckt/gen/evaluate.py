"""``ckt eval generator``: how good a generator's samples are, measured without trusting it.

Per circuit type, ``n`` samples are drawn and judged (``ckt.gen.assess``): **validity** by the rules
and a DC operating point, never by the grammar that built them; **uniqueness** (non-isomorphic among
the samples) and **novelty** (non-isomorphic to every dataset circuit, not only the training split);
**type agreement** (an independent type classifier, ``ckt train encoder --target ckt_type``, names
the type asked for); and **memorisation**: each sample's canonical walk is cut into ``NGRAM``-token
windows, and a sample counts as copied when every one of its windows occurs in some dataset
circuit's canonical walk of that type (``mean_overlap`` is the average share of windows seen).

**Functional yield** (op-amps): the first ``yield_n`` valid, unique and novel op-amps are exported,
oriented and sized by a short ``ckt size`` run (``ckt.gen.sizing``: gain >= 40 dB, UGBW >= 1 MHz,
PM >= 45 degrees, closed-loop stable); the same number of the dataset's own op-amps (drawn with the
same seed from those the rules pass) go through the same flow, and their share is the ceiling.
With ``screen``, candidates on both sides are taken in order until ``yield_n`` of them export and
amplify at their default sizes (one simulation each); only those are sized, and ``screened`` says how many
candidates that took.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ckt.errors import DatasetError, ModelConfigError
from ckt.gen.assess import assess
from ckt.gen.generate import draw, existing, reference_circuits
from ckt.gen.iso import IsoIndex
from ckt.gen.tokens import GeneratedCircuit, encode

NGRAM = 10
"""Window length of the memorisation measure, in tokens (AnalogToBi reports 10-gram memorisation)."""

DEFAULT_CLASSIFIER = Path(__file__).resolve().parents[1] / "checkpoints" / "analoggenie_types"
"""The shipped type classifier used for type agreement when none is given."""


@dataclass(frozen=True)
class EvalRequest:
    """What ``evaluate_generator`` samples and measures (the ``ckt eval generator`` flags)."""

    checkpoint: Path | None = None
    types: tuple[str, ...] = ("Opamp",)
    n: int = 1000
    seed: int = 0
    temperature: float = 1.0
    top_k: int | None = None
    length: int | None = None
    dc: bool = True
    pdk: str = "ptm180"
    yield_n: int = 0
    budget: int = 40
    screen: bool = False
    classifier: Path | None = None
    out: Path | None = None
    workers: int = 2
    archive: str | None = None


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def ngrams(ids: Sequence[int], n: int = NGRAM) -> set[tuple[int, ...]]:
    """The distinct ``n``-token windows of a walk (its type token and ``<bos>``/``<eos>`` left out)."""
    walk = tuple(ids[2:-1])
    return {walk[i:i + n] for i in range(len(walk) - n + 1)} if len(walk) >= n else {walk}


def memorisation(samples: Sequence[Sequence[int]], reference: Sequence[Sequence[int]], n: int = NGRAM
                 ) -> dict[str, float]:
    """``{"copied", "mean_overlap", "n"}`` of canonical walks ``samples`` against ``reference`` (module
    docstring)."""
    seen: set[tuple[int, ...]] = set()
    for r in reference:
        seen |= ngrams(r, n)
    overlaps = []
    for s in samples:
        windows = ngrams(s, n)
        overlaps.append(len(windows & seen) / len(windows))
    count = max(len(overlaps), 1)
    return {"n": n, "copied": sum(o == 1.0 for o in overlaps) / count, "mean_overlap": sum(overlaps) / count}


def _share(flags: Sequence[bool | None]) -> float:
    return sum(bool(f) for f in flags) / max(len(flags), 1)


def evaluate_generator(req: EvalRequest, log: Callable[[str], None] = _say) -> dict[str, Any]:
    """The metrics of ``req`` (module docstring) as a JSON-ready dict.

    Raises:
        DatasetError: the AnalogGenie archive (the novelty and memorisation reference) is missing.
        CheckpointError, ModelConfigError: an unusable generator, classifier or option.
    """
    from ckt.gen.model import load_generator
    from ckt.gen.train import read_analoggenie
    from ckt.sim.executor import make_executor

    if req.n < 1:
        raise ModelConfigError(f"-n must be at least 1, got {req.n}")
    checkpoint = existing(req.checkpoint)
    _, vocab = load_generator(checkpoint)
    dataset = reference_circuits(read_analoggenie(req.archive))
    log(f"indexing {len(dataset)} dataset circuits for novelty")
    index = IsoIndex.of(dataset)
    classifier = req.classifier or (DEFAULT_CLASSIFIER if (DEFAULT_CLASSIFIER / "best.pt").is_file() else None)
    report: dict[str, Any] = {"checkpoint": str(checkpoint), "n_per_type": req.n, "seed": req.seed,
                              "temperature": req.temperature, "top_k": req.top_k, "dc_check": req.dc,
                              "pdk": req.pdk, "classifier": str(classifier) if classifier else None,
                              "novelty_reference": f"AnalogGenie, all {len(dataset)} circuits", "types": {}}
    generated_opamps: list[GeneratedCircuit] = []
    with make_executor("local", workers=req.workers) as executor:
        for ckt_type in req.types:
            start = time.perf_counter()
            circuits, ids = draw(checkpoint, ckt_type, req.n, req.seed, req.temperature, req.top_k, log, req.length)
            ckt_type = circuits[0].ckt_type
            seconds = time.perf_counter() - start
            verdicts = assess(circuits, index, dc=req.dc, pdk=req.pdk, executor=executor,
                              progress=_dc_progress(ckt_type, log))
            row: dict[str, Any] = {
                "n": len(circuits), "samples_per_s": len(circuits) / seconds,
                "rules_pass": _share([not v.violations for v in verdicts]),
                "valid": _share([v.valid for v in verdicts]),
                "unique": _share([v.unique for v in verdicts]), "novel": _share([v.novel for v in verdicts]),
                "valid_and_novel": _share([v.valid and v.novel for v in verdicts]),
                "valid_unique_novel": _share([v.valid and v.unique and v.novel for v in verdicts]),
                "mean_devices": sum(len(c.netlist.devices) for c in circuits) / len(circuits),
                "violations": _count(v.violations for v in verdicts),
            }
            if req.dc:
                row["dc_pass_of_rules_pass"] = _share([v.dc for v in verdicts if not v.violations])
            canonical = [encode(c.netlist, c.ckt_type, c.ports, vocab) for c in circuits]
            real = [d for d in dataset if d.ckt_type == ckt_type]
            same_type = [encode(d.netlist, d.ckt_type, d.ports, vocab) for d in real]
            row["dataset_mean_devices"] = sum(len(d.netlist.devices) for d in real) / max(len(real), 1)
            row["memorisation"] = memorisation(canonical, same_type)
            row["type_agreement"] = _agreement(circuits, classifier) if classifier else None
            report["types"][ckt_type] = row
            log(f"{ckt_type}: valid {row['valid']:.1%}, unique {row['unique']:.1%}, novel {row['novel']:.1%}")
            if ckt_type == "Opamp":
                generated_opamps = [c for c, v in zip(circuits, verdicts) if v.valid and v.unique and v.novel]
        if req.yield_n > 0:
            if not generated_opamps:
                raise ModelConfigError("functional yield needs Opamp among the types evaluated")
            report["functional_yield"] = _functional_yield(req, generated_opamps, dataset, executor, log)
    return report


def _dc_progress(ckt_type: str, log: Callable[[str], None]) -> Callable[[int, int], None]:
    return lambda done, total: log(f"{ckt_type}: DC operating points {done}/{total}")


def _count(lists: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for violations in lists:
        for rule in {v.split(":")[0] for v in violations}:
            counts[rule] = counts.get(rule, 0) + 1
    return counts


def _agreement(circuits: Sequence[GeneratedCircuit], classifier: Path) -> float:
    """Share of ``circuits`` the type classifier files under the type they were drawn as."""
    from ckt.learn import predict_circuits

    rows = predict_circuits([c.netlist for c in circuits], classifier)
    return _share([r.get("ckt_type") == c.ckt_type for r, c in zip(rows, circuits)])


def _functional_yield(req: EvalRequest, generated: Sequence[GeneratedCircuit], dataset: Sequence[GeneratedCircuit],
                      executor: Any, log: Callable[[str], None]) -> dict[str, Any]:
    from ckt.gen.rules import is_valid
    from ckt.gen.sizing import SCREENED_OUT, size_opamp

    if req.out is None:
        raise DatasetError("functional yield writes its sizing runs: give an output folder (--out)")
    real = [d for d in dataset if d.ckt_type == "Opamp" and is_valid(d.netlist, d.ckt_type, d.ports)]
    random.Random(req.seed).shuffle(real)
    result: dict[str, Any] = {"budget": req.budget, "targets": "gain_db >= 40, ugbw >= 1 MHz, pm_deg >= 45 (stable)"}
    result["screen"] = "amplifies at the default sizes" if req.screen else None
    for side, circuits in (("generated", list(generated)), ("dataset", real)):
        sized: list[dict[str, Any]] = []
        tried = 0
        for k, c in enumerate(circuits):
            if len(sized) == req.yield_n:
                break
            tried += 1
            screened = f" ({tried} screened)" if req.screen else ""
            log(f"functional yield, {side} {len(sized) + 1}/{req.yield_n}{screened}")
            run = size_opamp(c.netlist, c.ports, Path(req.out) / side, name=f"{side}_{k:03d}", budget=req.budget,
                             executor=executor, pdk=req.pdk, seed=req.seed, screen=req.screen).to_dict()
            if not run["reason"].startswith(SCREENED_OUT):
                sized.append(run)
        result[side] = {"n": len(sized), "feasible": sum(s["feasible"] for s in sized),
                        "exported": sum(not s["reason"].startswith("not exported") for s in sized),
                        "screened": tried if req.screen else None, "runs": sized}
    return result
