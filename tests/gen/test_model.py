"""The generator network: causal, cached steps equal the full pass, configs and checkpoints refuse
what does not fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ckt.errors import CheckpointError, ModelConfigError
from ckt.gen.model import (
    GeneratorConfig,
    GeneratorModel,
    load_generator,
    read_generator,
    save_generator,
)
from ckt.gen.vocab import Vocab
from ckt.nn.checkpoint import write_payload


def tiny(vocab: Vocab, **over: object) -> GeneratorModel:
    torch.manual_seed(0)
    config = {"vocab_size": len(vocab), "max_len": 48, "d_model": 32, "n_layers": 2, "n_heads": 4, "d_ff": 64,
              "dropout": 0.0, **over}
    return GeneratorModel(GeneratorConfig(**config)).eval()  # type: ignore[arg-type]


def test_logits_shape_and_tied_output() -> None:
    vocab = Vocab.default()
    model = tiny(vocab)
    ids = torch.randint(3, len(vocab), (2, 10))
    assert model(ids).shape == (2, 10, len(vocab))
    # the output layer is the token embedding: one [vocab, d_model] matrix in all
    assert sum(p.shape == (len(vocab), 32) for p in model.parameters()) == 1


def test_causal_a_later_token_does_not_change_earlier_logits() -> None:
    vocab = Vocab.default()
    model = tiny(vocab)
    ids = torch.randint(3, len(vocab), (1, 12))
    changed = ids.clone()
    changed[0, 8] = (ids[0, 8] + 1 - 3) % (len(vocab) - 3) + 3
    a, b = model(ids), model(changed)
    assert torch.allclose(a[:, :8], b[:, :8], atol=1e-6)
    assert not torch.allclose(a[:, 8:], b[:, 8:], atol=1e-6)


def test_cached_steps_equal_the_full_pass() -> None:
    vocab = Vocab.default()
    model = tiny(vocab)
    ids = torch.randint(3, len(vocab), (3, 15))
    full = model(ids)
    logits, cache = model.start(ids[:, :2])
    steps = [logits]
    for t in range(2, 15):
        logits, cache = model.step(ids[:, t], cache)
        steps.append(logits)
    assert torch.allclose(torch.stack(steps, 1), full[:, 1:], atol=1e-5)


def test_sequence_longer_than_max_len_is_refused() -> None:
    vocab = Vocab.default()
    model = tiny(vocab, max_len=8)
    with pytest.raises(ModelConfigError, match="max_len 8"):
        model(torch.ones(1, 9, dtype=torch.long))


@pytest.mark.parametrize("bad", [{"d_model": 30, "n_heads": 4}, {"n_layers": 0}, {"dropout": 1.0},
                                 {"max_len": -1}])
def test_impossible_configs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ModelConfigError):
        GeneratorConfig(**{"vocab_size": 10, **bad})  # type: ignore[arg-type]


def test_config_dict_round_trip_and_unknown_key() -> None:
    config = GeneratorConfig(vocab_size=100, max_len=64)
    assert GeneratorConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ModelConfigError, match="unknown keys"):
        GeneratorConfig.from_dict({**config.to_dict(), "width": 3})


def test_checkpoint_round_trip_keeps_weights_and_vocab(tmp_path: Path) -> None:
    vocab = Vocab.default()
    model = tiny(vocab)
    save_generator(tmp_path / "g.pt", model, vocab, {"epoch": 3})
    loaded, loaded_vocab = load_generator(tmp_path / "g.pt")
    assert loaded_vocab.tokens == vocab.tokens
    assert loaded.config == model.config
    ids = torch.randint(3, len(vocab), (2, 7))
    assert torch.equal(loaded(ids), model(ids))
    # plain tensors and builtins: loads with weights_only=True
    assert torch.load(tmp_path / "g.pt", weights_only=True)["training"] == {"epoch": 3}


def test_checkpoint_of_another_kind_or_version_is_refused(tmp_path: Path) -> None:
    vocab = Vocab.default()
    model = tiny(vocab)
    write_payload(tmp_path / "other.pt", {"format": "ckt.nn.checkpoint", "schema_version": 1})
    with pytest.raises(CheckpointError, match="format 'ckt.nn.checkpoint'"):
        read_generator(tmp_path / "other.pt")
    save_generator(tmp_path / "g.pt", model, vocab)
    payload = torch.load(tmp_path / "g.pt", weights_only=True)
    write_payload(tmp_path / "v2.pt", {**payload, "schema_version": 99})
    with pytest.raises(CheckpointError, match="schema version 99"):
        load_generator(tmp_path / "v2.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a ckt model checkpoint"):
        load_generator(tmp_path / "junk.pt")


def test_checkpoint_whose_weights_do_not_fit_its_config_is_refused(tmp_path: Path) -> None:
    vocab = Vocab.default()
    model = tiny(vocab)
    save_generator(tmp_path / "g.pt", model, vocab)
    payload = torch.load(tmp_path / "g.pt", weights_only=True)
    write_payload(tmp_path / "bad.pt", {**payload, "config": {**payload["config"], "d_ff": 128}})
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_generator(tmp_path / "bad.pt")
    write_payload(tmp_path / "vocab.pt", {**payload, "config": {**payload["config"], "vocab_size": 5}})
    with pytest.raises(CheckpointError, match="vocabulary of"):
        load_generator(tmp_path / "vocab.pt")
