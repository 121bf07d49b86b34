"""The generator vocabulary: its layout, lookups both ways, and its JSON round trip."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ckt.data.analoggenie import CLASSES
from ckt.errors import TokenizeError
from ckt.gen.vocab import FAMILIES, PORTS, Family, Vocab
from ckt.netlist.ir import DeviceKind


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return Vocab.default()


def test_specials_come_first_and_every_token_is_distinct(vocab: Vocab) -> None:
    assert (vocab.pad, vocab.bos, vocab.eos) == (0, 1, 2)
    assert vocab.tokens[:3] == ("<pad>", "<bos>", "<eos>")
    assert len(set(vocab.tokens)) == len(vocab.tokens) == len(vocab)
    assert all(vocab.id(t) == i and vocab.token(i) == t for i, t in enumerate(vocab.tokens))


def test_token_counts_per_kind(vocab: Vocab) -> None:
    kinds = [vocab.kind(i) for i in range(len(vocab))]
    assert kinds.count("type") == len(CLASSES) == 15
    assert kinds.count("device") == len(FAMILIES) * 40
    assert kinds.count("net") == len(PORTS) + 64 == 96 + 64
    # MOSFET 15 subsets; BJT 15 less the shared "b"; p/n 3; the subckt pins 1..6: 63.
    assert kinds.count("edge") == 15 + 14 + 3 + 63
    assert kinds == sorted(kinds, key=["special", "type", "device", "net", "edge"].index)


def test_type_tokens(vocab: Vocab) -> None:
    i = vocab.type_token("Opamp")
    assert vocab.token(i) == "<type:Opamp>" and vocab.kind(i) == "type" and vocab.type_name(i) == "Opamp"
    assert vocab.type_ids == tuple(vocab.type_token(t) for t in CLASSES)
    with pytest.raises(TokenizeError, match="unknown circuit type 'Amp'"):
        vocab.type_token("Amp")


def test_device_tokens(vocab: Vocab) -> None:
    i = vocab.id("NM3")
    assert vocab.kind(i) == "device" and vocab.device(i) == ("NM", 3) and vocab.device_token("NM", 3) == i
    assert vocab.device(vocab.id("PFD40")) == ("PFD", 40)
    assert [vocab.token(j) for j in vocab.device_ids("NPN")[:2]] == ["NPN1", "NPN2"]
    assert len(vocab.device_ids("R")) == 40
    with pytest.raises(TokenizeError, match="outside 1..40"):
        vocab.device_token("NM", 41)
    with pytest.raises(TokenizeError, match="unknown device family 'Q'"):
        vocab.device_ids("Q")
    with pytest.raises(TokenizeError, match="not a device token"):
        vocab.device(vocab.id("VDD"))


def test_net_tokens(vocab: Vocab) -> None:
    for name in ("VDD", "VSS", "GND", "VIN1", "VB10"):
        i = vocab.id(name)
        assert vocab.kind(i) == "net" and vocab.net(i) == name and vocab.is_port(i)
    n5 = vocab.internal_token(5)
    assert vocab.token(n5) == "N5" and vocab.net(n5) == "N5" and not vocab.is_port(n5)
    assert set(vocab.net_ids) == set(vocab.port_ids) | set(vocab.internal_ids)
    assert len(vocab.port_ids) == 96 and len(vocab.internal_ids) == 64
    assert not vocab.is_port(vocab.id("NM1"))
    with pytest.raises(TokenizeError, match="outside 1..64"):
        vocab.internal_token(65)


def test_edge_tokens_follow_family_pin_order_and_are_shared(vocab: Vocab) -> None:
    dg = vocab.edge_token("NM", frozenset({"g", "d"}))
    assert vocab.token(dg) == "<pins:d+g>" and vocab.edge_pins(dg) == ("d", "g")
    assert vocab.edge_token("PM", ("g", "d")) == dg  # one token for both MOS families
    assert vocab.edge_token("NPN", ("b",)) == vocab.edge_token("NM", ("b",))  # shared spelling, shared token
    assert vocab.token(vocab.edge_token("PNP", ("sub", "c"))) == "<pins:c+sub>"
    assert set(vocab.edge_ids("R")) == {vocab.id("<pins:p>"), vocab.id("<pins:n>"), vocab.id("<pins:p+n>")}
    assert len(vocab.edge_ids("NM")) == 15 and len(vocab.edge_ids("PFD")) == 63 and len(vocab.edge_ids("INV")) == 15
    assert vocab.id("<pins:c>") not in vocab.edge_ids("NM")
    with pytest.raises(TokenizeError, match="not a nonempty subset"):
        vocab.edge_token("R", ("p", "g"))
    with pytest.raises(TokenizeError, match="not a nonempty subset"):
        vocab.edge_token("R", ())


def test_families_match_the_ir(vocab: Vocab) -> None:
    assert FAMILIES["NM"] == Family("NM", DeviceKind.MOSFET, "nmos4", ("d", "g", "s", "b"))
    assert FAMILIES["PNP"].pins == ("c", "b", "e", "sub") and FAMILIES["TG"].model == "TRANSMISSION_GATE"
    assert vocab.families == tuple(FAMILIES.values())


def test_json_round_trip(vocab: Vocab) -> None:
    d = json.loads(json.dumps(vocab.to_dict()))
    again = Vocab.from_dict(d)
    assert again == vocab and again.tokens == vocab.tokens
    small = Vocab.default(max_index=3, max_nets=2)
    assert small != vocab and Vocab.from_dict(small.to_dict()).tokens == small.tokens
    assert len(small) == 3 + 15 + 12 * 3 + 96 + 2 + 95


def test_malformed_descriptions_are_refused(vocab: Vocab) -> None:
    d = vocab.to_dict()
    with pytest.raises(TokenizeError, match="token list differs"):
        Vocab.from_dict({**d, "tokens": d["tokens"][::-1]})
    with pytest.raises(TokenizeError, match="not a vocabulary description: KeyError"):
        Vocab.from_dict({k: v for k, v in d.items() if k != "ports"})
    with pytest.raises(TokenizeError, match="not a vocabulary description: KeyError"):
        Vocab.from_dict({**d, "families": [{**d["families"][0], "kind": "TRANSISTOR"}]})
    with pytest.raises(TokenizeError, match="spelled like internal nets"):
        replace(vocab, ports=("VDD", "N3"))
    with pytest.raises(TokenizeError, match="unique"):
        replace(vocab, families=(FAMILIES["NM"], FAMILIES["NM"]))
    with pytest.raises(TokenizeError, match="must be >= 1"):
        Vocab.default(max_index=0)


def test_lookups_refuse_what_is_not_there(vocab: Vocab) -> None:
    with pytest.raises(TokenizeError, match="'NM0' is not a token"):
        vocab.id("NM0")
    with pytest.raises(TokenizeError, match="outside the vocabulary"):
        vocab.token(len(vocab))
    with pytest.raises(TokenizeError, match="not an edge token"):
        vocab.edge_pins(vocab.bos)
    with pytest.raises(TokenizeError, match="not a net token"):
        vocab.net(vocab.id("<pins:d>"))
