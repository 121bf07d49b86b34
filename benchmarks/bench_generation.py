"""Generation speed: circuits per second from the shipped generator under the grammar, on this CPU.

    python benchmarks/bench_generation.py [--checkpoint PATH] [--type Opamp] [-n 200] [--repeats 3]

Times ``ckt.gen.sample.sample`` (the network with its key/value cache plus the grammar's mask at
every step) over ``-n`` sequences with length budgets drawn as ``ckt generate`` draws them, ``--repeats`` times with different seeds, and separately the
grammar alone replaying the same sequences (``push`` + ``allowed`` per token), so the share of the
time the grammar costs is known. Reports the median circuits/s, tokens/s and microseconds per
grammar step; writes ``benchmarks/results/generation.json`` (or ``--out``). On a shared machine
rerun when the load average is low.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from ckt.gen.generate import DEFAULT_GENERATOR, length_budgets
from ckt.gen.grammar import Grammar
from ckt.gen.model import load_trained
from ckt.gen.sample import sample

ROOT = Path(__file__).resolve().parents[1]


def replay(grammar: Grammar, ckt_type: str, seqs: list[list[int]], budgets: list[int] | None) -> float:
    """Seconds the grammar alone spends rebuilding ``seqs`` (mask + push per token) under their budgets."""
    t0 = time.perf_counter()
    for k, ids in enumerate(seqs):
        state = grammar.start(ckt_type, max_len=None if budgets is None else budgets[k])
        for t in ids[2:]:
            state.allowed()
            state.push(t)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_GENERATOR)
    parser.add_argument("--type", dest="ckt_type", default="Opamp")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "generation.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    trained = load_trained(args.checkpoint)
    model, vocab = trained.model, trained.vocab
    grammar = Grammar(vocab, max_len=model.config.max_len, canonical=True,
                      families=trained.families,
                      pin_sets=trained.pin_sets)  # as ckt generate builds it
    profile = trained.lengths.get(args.ckt_type, [])
    sample(model, grammar, args.ckt_type, 8, seed=99, lengths=length_budgets(profile, 8, 99))  # warm up
    rates, token_rates, step_us, lengths = [], [], [], []
    for r in range(args.repeats):
        budgets = length_budgets(profile, args.n, r)  # as ckt generate draws them
        t0 = time.perf_counter()
        seqs = sample(model, grammar, args.ckt_type, args.n, seed=r, lengths=budgets)
        seconds = time.perf_counter() - t0
        tokens = sum(len(s) for s in seqs)
        rates.append(args.n / seconds)
        token_rates.append(tokens / seconds)
        step_us.append(1e6 * replay(grammar, args.ckt_type, seqs, budgets) / sum(len(s) - 2 for s in seqs))
        lengths += [len(s) for s in seqs]
    result = {
        "checkpoint": str(args.checkpoint), "ckt_type": args.ckt_type, "n": args.n, "repeats": args.repeats,
        "threads": args.threads, "circuits_per_s": statistics.median(rates), "circuits_per_s_all": rates,
        "tokens_per_s": statistics.median(token_rates), "grammar_us_per_step": statistics.median(step_us),
        "mean_length": statistics.fmean(lengths),
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()[0], "python": platform.python_version(),
                    "torch": torch.__version__},
    }
    print(f"{result['circuits_per_s']:.1f} {args.ckt_type} circuits/s ({result['tokens_per_s']:.0f} tokens/s, "
          f"mean length {result['mean_length']:.0f}); grammar {result['grammar_us_per_step']:.0f} µs/step")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
