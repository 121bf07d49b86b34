"""The generator grammar: it masks every rule of ``ckt.gen.rules``, never dead-ends, and accepts the data.

Hand-written sequences check each rule at the token that breaks it; random masked walks (uniform over
the allowed tokens, tight and loose ``max_len``) must always reach ``<eos>`` and decode to a circuit the
independent rule check passes; the reserved length must be a cost some token always lowers; and every
AnalogGenie encoding (canonical and random) must be accepted exactly when its decoded circuit passes
the rules — so the grammar neither rejects a real circuit nor lets an invalid one through.
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
import torch

from ckt.errors import GrammarError, ModelConfigError, TokenizeError
from ckt.gen.grammar import _DELTA, INF, Grammar
from ckt.gen.rules import check_circuit
from ckt.gen.tokens import decode, encode, ties
from ckt.gen.vocab import Vocab
from tests.conftest import shared


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return Vocab.default()


@pytest.fixture(scope="module")
def grammar(vocab: Vocab) -> Grammar:
    return Grammar(vocab, max_len=256)


def ids(vocab: Vocab, ckt_type: str, text: str) -> list[int]:
    return [vocab.bos, vocab.type_token(ckt_type), *(vocab.id(t) for t in text.split())]


OPAMP = ("VIN1 <pins:g> NM1 <pins:d> VOUT1 <pins:p> R1 <pins:n> VDD <pins:n> R1 <pins:p> VOUT1 <pins:d> NM1 "
         "<pins:s+b> VSS <eos>")


def rejected_at(grammar: Grammar, seq: list[int]) -> tuple[int | None, str]:
    with pytest.raises(GrammarError) as info:
        grammar.check(seq)
    return info.value.position, info.value.message


def test_a_small_opamp_is_accepted_and_decodes_valid(grammar: Grammar, vocab: Vocab) -> None:
    seq = ids(vocab, "Opamp", OPAMP)
    grammar.check(seq + [vocab.pad] * 3)
    circuit = decode(seq, vocab)
    assert check_circuit(circuit.netlist, circuit.ckt_type, circuit.ports) == ()


@pytest.mark.parametrize(("ckt_type", "text", "bad", "why"), [
    ("Opamp", "VIN1 <pins:d+g+s>", 3, "fits no device"),                  # ds-short is one edge
    ("Opamp", "VIN1 <pins:p+n>", 3, "fits no device"),                    # one-net: R, C, L, D
    ("Opamp", "VIN1 <pins:c+b+e>", 3, "fits no device"),                  # one-net: BJT (sub left out)
    ("Opamp", "VIN1 <pins:g> R1", 4, "has no pins"),                      # family must hold the pins
    ("Opamp", "VIN1 <pins:g> NM1 <pins:g+s>", 5, "already on a net"),     # a pin on one net only
    ("Opamp", "VIN1 <pins:g> NM1 <pins:d> VOUT1 <pins:g> NM1", 8, "already sits on"),
    ("Opamp", "VIN1 <pins:g> NM1 <pins:d> VOUT1 <pins:d> NM1 <pins:s> VOUT1", 10, "already sits on"),
    ("Opamp", "VIN1 <pins:g> NM1 <pins:d> VOUT1 <pins:d> NM1 <pins:d> VDD", 10, "its edge to VOUT1"),
    ("Opamp", "VIN1 <pins:g> NM1 <eos>", 5, "NM1 has pins d+s+b on no net"),
    ("Opamp", "VIN1 <pins:g> <pins:d>", 4, "where a device must come"),
    ("Opamp", "<pins:g>", 2, "where a net must come"),
    ("Opamp", "VSS <pins:p> R1 <pins:n> VDD <eos>", 7, "ports are not all there"),
    ("LDO", "VDD <pins:g> NM1 <pins:d> VOUT1 <pins:d> NM1 <pins:s+b> VSS <eos>", 11, "ports are not all there"),
    ("Mirror", "VSS <pins:p> R1 <pins:n> VDD <pins:p> R2 <pins:n> N1 <eos>", 11, "N1 needs two devices"),
    ("Mirror", "VSS <pins:s+b> NM1 <pins:d> VDD <pins:d> NM1 <pins:g> N1 <pins:g> NM2 <pins:d> VDD <pins:d> NM2 "
               "<pins:s+b> VSS <eos>", 19, "N1 needs two devices and a non-gate"),
    ("Mirror", "VSS <pins:s+b> NM1 <pins:d> VDD <eos> <pins:g>", 7, "NM1 has pins g on no net"),
])
def test_each_rule_is_refused_at_the_token_that_breaks_it(grammar, vocab, ckt_type, text, bad, why) -> None:
    position, message = rejected_at(grammar, ids(vocab, ckt_type, text))
    assert position == bad
    assert why in message


@pytest.mark.parametrize(("ckt_type", "text"), [
    ("Mirror", "VSS <pins:p> R1 <pins:n> VDD <pins:p> R2 <pins:n> N1 <pins:p> R3 <pins:n> VSS <eos>"),
    ("LDO", "VDD <pins:s+b> PM1 <pins:d> VOUT1 <pins:d> PM1 <pins:g> VSS <pins:p> C1 <pins:n> VOUT1 <eos>"),
    # a MOS capacitor: drain and source tied, the gate elsewhere
    ("Mirror", "VSS <pins:d+s+b> NM1 <pins:g> VDD <eos>"),
    # a BJT with collector, base and emitter apart, substrate on ground
    ("General", "GND <pins:sub> NPN1 <pins:c> VDD <pins:c> NPN1 <pins:b+e> VSS <eos>"),
])
def test_valid_circuits_of_every_kind_are_accepted(grammar, vocab, ckt_type, text) -> None:
    seq = ids(vocab, ckt_type, text)
    grammar.check(seq)
    circuit = decode(seq, vocab)
    assert check_circuit(circuit.netlist, circuit.ckt_type, circuit.ports) == ()


def test_push_refuses_what_allowed_refuses_and_stops_after_eos(grammar: Grammar, vocab: Vocab) -> None:
    state = grammar.start("Opamp")
    mask = state.allowed()
    assert isinstance(mask, torch.Tensor) and mask.dtype == torch.bool and mask.shape == (len(vocab),)
    assert not mask[vocab.eos] and mask[vocab.id("VDD")] and not mask[vocab.id("NM1")]
    with pytest.raises(GrammarError) as info:
        state.push(vocab.id("<pins:g>"))
    assert info.value.position == 2
    for t in OPAMP.split():
        state.push(vocab.id(t))
    assert state.finished and not state.allowed().any()
    assert state.tokens == tuple(ids(vocab, "Opamp", OPAMP))
    with pytest.raises(GrammarError):
        state.push(vocab.pad)


def test_check_wants_bos_type_eos_and_only_padding_after(grammar: Grammar, vocab: Vocab) -> None:
    seq = ids(vocab, "Opamp", OPAMP)
    assert rejected_at(grammar, seq[1:])[0] == 0
    assert rejected_at(grammar, [vocab.bos, vocab.id("VDD")] + seq[2:])[0] == 1
    assert rejected_at(grammar, seq[:-1])[0] == len(seq) - 1
    assert rejected_at(grammar, seq + [vocab.id("VDD")])[0] == len(seq)
    assert grammar.accepts(seq) and not grammar.accepts(seq[:-1])


def test_a_max_len_too_short_for_the_type_is_refused_up_front(vocab: Vocab) -> None:
    # the shortest op-amp completion: VIN1 <p> R1 <n> VOUT1 <p> R2 <n> VDD <p> R3 <n> VSS <eos>
    with pytest.raises(GrammarError, match="too short .* needs 16 tokens"):
        Grammar(vocab, max_len=15).start("Opamp")
    state = Grammar(vocab, max_len=16).start("Opamp")
    assert len(walk_to_eos(state, np.random.default_rng(0))) == 16


def test_the_length_reserve_refuses_what_cannot_finish(vocab: Vocab) -> None:
    # 24 tokens: at the dangling net N1 with NM1 half wired and three ports to reach, the completion
    # takes exactly the 17 tokens left; a BJT hung on N1 by its substrate alone would need more.
    g = Grammar(vocab, max_len=24)
    state = g.start("Opamp")
    for t in "VIN1 <pins:g> NM1 <pins:d> N1".split():
        state.push(vocab.id(t))
    assert state._cost(-1) == 24 - len(state.tokens)
    sub = vocab.id("<pins:sub>")
    assert state._syntax()[sub] and not state.allowed()[sub]
    assert state.why_not(sub).startswith("<pins:sub> leaves obligations that need more than the 16 tokens left")
    assert len(walk_to_eos(state, np.random.default_rng(0))) <= 24


@pytest.mark.parametrize(("prefix", "cost"), [
    # two MOSFETs hung on VSS by their bulks alone: a port to visit first, then each closed in four
    ("VSS <pins:b> NM1 <pins:b> VSS <pins:b> NM2 <pins:b> VSS", 13),
    # nothing left to visit: closing NM1 from VSS takes a detour (d+g out, back, s out)
    ("VDD <pins:p> R1 <pins:n> VSS <pins:b> NM1 <pins:b> VSS", 9),
])
def test_bulk_only_mosfets_cost_a_detour_and_still_finish_exactly_in_time(vocab, prefix, cost) -> None:
    seq = ids(vocab, "Mirror", prefix)
    g = Grammar(vocab, max_len=len(seq) + cost)
    for seed in range(6):
        state = g.start("Mirror")
        for t in seq[2:]:
            state.push(t)
        assert state._cost(-1) == cost
        assert_valid(vocab, g.max_len, walk_to_eos(state, np.random.default_rng(seed)))


def walk_to_eos(state, rng: np.random.Generator) -> list[int]:
    while not state.finished:
        choices = np.flatnonzero(state._allowed())
        assert len(choices), f"dead end after {len(state.tokens)} tokens"
        state.push(int(rng.choice(choices)))
    return list(state.tokens)


def random_walks(vocab: Vocab, lengths: tuple[int, ...], per_type: int, seed: int, canonical: bool = False):
    rng = np.random.default_rng(seed)
    for max_len in lengths:
        g = Grammar(vocab, max_len=max_len, canonical=canonical)
        for ckt_type in vocab.types:
            for _ in range(per_type):
                yield max_len, ckt_type, walk_to_eos(g.start(ckt_type), rng)


def assert_valid(vocab: Vocab, max_len: int, seq: list[int]) -> None:
    assert len(seq) <= max_len
    circuit = decode(seq, vocab)
    assert check_circuit(circuit.netlist, circuit.ckt_type, circuit.ports) == (), seq


def test_random_masked_walks_always_finish_valid(vocab: Vocab) -> None:
    count = 0
    for max_len, _, seq in random_walks(vocab, (16, 24, 40, 96), per_type=1, seed=1):
        assert_valid(vocab, max_len, seq)
        count += 1
    assert count == 4 * len(vocab.types)


def test_canonical_numbering_walks_finish_valid_and_number_by_first_appearance(vocab: Vocab) -> None:
    for max_len, _, seq in random_walks(vocab, (16, 24, 40, 96), per_type=1, seed=4, canonical=True):
        assert_valid(vocab, max_len, seq)
        firsts: dict[str, list[int]] = {}
        for t in seq:
            if vocab.kind(t) == "device":
                family, index = vocab.device(t)
                if index not in firsts.setdefault(family, []):
                    firsts[family].append(index)
        assert all(order == list(range(1, len(order) + 1)) for order in firsts.values()), seq
    g = Grammar(vocab, max_len=64, canonical=True)
    state = g.start("Opamp")
    state.push(vocab.id("VSS"))
    state.push(vocab.edge_token("NM", ("s", "b")))
    assert state.allowed()[vocab.id("NM1")] and not state.allowed()[vocab.id("NM2")]
    from tests.gen.small_circuits import all_circuits

    g = Grammar(vocab, max_len=256, canonical=True)
    for c in all_circuits():  # walks numbered by first appearance are accepted, renamed ones are not
        assert g.accepts(encode(c.netlist, c.ckt_type, c.ports, vocab, rng=random.Random(1), rename=False))
    renamed = [encode(c.netlist, c.ckt_type, c.ports, vocab, rng=random.Random(1)) for c in all_circuits()]
    assert not all(g.accepts(ids) for ids in renamed)


def test_a_type_restricted_to_some_families_walks_valid_circuits_of_only_those(vocab: Vocab) -> None:
    rng = np.random.default_rng(5)
    allowed = {"Opamp": ("NM", "PM", "C"), "Mirror": ("NM", "R")}
    for max_len in (24, 40, 96):
        g = Grammar(vocab, max_len=max_len, families=allowed)
        for ckt_type, families in allowed.items():
            for _ in range(3):
                seq = walk_to_eos(g.start(ckt_type), rng)
                assert_valid(vocab, max_len, seq)
                assert {vocab.device(t)[0] for t in seq if vocab.kind(t) == "device"} <= set(families), seq
    g = Grammar(vocab, max_len=64, families=allowed)
    state = g.start("Mirror")
    state.push(vocab.id("VSS"))
    assert not state.allowed()[vocab.edge_token("NPN", ("e",))]  # no family the type may use has an emitter
    state.push(vocab.edge_token("C", ("p",)))  # R's pins too
    assert state.allowed()[vocab.id("R1")] and not state.allowed()[vocab.id("C1")]
    assert state.why_not(vocab.id("C1")) == "C is not a family Mirror circuits use"
    assert g.accepts(ids(vocab, "Mirror", "VSS <pins:d+s+b> NM1 <pins:g> VDD <eos>"))
    assert not g.accepts(ids(vocab, "Mirror", "VSS <pins:p> C1 <pins:n> VDD <pins:p> R1 <pins:n> VSS <eos>"))
    state = g.start("PLL")  # a type not listed keeps every family
    state.push(vocab.id("VSS"))
    state.push(vocab.edge_token("PFD", ("1",)))
    assert state.allowed()[vocab.id("PFD1")]
    with pytest.raises(ModelConfigError, match="unknown device families FOO"):
        Grammar(vocab, families={"Opamp": ("NM", "FOO")})
    with pytest.raises(ModelConfigError, match="a circuit needs a family with two conducting pins"):
        Grammar(vocab, families={"Opamp": ("C",)})


MOS_TIES = [("NM", ("s", "b")), ("NM", ("d", "g")), ("PM", ("s", "b")), ("PM", ("d", "g"))]


def test_a_type_restricted_to_some_pin_sets_ties_only_those_and_still_finishes(vocab: Vocab) -> None:
    rng = np.random.default_rng(7)
    mos = MOS_TIES
    sets = {"Opamp": mos, "Mirror": []}
    g = Grammar(vocab, max_len=96, pin_sets=sets)
    legal = {t: {(f.name, tuple(p for i, p in enumerate(f.pins) if m >> i & 1))
                 for k, f in enumerate(vocab.families) for m, bad in enumerate(g.tables(t).illegal[k])
                 if not bad and bin(m).count("1") >= 2} for t in sets}
    # the MOSFETs of an op-amp tie exactly the allowed pairs; what a family needs to close comes back
    assert {x for x in legal["Opamp"] if x[0] in ("NM", "PM")} == set(mos)
    # nothing allowed: a four-pin family gets pairs back (a five-pin cell needs a triple to close in two edges)
    assert all(len(pins) == 2 for f, pins in legal["Mirror"] if len(vocab.family(f).pins) == 4)
    assert ("NM", ("g", "s", "b")) not in legal["Mirror"]
    for max_len in (24, 40, 96):
        g = Grammar(vocab, max_len=max_len, pin_sets=sets)
        for ckt_type in sets:
            for _ in range(4):
                seq = walk_to_eos(g.start(ckt_type), rng)
                assert_valid(vocab, max_len, seq)
                assert ties(seq, vocab) <= legal[ckt_type], seq
    g = Grammar(vocab, max_len=64, pin_sets=sets)
    tie = ids(vocab, "Opamp", "VIN1 <pins:g> NM1 <pins:d> VOUT1 <pins:p> R1 <pins:n> VDD <pins:g+s+b> NM2 "
                              "<pins:d> VOUT1 <pins:d> NM1 <pins:s+b> VSS <eos>")  # NM2: an always-off device
    assert Grammar(vocab, max_len=64).accepts(tie) and not g.accepts(tie)
    assert rejected_at(g, tie) == (11, "<pins:g+s+b> fits no device that could sit on VDD")
    state = g.start("Opamp")
    state.push(vocab.id("VSS"))
    state.push(vocab.edge_token("NM", ("d",)))
    state.push(vocab.id("NM1"))
    unseen = state.why_not(vocab.edge_token("NM", ("g", "s", "b")))
    assert unseen == "no training Opamp circuit puts g+s+b of a NM on one net"
    state = g.start("Opamp")
    for token in ("VSS", "<pins:b>", "NM1"):
        state.push(vocab.id(token))
    short = state.why_not(vocab.edge_token("NM", ("d", "g", "s")))
    assert short == "d+g+s of NM1 on one net would short it (all its terminals, or drain, gate and source)"
    with pytest.raises(ModelConfigError, match="unknown device family FOO"):
        Grammar(vocab, pin_sets={"Opamp": [("FOO", ("a", "b"))]})
    with pytest.raises(ModelConfigError, match="x\\+d is not a pin set of NM"):
        Grammar(vocab, pin_sets={"Opamp": [("NM", ("x", "d"))]})


def test_a_grammar_restricted_to_the_pin_sets_of_circuits_accepts_each_of_them(vocab: Vocab) -> None:
    from ckt.gen.train import pin_set_profile
    from tests.gen.small_circuits import all_circuits

    circuits = all_circuits()
    g = Grammar(vocab, max_len=256, pin_sets=pin_set_profile(circuits, vocab))
    for seed, c in enumerate(circuits):
        assert g.accepts(encode(c.netlist, c.ckt_type, c.ports, vocab, rng=random.Random(seed)))


@pytest.mark.slow
def test_many_random_masked_walks_always_finish_valid(vocab: Vocab) -> None:
    lengths = Counter()
    for max_len, _, seq in random_walks(vocab, (16, 20, 24, 32, 64, 128, 300), per_type=6, seed=2):
        assert_valid(vocab, max_len, seq)
        lengths[max_len] += 1
    assert sum(lengths.values()) == 7 * 6 * len(vocab.types)


def test_the_cost_always_has_a_step_down_and_rises_by_at_most_delta(vocab: Vocab) -> None:
    """On every state of random walks: some token lowers the completion cost by one or more (so the
    grammar cannot dead-end), no token raises it by more than ``_DELTA`` (so loose steps may skip the
    length check), and trying one token per class (``_classes``) masks what trying every token does;
    also when every type may tie only a MOSFET's source to its bulk and its drain to its gate."""
    rng = np.random.default_rng(3)
    rises = []
    tied = {t: MOS_TIES for t in vocab.types}
    for max_len, walks, pin_sets in ((40, 5, None), (400, 2, None), (40, 3, tied), (120, 2, tied)):
        g = Grammar(vocab, max_len=max_len, pin_sets=pin_sets)
        for w in range(walks):
            state = g.start(vocab.types[(7 * w + max_len) % len(vocab.types)])
            while not state.finished:
                cost = state._cost(-1)
                syntax = state._syntax()
                after = {int(t): state._try(int(t), -1) for t in np.flatnonzero(syntax)}
                assert min(after.values()) <= cost - 1
                assert state._danger() or max(after.values()) < INF
                rises.append(max(c for c in after.values() if c < INF) - cost)
                budget = max_len - len(state.tokens) - 1
                brute = np.zeros_like(syntax)
                brute[[t for t, c in after.items() if c <= budget]] = True
                assert (state._fit(syntax.copy(), budget) == brute).all()
                state.push(int(rng.choice(np.flatnonzero(state._allowed()))))
    assert max(rises) <= _DELTA


