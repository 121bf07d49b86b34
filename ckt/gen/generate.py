"""``ckt generate``: draw circuits of one type from a trained generator, check them, write them out.

Each sample is drawn under the grammar (valid by construction), decoded to the IR, then judged
independently (``ckt.gen.assess``: rules, DC operating point, unique, novel against the dataset the
generator learnt from) and written as ``OUT/{type}_{k}.cir``: a ``.subckt`` over its ports, its
verdicts in the header comments. With ``size`` every valid, first-of-its-topology op-amp is also
exported and sized (``ckt.gen.sizing``) under ``OUT/sized/``. ``OUT/summary.json`` lists it all.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ckt.errors import CheckpointError, DatasetError, ModelConfigError
from ckt.gen.assess import Assessment, assess
from ckt.gen.iso import IsoIndex
from ckt.gen.tokens import GeneratedCircuit, decode
from ckt.netlist.ir import Netlist, Subckt
from ckt.netlist.write import write_spice

DEFAULT_GENERATOR = Path(__file__).resolve().parents[1] / "checkpoints" / "generator" / "best.pt"
"""The shipped generator ``ckt generate`` and ``ckt eval generator`` use by default."""


@dataclass(frozen=True)
class GenerateRequest:
    """What ``generate`` draws and what it does with the samples (the ``ckt generate`` flags)."""

    ckt_type: str
    n: int
    out: Path
    seed: int = 0
    checkpoint: Path | None = None
    temperature: float = 1.0
    top_k: int | None = None
    length: int | None = None
    """Every sample's length budget in tokens (None: drawn from the training circuits of the type)."""
    dc: bool = True
    size: bool = False
    screen: bool = False
    """With ``size``: size only op-amps that amplify at their default sizes (``ckt.gen.sizing``)."""
    pdk: str = "ptm180"
    budget: int = 40
    workers: int = 2
    archive: str | None = None
    """The AnalogGenie archive novelty is judged against (None: the reference-data copy)."""


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def existing(checkpoint: Path | None) -> Path:
    """``checkpoint`` (default: the shipped generator), which must be a file.

    Raises:
        CheckpointError: there is none, with the command that makes one.
    """
    path = Path(checkpoint) if checkpoint is not None else DEFAULT_GENERATOR
    if not path.is_file():
        raise CheckpointError(f"{path}: no generator checkpoint there; train one with "
                              "`ckt train generator --out DIR` and pass --checkpoint DIR/best.pt")
    return path


def resolve_type(name: str, types: Sequence[str]) -> str:
    """``name`` as one of the generator's types, case-insensitively (``opamp`` -> ``Opamp``).

    Raises:
        ModelConfigError: a type the generator was not trained on.
    """
    for t in types:
        if t.lower() == name.lower():
            return t
    raise ModelConfigError(f"the generator knows no circuit type {name!r}; it knows {', '.join(types)}")


def length_budgets(profile: Sequence[int], n: int, seed: int, length: int | None = None) -> list[int] | None:
    """The length budget of each of ``n`` samples: ``length`` for all when given, else drawn (seeded)
    from ``profile``, the training circuits' encoding lengths of the type; None when neither is there."""
    if length is not None:
        return [int(length)] * n
    if not profile:
        return None
    rng = random.Random(f"lengths/{seed}")
    return [rng.choice(profile) for _ in range(n)]


def draw(checkpoint: Path | None, ckt_type: str, n: int, seed: int, temperature: float = 1.0,
         top_k: int | None = None, log: Callable[[str], None] = _say,
         length: int | None = None) -> tuple[list[GeneratedCircuit], list[list[int]]]:
    """``n`` decoded samples of ``ckt_type`` (and their token ids) from the generator at ``checkpoint``,
    new devices and nets numbered by first appearance (``Grammar(canonical=True)``: the numbering the
    default generator learnt; for one trained with renaming it only renormalises over numbers).

    Each sample gets a length budget (``length_budgets``): ``length`` tokens, or a length drawn from
    the training circuits of the type, so samples come in the sizes the type has instead of growing
    until the model's ``max_len`` stops them; the grammar lets a sample hold only the device
    families the training circuits of its type hold, and tie only the pin sets they tie (a source
    on its bulk, a diode-connected gate...), when the checkpoint keeps them.

    Raises:
        CheckpointError: no usable generator there; ModelConfigError: an unknown type or bad option.
    """
    from ckt.gen.grammar import Grammar
    from ckt.gen.model import load_trained
    from ckt.gen.sample import sample

    trained = load_trained(existing(checkpoint))
    model, vocab = trained.model, trained.vocab
    ckt_type = resolve_type(ckt_type, vocab.types)
    grammar = Grammar(vocab, max_len=model.config.max_len, canonical=True, families=trained.families,
                      pin_sets=trained.pin_sets)
    profile = trained.lengths.get(ckt_type, [])
    budgets = length_budgets(profile, n, seed, length)
    if length is None:
        log(f"length budgets drawn from the {len(profile)} training {ckt_type} circuits (median "
            f"{profile[len(profile) // 2]} tokens)" if profile else
            f"the checkpoint keeps no training lengths: samples may run to max_len {model.config.max_len}")
    start = time.perf_counter()
    ids = sample(model, grammar, ckt_type, n, seed, temperature=temperature, top_k=top_k, lengths=budgets,
                 progress=lambda done, total: log(f"sampled {done}/{total} {ckt_type} circuits "
                                                  f"({time.perf_counter() - start:.0f} s)"))
    return [decode(s, vocab) for s in ids], ids


