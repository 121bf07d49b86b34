"""One AutoCkt table from several runs of ``autockt_sizing.py`` on the same targets.

A run of every method on 100 targets takes hours on two cores; when one method changes, only it
needs running again. This merges runs that share the targets, budget and seed (each method keeps
the label of the run it came from), keeps the targets every labelled method finished, and
reports the usual summary on them — a target counts as feasible when any method of any run met
it — plus, for each pair (first method, other), the targets both met and on how many the first
needed fewer simulations.

Usage::

    python experiments/autockt_combine.py RUN.json:LABEL[:METHODS] ... --first LABEL/METHOD \
        --name autockt_combined [--out experiments/results]

e.g. ``autockt_sizing_issue12.json:issue12:bo,cmaes,optuna,random autockt_sizing_climb.json:climb:turbo``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))

from autockt_sizing import markdown, plot, summarise  # noqa: E402


def load(specs: Sequence[str]) -> tuple[dict, list[dict], list[str]]:
    """Records of every ``PATH:LABEL[:METHODS]`` run, methods renamed ``LABEL/METHOD``."""
    config: dict | None = None
    records: list[dict] = []
    labels: list[str] = []
    for spec in specs:
        path, label, *rest = spec.split(":") + [""]
        if not label:
            raise SystemExit(f"{spec}: give each run as PATH:LABEL[:METHOD,...]")
        try:
            run = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"{path}: not a readable autockt_sizing.py result ({exc})") from None
        if not {"config", "records"} <= run.keys():
            raise SystemExit(f"{path}: not an autockt_sizing.py result (no config or records)")
        shared = {k: v for k, v in run["config"].items() if k in ("targets", "budget", "seed", "batch", "netlist")}
        if config is None:
            config = shared
        elif shared != config:
            raise SystemExit(f"{path}: another configuration ({shared} != {config}); runs cannot be combined")
        wanted = rest[0].split(",") if rest and rest[0] else run["config"]["methods"]
        for method in wanted:
            labels.append(f"{label}/{method}")
        records += [{**r, "method": f"{label}/{r['method']}"} for r in run["records"] if r["method"] in wanted]
    assert config is not None
    return config, records, labels


def head_to_head(records: list[dict], first: str, methods: list[str], targets: set[int]) -> dict:
    """For each other method: targets both met, and on how many ``first`` needed fewer simulations."""
    by = {(r["target_index"], r["method"]): r for r in records}
    out = {}
    for other in methods:
        if other == first:
            continue
        both = [t for t in targets if by[t, first]["success"] and by[t, other]["success"]]
        sims = [(by[t, first]["sims_to_feasible"], by[t, other]["sims_to_feasible"]) for t in both]
        out[other] = {"both_met": len(both), "first_fewer": sum(a < b for a, b in sims),
                      "ties": sum(a == b for a, b in sims),
                      "only_other_met": sum(not by[t, first]["success"] and by[t, other]["success"] for t in targets)}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="PATH:LABEL[:METHOD,...]")
    ap.add_argument("--first", required=True, help="the LABEL/METHOD the head-to-head compares against the others")
    ap.add_argument("--name", default="autockt_combined")
    ap.add_argument("--out", default=str(ROOT / "experiments" / "results"))
    args = ap.parse_args(argv)
    config, records, methods = load(args.runs)
    if args.first not in methods:
        raise SystemExit(f"--first {args.first}: not one of {', '.join(methods)}")
    done = {r["target_index"] for r in records}
    for m in methods:
        done &= {r["target_index"] for r in records if r["method"] == m}
    records = [r for r in records if r["target_index"] in done]
    summary = summarise(records, methods, config["budget"])
    feasible = {t for t in done if any(r["success"] for r in records if r["target_index"] == t)}
    duel = head_to_head(records, args.first, methods, feasible)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(
        {"config": config, "runs": args.runs, "targets_done": sorted(done), "summary": summary,
         "head_to_head": {"first": args.first, "others": duel}}, indent=1) + "\n")
    plot(records, methods, config["budget"], summary, out / f"{args.name}.png")
    print(markdown(summary, config["budget"]))
    for other, d in duel.items():
        print(f"{args.first} vs {other}: both met {d['both_met']}, fewer sims on {d['first_fewer']} "
              f"(ties {d['ties']}); only {other} met {d['only_other_met']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