@pytest.mark.slow
def test_every_analoggenie_encoding_is_accepted_exactly_when_it_decodes_valid(vocab: Vocab) -> None:
    from ckt.data.analoggenie import read_archive

    circuits = read_archive(str(shared("analoggenie", "analoggenie-dataset.tar.gz"))).circuits
    g = Grammar(vocab, max_len=1024)
    accepted: Counter[str] = Counter()
    valid: Counter[str] = Counter()
    for c in circuits:
        original_ok = not check_circuit(c.netlist, c.ckt_type, c.ports)
        for rng in (None, random.Random(int(c.id))):
            try:
                seq = encode(c.netlist, c.ckt_type, c.ports, vocab, rng=rng)
            except TokenizeError:
                assert not original_ok, c.id
                continue
            d = decode(seq, vocab)
            ok = not check_circuit(d.netlist, d.ckt_type, d.ports)
            assert g.accepts(seq) == ok, (c.id, rng is None)
            accepted[c.ckt_type] += ok and original_ok
            valid[c.ckt_type] += original_ok
    # every circuit the rules pass is accepted (tokens take ports as the rules define them)
    assert set(accepted) == set(vocab.types) and accepted == valid, (accepted, valid)


def test_a_sequence_budget_closes_the_walk_within_it(vocab: Vocab) -> None:
    """A state started with its own budget finishes within it (valid), however far below the
    grammar's max_len; a budget above max_len or below the shortest circuit is refused."""
    g = Grammar(vocab, max_len=400)
    rng = np.random.default_rng(7)
    for ckt_type in ("Opamp", "Mirror", "LDO"):
        shortest = g.shortest(ckt_type)
        for budget in (shortest, shortest + 5, 60, 120):
            seq = walk_to_eos(g.start(ckt_type, max_len=budget), rng)
            assert_valid(vocab, budget, seq)
    with pytest.raises(GrammarError, match="exceeds the grammar's max_len 400"):
        g.start("Opamp", max_len=401)
    with pytest.raises(GrammarError, match="too short for a Opamp circuit"):
        g.start("Opamp", max_len=g.shortest("Opamp") - 1)
