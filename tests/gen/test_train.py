"""Generator training: the loss falls, a resumed run ends where an uninterrupted one does, a
checkpoint of another network or other options is refused, the split keeps circuit groups whole,
and every circuit left out is counted with its reason."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ckt.errors import CheckpointError, DatasetError, ModelConfigError
from ckt.gen.model import load_generator, load_trained, read_generator
from ckt.gen.tokens import encode
from ckt.gen.train import (
    GeneratorTrainRequest,
    batches,
    build_corpus,
    default_max_len,
    epoch_sequences,
    family_profile,
    length_profile,
    pin_set_profile,
    train_generator,
)
from ckt.gen.vocab import Vocab
from ckt.netlist.parse_spectre import parse_spectre
from tests.gen.small_circuits import all_circuits, circuit

TINY = GeneratorTrainRequest(d_model=32, n_layers=2, n_heads=2, d_ff=64, dropout=0.1, batch_size=2, lr=1e-2,
                             warmup=2, epochs=6, patience=0, progress=False, log_every=0,
                             fractions=(0.6, 0.2, 0.2))


def test_loss_falls_and_checkpoints_are_written(tmp_path: Path) -> None:
    lines: list[str] = []
    result = train_generator(replace(TINY, out=str(tmp_path), progress=True), all_circuits(), log=lines.append)
    history = result.history
    assert len(history) == TINY.epochs
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert result.best_val_loss == min(row["val_loss"] for row in history)
    assert any(line.startswith("epoch 6/6") for line in lines)
    for name in ("last.pt", "best.pt", "history.json", "split.json"):
        assert (tmp_path / name).is_file()
    assert len(json.loads((tmp_path / "history.json").read_text())) == TINY.epochs
    split = json.loads((tmp_path / "split.json").read_text())
    assert sorted(split["train"] + split["val"] + split["test"]) == sorted(c.id for c in all_circuits())
    # best.pt holds the selected model: the same weights train_generator returned
    best, vocab = load_generator(tmp_path / "best.pt")
    assert vocab.tokens == result.vocab.tokens
    for key, value in result.model.state_dict().items():
        assert torch.equal(best.state_dict()[key], value.cpu())
    # ... and the training circuits' encoding lengths per type, which the sampler draws budgets from
    best_profiles, last_profiles = load_trained(tmp_path / "best.pt"), load_trained(tmp_path / "last.pt")
    assert best_profiles.lengths == length_profile(result.corpus.train, vocab)
    assert last_profiles.lengths == {}
    # ... and the device families each type's training circuits use, which the sampler's grammar allows
    families = best_profiles.families
    assert families == family_profile(result.corpus.train, vocab)
    for c in result.corpus.train:
        held = {vocab.device(i)[0] for i in encode(c.netlist, c.ckt_type, c.ports, vocab) if vocab.kind(i) == "device"}
        assert held <= set(families[c.ckt_type])
    assert last_profiles.families == {}
    # ... and the pin sets they put on one net (a source on its bulk...), the only ties the sampler allows
    pin_sets = best_profiles.pin_sets
    assert {t: [[f, list(p)] for f, p in v] for t, v in pin_sets.items()} == pin_set_profile(result.corpus.train, vocab)
    assert ("NM", ("s", "b")) in pin_sets["Opamp"]
    assert all(len(pins) >= 2 for sets in pin_sets.values() for _, pins in sets)
    assert last_profiles.pin_sets == {}


def test_progress_line_every_n_batches() -> None:
    lines: list[str] = []
    train_generator(replace(TINY, epochs=1, batch_size=1, log_every=2, progress=True), all_circuits(),
                    log=lines.append)
    assert any(line.strip().startswith("epoch 1 batch 2/") for line in lines)


def test_resume_continues_exactly(tmp_path: Path) -> None:
    whole = train_generator(replace(TINY, out=str(tmp_path / "a"), epochs=4), all_circuits())
    train_generator(replace(TINY, out=str(tmp_path / "b"), epochs=2), all_circuits())
    lines: list[str] = []
    resumed = train_generator(replace(TINY, out=str(tmp_path / "b"), epochs=4, resume=True, progress=True),
                              all_circuits(), log=lines.append)
    assert any("resumed from" in line for line in lines)
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in whole.history]
    a = read_generator(tmp_path / "a" / "last.pt")["state_dict"]
    b = read_generator(tmp_path / "b" / "last.pt")["state_dict"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_another_network_or_other_options(tmp_path: Path) -> None:
    default = Vocab.default()
    train_generator(replace(TINY, out=str(tmp_path), epochs=1), all_circuits())
    with pytest.raises(CheckpointError, match="another generator.*d_model"):
        train_generator(replace(TINY, out=str(tmp_path), epochs=2, resume=True, d_model=16), all_circuits())
    with pytest.raises(CheckpointError, match="training options differ.*lr"):
        train_generator(replace(TINY, out=str(tmp_path), epochs=2, resume=True, lr=1e-3), all_circuits())
    with pytest.raises(CheckpointError, match="another vocabulary"):
        train_generator(replace(TINY, out=str(tmp_path), epochs=2, resume=True), all_circuits(),
                        vocab=Vocab(default.types, default.families, tuple(reversed(default.ports))))


def test_early_stop_follows_validation_patience() -> None:
    lines: list[str] = []
    result = train_generator(replace(TINY, epochs=40, patience=1, lr=0.05, warmup=0, progress=True),
                             all_circuits(), log=lines.append)
    assert len(result.history) < 40
    assert any(line.startswith("early stop") for line in lines)
    assert result.best_epoch == min(result.history, key=lambda r: r["val_loss"])["epoch"]


def test_split_keeps_source_groups_whole_and_counts_what_it_leaves_out() -> None:
    vocab = Vocab.default()
    same_source = [replace(circuit("ota5", source_key="book p.1"), id="ota5_src"),
                   replace(circuit("miller", source_key="book p.1"), id="miller_src")]
    bad_family = replace(circuit("ota5"), id="with_source",
                         netlist=parse_spectre("V0 (VDD VSS) vsource\nMM1 (VOUT1 VIN1 VSS VSS) nmos4\n"))
    floating = replace(circuit("mirror"), id="floating",
                       netlist=parse_spectre("MM1 (IIN1 IIN1 VSS VSS) nmos4\nMM2 (IOUT1 net9 VSS VSS) nmos4\n"))
    # one group: the two "book p.1" circuits by source, and each with its same-topology copy
    group = {"ota5", "ota5_src", "miller_src", "miller"}
    for seed in range(5):
        corpus = build_corpus([*all_circuits(), *same_source, bad_family, floating], vocab,
                              fractions=(0.5, 0.25, 0.25), split_seed=seed)
        sides = [name for name, part in corpus.ids().items() if group & set(part)]
        assert len(sides) == 1 and group <= set(corpus.ids()[sides[0]])
    reasons = dict(corpus.skipped)
    assert set(reasons) == {"with_source", "floating"}
    assert reasons["with_source"].startswith("TokenizeError")
    assert reasons["floating"].startswith("rules:")
    kept = {c.id for c in (*corpus.train, *corpus.val, *corpus.test)}
    assert kept.isdisjoint(reasons)
    unchecked = build_corpus([*all_circuits(), floating], vocab, check_rules=False)
    assert "floating" in {c.id for c in (*unchecked.train, *unchecked.val, *unchecked.test)}


def test_types_filter_and_empty_corpus() -> None:
    vocab = Vocab.default()
    corpus = build_corpus(all_circuits(), vocab, types=("Opamp",), fractions=(0.6, 0.2, 0.2))
    assert {c.ckt_type for c in (*corpus.train, *corpus.val, *corpus.test)} == {"Opamp"}
    with pytest.raises(DatasetError, match="none of"):
        build_corpus(all_circuits(), vocab, types=("PLL",))


def test_epoch_walks_are_fresh_per_epoch_and_repeat_per_seed() -> None:
    vocab = Vocab.default()
    circuits = all_circuits()
    max_len = default_max_len(200)
    one, _ = epoch_sequences(circuits, vocab, "0/train/1", max_len)
    again, _ = epoch_sequences(circuits, vocab, "0/train/1", max_len)
    other, _ = epoch_sequences(circuits, vocab, "0/train/2", max_len)
    assert one == again
    assert one != other
    too_short, missed = epoch_sequences(circuits, vocab, "0/train/1", 8)
    assert too_short == [] and missed == len(circuits)


def test_batches_cover_every_sequence_once() -> None:
    lengths = [random.Random(1).randint(5, 50) for _ in range(37)]
    plan = batches(lengths, 4, random.Random(0))
    assert sorted(i for b in plan for i in b) == list(range(37))
    assert all(1 <= len(b) <= 4 for b in plan)
    assert plan == batches(lengths, 4, random.Random(0))


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ModelConfigError, match="resume needs out"):
        GeneratorTrainRequest(resume=True)
    with pytest.raises(ModelConfigError, match="epochs"):
        GeneratorTrainRequest(epochs=0)
    with pytest.raises(DatasetError, match="validation split"):
        train_generator(replace(TINY, fractions=(0.8, 0.2)), all_circuits())
    with pytest.raises(ModelConfigError, match="shorter than the longest"):
        train_generator(replace(TINY, max_len=10), all_circuits())


def test_walks_carry_the_grammar_state_the_model_reads() -> None:
    from ckt.gen.grammar import Grammar

    vocab = Vocab.default()
    grammar = Grammar(vocab, max_len=256)
    walks, _ = epoch_sequences(all_circuits(), vocab, "0/train/1", 256, grammar)
    for ids, codes in walks:
        assert codes is not None and len(codes) == len(ids)
        assert codes[-1] == 0 and codes[-2] == 0  # complete before <eos>, and after it
        assert max(codes) > 0  # open obligations on the way
    plain, _ = epoch_sequences(all_circuits(), vocab, "0/train/1", 256)
    assert [ids for ids, _ in plain] == [ids for ids, _ in walks] and all(c is None for _, c in plain)


def test_a_state_embedding_changes_the_prediction_and_is_checked() -> None:
    import torch

    from ckt.errors import ModelConfigError
    from ckt.gen.model import GeneratorConfig, GeneratorModel

    torch.manual_seed(0)
    m = GeneratorModel(GeneratorConfig(vocab_size=20, max_len=16, d_model=16, n_layers=1, n_heads=2, d_ff=32,
                                       dropout=0.0, state_codes=16))
    ids = torch.tensor([[1, 3, 5, 7]])
    a = m(ids, torch.tensor([[2, 2, 1, 1]]))
    b = m(ids, torch.tensor([[2, 2, 1, 0]]))
    assert torch.equal(a[:, :3], b[:, :3]) and not torch.allclose(a[:, 3], b[:, 3])  # causal, and read
    with pytest.raises(ModelConfigError, match="reads grammar-state codes"):
        m(ids)
    with pytest.raises(ModelConfigError, match="state_codes must be 0 or at least 16"):
        GeneratorTrainRequest(state_codes=4)