def reference_index(archive: str | None = None, log: Callable[[str], None] = _say) -> IsoIndex | None:
    """Every AnalogGenie circuit (ports as the rules define them), indexed for novelty; None (with a
    note) when the archive is not there, so generation still works on a bare install."""
    from ckt.gen.train import read_analoggenie

    try:
        circuits = read_analoggenie(archive)
    except DatasetError as exc:
        log(f"novelty not judged: {exc}")
        return None
    return IsoIndex.of(reference_circuits(circuits))


def reference_circuits(circuits: Sequence[Any]) -> list[GeneratedCircuit]:
    """Dataset circuits as the tokens see them: ports by the rules' definition, ground not listed."""
    from ckt.gen.rules import port_nets

    return [GeneratedCircuit(c.netlist, c.ckt_type, tuple(sorted(port_nets(c.netlist, c.ports) - {"0"})))
            for c in circuits]


def as_subckt(circuit: GeneratedCircuit, name: str, header: Sequence[str] = ()) -> str:
    """The circuit as SPICE text: a ``.subckt NAME ports`` of its (unsized) devices."""
    sub = Subckt(name, tuple(circuit.ports), devices=circuit.netlist.devices)
    title = f"{name}: generated {circuit.ckt_type}" + "".join(f"\n* {line}" for line in header)
    return write_spice(Netlist(title=title, subckts=(sub,)))


def generate(req: GenerateRequest, log: Callable[[str], None] = _say) -> dict[str, Any]:
    """Draw, judge and write ``req.n`` circuits (module docstring); return the summary it writes.

    Raises:
        CheckpointError, ModelConfigError: an unusable generator or option.
    """
    from ckt.gen.sizing import SCREENED_OUT, size_opamp
    from ckt.sim.executor import make_executor

    if req.n < 1:
        raise ModelConfigError(f"-n must be at least 1, got {req.n}")
    circuits, _ = draw(req.checkpoint, req.ckt_type, req.n, req.seed, req.temperature, req.top_k, log, req.length)
    ckt_type = circuits[0].ckt_type
    reference = reference_index(req.archive, log)
    out = Path(req.out)
    out.mkdir(parents=True, exist_ok=True)
    with make_executor("local", workers=req.workers) as executor:
        verdicts = assess(circuits, reference or IsoIndex({}), dc=req.dc, pdk=req.pdk, executor=executor,
                          progress=lambda done, total: log(f"DC operating points {done}/{total}"))
        rows: list[dict[str, Any]] = []
        for k, (c, v) in enumerate(zip(circuits, verdicts)):
            name = f"{ckt_type.lower()}_{k:04d}"
            row = _row(name, c, v, reference is not None)
            (out / f"{name}.cir").write_text(as_subckt(c, name, _header(row)))
            if req.size and ckt_type == "Opamp" and v.valid and v.unique:
                log(f"sizing {name} ({req.budget} simulations)")
                row["sized"] = size_opamp(c.netlist, c.ports, out / "sized", name=name, budget=req.budget,
                                          executor=executor, pdk=req.pdk, seed=req.seed, screen=req.screen).to_dict()
            rows.append(row)
    totals = {"n": len(rows), "valid": sum(r["valid"] for r in rows), "unique": sum(r["unique"] for r in rows),
              "novel": sum(bool(r["novel"]) for r in rows),
              "valid_and_novel": sum(bool(r["valid"] and r["novel"]) for r in rows)}
    if req.size:
        totals["sized"] = sum("sized" in r for r in rows)
        totals["feasible"] = sum(bool(r.get("sized", {}).get("feasible")) for r in rows)
        if req.screen:
            totals["screened_out"] = sum(r.get("sized", {}).get("reason", "").startswith(SCREENED_OUT) for r in rows)
    summary = {"ckt_type": ckt_type, "checkpoint": str(req.checkpoint or DEFAULT_GENERATOR),
               "request": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(req).items()},
               "novelty_reference": "AnalogGenie (every circuit)" if reference is not None else None,
               "totals": totals, "circuits": rows}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _row(name: str, c: GeneratedCircuit, v: Assessment, judged_novelty: bool) -> dict[str, Any]:
    return {"file": f"{name}.cir", "devices": len(c.netlist.devices), "ports": list(c.ports), "valid": v.valid,
            "violations": list(v.violations), "dc": v.dc, "unique": v.unique,
            "novel": v.novel if judged_novelty else None}


def _header(row: dict[str, Any]) -> list[str]:
    novel = {True: "novel", False: "in the dataset", None: "novelty not judged"}[row["novel"]]
    lines = [f"{row['devices']} devices; {'valid' if row['valid'] else 'INVALID'}; "
             f"{'unique' if row['unique'] else 'repeats an earlier sample'}; {novel}"]
    lines += [f"violates {v}" for v in row["violations"]]
    if row["dc"] is False:
        lines.append("no DC operating point at mid-range sizes")
    return lines
