"""Drawing circuits from the generator, one grammar state per row, so that every sequence is valid.

At every step each unfinished row's logits are masked with its ``GrammarState.allowed()``: tokens
the grammar forbids get probability zero, so a finished row is a circuit the grammar vouches for
(``ckt.gen.grammar``: it passes ``ckt.gen.rules.check_circuit``). There is no unconstrained
fallback: a row whose mask allows nothing, or that runs past the model's length, is a grammar bug
and raises ``GrammarError``. Rows run batched through the model's key/value cache; a finished row
is fed ``<pad>`` until the whole batch is done (its outputs are ignored).

Each row may carry its own length budget (``lengths``): the grammar's length reserve then closes
it within that budget, so a sampler can ask for circuits of the sizes a type really has.

Draws come from one ``torch.Generator`` seeded per batch from ``seed``, so the same model, grammar,
type, ``n``, seed and batch size give the same sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ckt.errors import GrammarError, ModelConfigError
from ckt.gen.grammar import STATE_CODES, Grammar
from ckt.gen.model import GeneratorModel


def _check(model: GeneratorModel, grammar: Grammar, n: int, temperature: float, top_k: int | None,
           batch_size: int) -> None:
    if n < 0 or batch_size < 1:
        raise ModelConfigError(f"sampling needs n >= 0 and batch_size >= 1 (got n={n}, batch_size={batch_size})")
    if not temperature > 0:
        raise ModelConfigError(f"sampling temperature must be positive, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ModelConfigError(f"top_k must be at least 1 (or None for all tokens), got {top_k}")
    if len(grammar.vocab) != model.config.vocab_size:
        raise ModelConfigError(f"the grammar's vocabulary has {len(grammar.vocab)} tokens, the model's "
                               f"{model.config.vocab_size}: sample with the vocabulary the model was trained on")
    if 0 < model.config.state_codes < STATE_CODES:
        raise ModelConfigError(f"the model's state embedding has {model.config.state_codes} codes, the grammar "
                               f"gives {STATE_CODES}")
    if grammar.max_len > model.config.max_len:
        raise ModelConfigError(f"the grammar allows sequences of {grammar.max_len} tokens, the model's "
                               f"positions stop at {model.config.max_len}: build the grammar with "
                               f"max_len={model.config.max_len}")


def _draw(logits: Tensor, allowed: Tensor, temperature: float, top_k: int | None,
          generator: torch.Generator) -> Tensor:
    """One token per row from ``logits [B, V]`` restricted to ``allowed [B, V]``."""
    scores = (logits / temperature).masked_fill(~allowed, float("-inf"))
    if top_k is not None and top_k < scores.size(1):
        kth = scores.topk(top_k, dim=1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    return torch.multinomial(torch.softmax(scores, dim=1), 1, generator=generator).squeeze(1)


@torch.no_grad()
def _batch(model: GeneratorModel, grammar: Grammar, ckt_type: str, budgets: Sequence[int | None],
           temperature: float, top_k: int | None, generator: torch.Generator) -> list[list[int]]:
    pad = grammar.vocab.pad
    rows = len(budgets)
    states = [grammar.start(ckt_type, max_len=b) for b in budgets]
    device = next(model.parameters()).device
    prompt = torch.tensor([list(s.tokens) for s in states], dtype=torch.long, device=device)
    reads_codes = model.config.state_codes > 0
    logits, cache = model.start(prompt, torch.tensor([[s.code] * prompt.size(1) for s in states], device=device)
                                if reads_codes else None)
    length = prompt.size(1)
    while True:
        allowed = torch.zeros(rows, model.config.vocab_size, dtype=torch.bool)
        for i, s in enumerate(states):
            if s.finished:
                allowed[i, pad] = True
                continue
            mask = s.allowed()
            if not bool(mask.any()):
                raise GrammarError(f"no token is allowed after {len(s.tokens)} tokens of a {ckt_type} sequence",
                                   position=len(s.tokens))
            allowed[i] = mask
        chosen = _draw(logits.float().cpu(), allowed, temperature, top_k, generator)
        for i, s in enumerate(states):
            if not s.finished:
                s.push(int(chosen[i]))
        length += 1
        if all(s.finished for s in states):
            break
        if length >= model.config.max_len:
            raise GrammarError(f"a {ckt_type} sequence reached the model's max_len {model.config.max_len} "
                               "unfinished: the grammar's length reservation failed", position=length)
        codes = torch.tensor([s.code for s in states], device=device) if reads_codes else None
        logits, cache = model.step(chosen.to(device), cache, codes)
    return [list(s.tokens) for s in states]


def sample(model: GeneratorModel, grammar: Grammar, ckt_type: str, n: int, seed: int,
           temperature: float = 1.0, top_k: int | None = None, batch_size: int = 64,
           progress: Callable[[int, int], None] | None = None,
           lengths: Sequence[int] | None = None) -> list[list[int]]:
    """``n`` token sequences of type ``ckt_type``, each ``<bos> <type> ... <eos>`` and grammar-valid.

    Args:
        model: the generator (left in the mode it came in; runs in eval mode here).
        grammar: builds one state per row; its ``max_len`` must fit the model's positions.
        ckt_type: the circuit class to condition on.
        n: how many sequences.
        seed: seeds the draws (with ``batch_size``, fixes the result).
        temperature: divides the logits (below 1: sharper, above 1: more varied).
        top_k: draw only among the ``top_k`` most likely allowed tokens (None: all allowed tokens).
        batch_size: rows run together.
        progress: called with (sequences done, n) after each batch.
        lengths: each sequence's length budget (``n`` of them, ``<bos>`` to ``<eos>``); the grammar
            closes a sequence within its budget. None: the grammar's ``max_len`` for all.

    Raises:
        ModelConfigError: a bad argument, or a grammar that does not fit the model.
        GrammarError: the grammar left a row with no allowed token or ran past its length (a bug).
    """
    _check(model, grammar, n, temperature, top_k, batch_size)
    budgets: list[int | None] = [None] * n if lengths is None else [int(b) for b in lengths]
    if len(budgets) != n:
        raise ModelConfigError(f"sampling {n} sequences needs {n} length budgets, got {len(budgets)}")
    shortest = grammar.shortest(ckt_type) if lengths is not None else 0
    bad = [b for b in budgets if b is not None and not shortest <= b <= grammar.max_len]
    if bad:
        raise ModelConfigError(f"a length budget of {bad[0]} tokens is outside [{shortest}, {grammar.max_len}] "
                               f"(the shortest {ckt_type} circuit to the model's max_len)")
    was_training = model.training
    model.eval()
    out: list[list[int]] = []
    try:
        for b, start in enumerate(range(0, n, batch_size)):
            generator = torch.Generator().manual_seed(seed * 1_000_003 + b)
            out += _batch(model, grammar, ckt_type, budgets[start:start + batch_size], temperature, top_k,
                          generator)
            if progress is not None:
                progress(len(out), n)
    finally:
        model.train(was_training)
    return out
