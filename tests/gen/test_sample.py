"""Sampling: only allowed tokens are drawn, every finished sequence decodes to a circuit that passes
the rules, a seed repeats its draws, and arguments that cannot work are refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from ckt.errors import ModelConfigError
from ckt.gen.grammar import Grammar
from ckt.gen.model import GeneratorConfig, GeneratorModel
from ckt.gen.rules import check_circuit
from ckt.gen.sample import _draw, sample
from ckt.gen.tokens import decode
from ckt.gen.train import TrainResult, train_generator
from ckt.gen.vocab import Vocab
from tests.gen.small_circuits import all_circuits
from tests.gen.test_train import TINY

MAX_LEN = 160


def tiny_model(vocab: Vocab, max_len: int = MAX_LEN) -> GeneratorModel:
    torch.manual_seed(0)
    return GeneratorModel(GeneratorConfig(vocab_size=len(vocab), max_len=max_len, d_model=32, n_layers=2,
                                          n_heads=2, d_ff=64, dropout=0.0))


@pytest.fixture(scope="module")
def trained() -> TrainResult:
    """A tiny generator trained for a few steps on our small circuits (what CI can afford)."""
    return train_generator(replace(TINY, epochs=8), all_circuits())


def test_draw_never_picks_a_masked_token() -> None:
    logits = torch.zeros(4, 10)
    logits[:, 3] = 50.0  # the model's favourite is forbidden
    allowed = torch.zeros(4, 10, dtype=torch.bool)
    allowed[:, [1, 7]] = True
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        assert set(_draw(logits, allowed, 1.0, None, g).tolist()) <= {1, 7}
    logits[:, 7] = 5.0
    assert set(_draw(logits, allowed, 1.0, 1, g).tolist()) == {7}  # top_k=1 among the allowed ones


@pytest.mark.parametrize(("ckt_type", "n"), [("Opamp", 5), ("Mirror", 3)])
def test_every_sample_decodes_and_passes_the_rules(trained: TrainResult, ckt_type: str, n: int) -> None:
    vocab = trained.vocab
    grammar = Grammar(vocab, max_len=trained.model.config.max_len)
    seen: list[tuple[int, int]] = []
    seqs = sample(trained.model, grammar, ckt_type, n=n, seed=1, batch_size=2,
                  progress=lambda done, total: seen.append((done, total)))
    assert len(seqs) == n
    assert seen == [(min(k + 2, n), n) for k in range(0, n, 2)]
    for ids in seqs:
        assert ids[:2] == [vocab.bos, vocab.type_token(ckt_type)] and ids[-1] == vocab.eos
        assert len(ids) <= grammar.max_len
        assert grammar.accepts(ids)
        circuit = decode(ids, vocab)
        assert circuit.ckt_type == ckt_type
        assert check_circuit(circuit.netlist, circuit.ckt_type, circuit.ports) == ()


def test_a_seed_repeats_and_another_differs(trained: TrainResult) -> None:
    grammar = Grammar(trained.vocab, max_len=trained.model.config.max_len)
    a = sample(trained.model, grammar, "Opamp", n=2, seed=5, top_k=20, temperature=0.8)
    assert a == sample(trained.model, grammar, "Opamp", n=2, seed=5, top_k=20, temperature=0.8)
    assert a != sample(trained.model, grammar, "Opamp", n=2, seed=6, top_k=20, temperature=0.8)


def test_training_mode_is_restored() -> None:
    vocab = Vocab.default()
    model = tiny_model(vocab, max_len=40).train()
    sample(model, Grammar(vocab, max_len=40), "Mirror", n=1, seed=0)
    assert model.training


def test_bad_arguments_are_refused() -> None:
    vocab = Vocab.default()
    model = tiny_model(vocab)
    with pytest.raises(ModelConfigError, match="positions stop at"):
        sample(model, Grammar(vocab, max_len=MAX_LEN + 1), "Opamp", n=1, seed=0)
    grammar = Grammar(vocab, max_len=MAX_LEN)
    with pytest.raises(ModelConfigError, match="temperature"):
        sample(model, grammar, "Opamp", n=1, seed=0, temperature=0.0)
    with pytest.raises(ModelConfigError, match="top_k"):
        sample(model, grammar, "Opamp", n=1, seed=0, top_k=0)
    other = tiny_model(Vocab.default(max_index=39))
    with pytest.raises(ModelConfigError, match="vocabulary"):
        sample(other, grammar, "Opamp", n=1, seed=0)


def test_length_budgets_bound_each_row_and_are_checked(trained: TrainResult) -> None:
    grammar = Grammar(trained.vocab, max_len=trained.model.config.max_len)
    shortest = grammar.shortest("Opamp")
    budgets = [shortest, shortest + 10, 60]
    seqs = sample(trained.model, grammar, "Opamp", n=3, seed=2, batch_size=2, lengths=budgets)
    for ids, budget in zip(seqs, budgets):
        assert len(ids) <= budget and grammar.accepts(ids)
    with pytest.raises(ModelConfigError, match="needs 3 length budgets, got 2"):
        sample(trained.model, grammar, "Opamp", n=3, seed=2, lengths=budgets[:2])
    with pytest.raises(ModelConfigError, match=f"outside \\[{shortest}, {grammar.max_len}\\]"):
        sample(trained.model, grammar, "Opamp", n=1, seed=2, lengths=[shortest - 1])
