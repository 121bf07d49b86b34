"""Tokenizer: walks that cover every edge, decoding that checks structure, and the identity up to
isomorphism on every AnalogGenie circuit."""

from __future__ import annotations

import pickle
import random
import statistics
from collections import Counter

import pytest

from ckt.data.base import topology_hash
from ckt.errors import TokenizeError
from ckt.gen.rules import port_nets
from ckt.gen.tokens import GeneratedCircuit, decode, encode, to_text
from ckt.gen.vocab import Vocab
from ckt.netlist.ir import Device, DeviceKind, Netlist
from tests.conftest import shared

V = Vocab.default()
MOS = DeviceKind.MOSFET


def mos(name: str, model: str, d: str, g: str, s: str, b: str) -> Device:
    return Device(name, MOS, (("d", d), ("g", g), ("s", s), ("b", b)), model=model)


def two(name: str, kind: DeviceKind, p: str, n: str, model: str | None = None) -> Device:
    return Device(name, kind, (("p", p), ("n", n)), model=model)


# A five-transistor OTA with a Miller RC, a diode-connected load, a BJT whose substrate is on "0".
OTA = Netlist(devices=(
    mos("M1", "nmos4", "x", "VIN1", "tail", "VSS"),
    mos("M2", "nmos4", "VOUT1", "VIN2", "tail", "VSS"),
    mos("M3", "pmos4", "x", "x", "VDD", "VDD"),
    mos("M4", "pmos4", "VOUT1", "x", "VDD", "VDD"),
    mos("M5", "nmos4", "tail", "VB1", "VSS", "VSS"),
    two("R1", DeviceKind.RESISTOR, "VOUT1", "m"),
    two("C1", DeviceKind.CAPACITOR, "m", "x"),
    Device("Q1", DeviceKind.BJT, (("c", "VDD"), ("b", "VOUT1"), ("e", "VSS"), ("sub", "0")), model="npn"),
))
OTA_PORTS = ("VDD", "VSS", "VIN1", "VIN2", "VOUT1", "VB1")


def labelled_graph(netlist: Netlist, ports) -> tuple[dict, dict]:
    """Node labels (kind:model, port name, ``net``) and adjacency ``node -> [(pin set, node)]``."""
    ports = set(ports)
    label: dict = {}
    adj: dict = {}
    for i, d in enumerate(netlist.devices):
        dn = ("d", i)
        label[dn] = f"{d.kind.name}:{d.model}"
        adj[dn] = []
        groups: dict[str, list[str]] = {}
        for pin, net in d.terminals:
            groups.setdefault(net, []).append(pin)
        for net, pins in groups.items():
            nn = ("n", net)
            label[nn] = "GND" if net == "0" else (f"port:{net}" if net in ports else "net")
            edge = "+".join(sorted(pins))
            adj[dn].append((edge, nn))
            adj.setdefault(nn, []).append((edge, dn))
    return label, adj


def _refine(ga: dict, gb: dict, ca: dict, cb: dict) -> tuple[dict, dict]:
    """Colour refinement of both graphs with one shared colour table, until no class splits."""
    classes = len(set(ca.values()) | set(cb.values()))
    while True:
        table: dict = {}
        ca = {v: table.setdefault((ca[v], tuple(sorted((e, ca[u]) for e, u in ga[v]))), len(table)) for v in ga}
        cb = {v: table.setdefault((cb[v], tuple(sorted((e, cb[u]) for e, u in gb[v]))), len(table)) for v in gb}
        if len(table) == classes:
            return ca, cb
        classes = len(table)


def _match(ga: dict, gb: dict, ca: dict, cb: dict) -> bool:
    """Individualise-and-refine search; a discrete colouring's bijection is checked edge by edge."""
    ca, cb = _refine(ga, gb, ca, cb)
    hist = Counter(ca.values())
    if hist != Counter(cb.values()):
        return False
    open_classes = [c for c, k in hist.items() if k > 1]
    if not open_classes:
        to_b = {c: v for v, c in cb.items()}
        m = {v: to_b[c] for v, c in ca.items()}
        return all(sorted((e, m[u]) for e, u in ga[v]) == sorted(gb[m[v]]) for v in ga)
    c = min(open_classes, key=lambda k: (hist[k], k))
    a = next(v for v in ga if ca[v] == c)
    fresh = max(hist) + 1
    return any(_match(ga, gb, {**ca, a: fresh}, {**cb, b: fresh}) for b in gb if cb[b] == c)


def isomorphic(x: tuple[dict, dict], y: tuple[dict, dict]) -> bool:
    """Exact labelled isomorphism of two ``labelled_graph``s (edge labels = pin sets)."""
    (la, ga), (lb, gb) = x, y
    if len(ga) != len(gb):
        return False
    names: dict = {}
    ca = {v: names.setdefault(la[v], len(names)) for v in ga}
    cb = {v: names.setdefault(lb[v], len(names)) for v in gb}
    return _match(ga, gb, ca, cb)


def same_circuit(netlist: Netlist, ports, back: GeneratedCircuit) -> bool:
    """``back`` is ``netlist`` up to renaming: hash, counts, pin partitions, port names and isomorphism
    (ports as the rules define them: listed, or named as ports are)."""
    ports = port_nets(netlist, ports)
    used = set(ports) - {"0"}

    def partitions(n: Netlist) -> Counter:
        out: Counter = Counter()
        for d in n.devices:
            groups: dict[str, list[str]] = {}
            for pin, net in d.terminals:
                groups.setdefault(net, []).append(pin)
            out[(d.kind, d.model, tuple(sorted(tuple(sorted(g)) for g in groups.values())))] += 1
        return out

    return (
        topology_hash(back.netlist) == topology_hash(netlist)
        and Counter((d.kind, d.model) for d in back.netlist.devices)
        == Counter((d.kind, d.model) for d in netlist.devices)
        and partitions(back.netlist) == partitions(netlist)
        and set(back.ports) == used and len(back.ports) == len(used)
        and isomorphic(labelled_graph(netlist, ports), labelled_graph(back.netlist, back.ports))
    )


def walk_edges(ids: list[int]) -> list[tuple[str, str, str]]:
    """(device token, pin token, net token) of every step of an encoded walk."""
    toks = [V.token(i) for i in ids[2:-1]]
    steps = []
    for k in range(0, len(toks) - 2, 2):
        a, e, b = toks[k], toks[k + 1], toks[k + 2]
        steps.append((a, e, b) if V.kind(V.id(a)) == "device" else (b, e, a))
    return steps


# ---- encoding -------------------------------------------------------------------------------------------


def test_a_chain_has_one_canonical_walk() -> None:
    chain = Netlist(devices=(two("R1", DeviceKind.RESISTOR, "VIN1", "VOUT1"),
                             two("C1", DeviceKind.CAPACITOR, "VOUT1", "VSS")))
    ids = encode(chain, "Filter", ("VIN1", "VOUT1", "VSS"), V)
    assert to_text(ids, V) == "<bos> <type:Filter> VIN1 <pins:p> R1 <pins:n> VOUT1 <pins:p> C1 <pins:n> VSS <eos>"


def test_the_canonical_walk_covers_every_edge_and_numbers_by_first_appearance() -> None:
    ids = encode(OTA, "Opamp", OTA_PORTS, V)
    assert ids == encode(OTA, "Opamp", OTA_PORTS, V)
    assert ids[:2] == [V.bos, V.type_token("Opamp")] and ids[-1] == V.eos
    assert V.kind(ids[2]) == "net"
    text = to_text(ids, V).split()
    firsts = [t for t in dict.fromkeys(text) if t[:2] in ("NM", "PM") or (t[0] == "N" and t[1:].isdigit())]
    assert [t for t in firsts if t.startswith("NM")] == ["NM1", "NM2", "NM3"]
    assert [t for t in firsts if t.startswith("PM")] == ["PM1", "PM2"]
    assert [t for t in firsts if t[1:].isdigit()] == ["N1", "N2", "N3"]
    assert "GND" in text and "0" not in text
    # 8 devices put pins on 24 distinct (device, net) pairs; the walk covers each one, with few repeats.
    steps = walk_edges(ids)
    assert len(set(steps)) == 24 and len(steps) <= 24 + 8


def test_random_walks_differ_reproducibly_and_all_decode_to_the_circuit() -> None:
    canonical = encode(OTA, "Opamp", OTA_PORTS, V)
    draws = [encode(OTA, "Opamp", OTA_PORTS, V, rng=random.Random(seed)) for seed in range(30)]
    assert draws[0] == encode(OTA, "Opamp", OTA_PORTS, V, rng=random.Random(0))
    assert len({tuple(d) for d in draws}) == 30 and tuple(canonical) not in {tuple(d) for d in draws}
    assert len({d[2] for d in draws}) >= 4  # random start nets
    assert len({t for d in draws for t in d if V.kind(t) == "device"}) > 30  # random device numbers
    for d in [canonical, *draws]:
        assert len(set(walk_edges(d))) == 24
        assert same_circuit(OTA, OTA_PORTS, decode(d, V))


def test_decoded_devices_carry_family_kind_and_model_and_no_values() -> None:
    back = decode(encode(OTA, "Opamp", OTA_PORTS, V), V)
    assert back.ckt_type == "Opamp" and set(back.ports) == set(OTA_PORTS)
    by_name = {d.name: d for d in back.netlist.devices}
    assert {"MNM1", "MPM1", "RR1", "CC1", "QNPN1"} <= set(by_name)
    assert by_name["QNPN1"].kind is DeviceKind.BJT and by_name["QNPN1"].model == "npn"
    assert by_name["QNPN1"].net("sub") == "0" and "0" not in back.ports
    assert by_name["RR1"].model is None and all(d.value is None and not d.params for d in back.netlist.devices)
    assert by_name["MPM1"].pins == ("d", "g", "s", "b")
    assert {n for n in back.netlist.nets if n not in OTA_PORTS} == {"0", "n1", "n2", "n3"}


def test_ports_no_device_touches_are_dropped() -> None:
    back = decode(encode(OTA, "Opamp", (*OTA_PORTS, "VREF1"), V), V)
    assert "VREF1" not in back.ports and set(back.ports) == set(OTA_PORTS)


def test_a_net_named_like_a_port_but_not_listed_is_still_a_port() -> None:
    # the rules' definition (ckt.gen.rules.port_nets): 34 AnalogGenie circuits use a port their port
    # file leaves out; as an internal net VB1 would read as a gate-only net the rules refuse
    back = decode(encode(OTA, "Opamp", ("VDD", "VSS", "VIN1", "VIN2", "VOUT1"), V), V)
    assert "VB1" in back.netlist.nets and "VB1" in back.ports


def test_max_len_bounds_the_sequence() -> None:
    n = len(encode(OTA, "Opamp", OTA_PORTS, V))
    assert len(encode(OTA, "Opamp", OTA_PORTS, V, max_len=n)) == n
    with pytest.raises(TokenizeError, match=f"needs {n} tokens, more than max_len {n - 1}"):
        encode(OTA, "Opamp", OTA_PORTS, V, max_len=n - 1)


@pytest.mark.parametrize(("netlist", "ports", "vocab", "message"), [
    (Netlist(devices=(two("V1", DeviceKind.VSOURCE, "a", "0"),)), (), V, r"device V1 \(VSOURCE -\) is of no token"),
    (Netlist(devices=(mos("M1", "nch", "a", "b", "0", "0"),)), (), V, r"device M1 \(MOSFET nch\)"),
    (Netlist(devices=(Device("Q1", DeviceKind.BJT, (("c", "a"), ("b", "b"), ("e", "0")), model="npn"),)), (), V,
     "device Q1 has pins c, b, e; family NPN needs c, b, e, sub"),
    (Netlist(devices=(two("R1", DeviceKind.RESISTOR, "FOO", "0"),)), ("FOO",), V, "port 'FOO' has no token"),
    (Netlist(devices=tuple(two(f"R{i}", DeviceKind.RESISTOR, "a", "0") for i in range(41))), (), V,
     "41 devices of family R, more than the vocabulary's 40"),
    (Netlist(devices=(two("R1", DeviceKind.RESISTOR, "a", "b"), two("R2", DeviceKind.RESISTOR, "b", "c"))), (),
     Vocab.default(max_nets=2), "3 internal nets, more than the vocabulary's 2"),
    (Netlist(devices=(two("R1", DeviceKind.RESISTOR, "a", "0"), two("R2", DeviceKind.RESISTOR, "b", "c"))), (), V,
     "more than one piece"),
    (Netlist(), (), V, "no devices"),
])
def test_what_the_tokens_cannot_express_is_refused(netlist, ports, vocab, message) -> None:
    with pytest.raises(TokenizeError, match=message):
        encode(netlist, "General", ports, vocab)


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(TokenizeError, match="unknown circuit type 'Amp'"):
        encode(OTA, "Amp", OTA_PORTS, V)


# ---- decoding -------------------------------------------------------------------------------------------


def ids_of(text: str) -> list[int]:
    return [V.id(t) for t in text.split()]


GOOD = "<bos> <type:Filter> VIN1 <pins:p> R1 <pins:n> VOUT1 <pins:p> C1 <pins:n> VSS <eos>"


def test_a_good_sequence_decodes_and_trailing_pads_are_fine() -> None:
    back = decode([*ids_of(GOOD), V.pad, V.pad], V)
    assert back.ports == ("VIN1", "VOUT1", "VSS") and back.ckt_type == "Filter"
    assert [(d.name, d.terminals) for d in back.netlist.devices] == [
        ("RR1", (("p", "VIN1"), ("n", "VOUT1"))), ("CC1", (("p", "VOUT1"), ("n", "VSS")))]
    assert to_text([*ids_of(GOOD), V.pad], V) == GOOD


def test_revisits_with_the_same_pins_are_fine() -> None:
    back = decode(ids_of("<bos> <type:Mirror> VSS <pins:s+b> NM1 <pins:d+g> N1 <pins:d+g> NM1 <pins:s+b> VSS "
                         "<pins:s+b> NM2 <pins:g> N1 <pins:g> NM2 <pins:d> VOUT1 <eos>"), V)
    assert {d.name: d.terminals for d in back.netlist.devices} == {
        "MNM1": (("d", "n1"), ("g", "n1"), ("s", "VSS"), ("b", "VSS")),
        "MNM2": (("d", "VOUT1"), ("g", "n1"), ("s", "VSS"), ("b", "VSS"))}


@pytest.mark.parametrize(("text", "position", "message"), [
    ("<type:Filter> VIN1 <pins:p> R1 <pins:p+n> VIN1 <eos>", 0, "starts with <bos>"),
    ("<bos> VIN1 <pins:p+n> R1 <eos>", 1, "must be a circuit type"),
    ("<bos> <type:Filter> VIN1 <pins:p+n> R1", 5, "without <eos>"),
    ("<bos> <type:Filter> R1 <pins:p+n> VIN1 <eos>", 2, "a net token must come here, not R1"),
    ("<bos> <type:Filter> VIN1 <pins:p+n> VOUT1 <eos>", 4, "a device token must come here, not VOUT1"),
    ("<bos> <type:Filter> VIN1 R1 <pins:p+n> VIN1 <eos>", 3, "an edge token must follow node VIN1, not R1"),
    ("<bos> <type:Filter> VIN1 <pins:p+n> <pins:p> R1 <eos>", 4, "a node token must come here, not edge"),
    ("<bos> <type:Filter> VIN1 <pins:p+n> <pad> R1 <eos>", 4, "<pad> inside the walk"),
    ("<bos> <type:Filter> VIN1 <pins:p+n> <type:LDO> R1 <eos>", 4, "<type:LDO> inside the walk"),
    ("<bos> <type:Filter> VIN1 <pins:p+n> R1 <pins:p+n> <eos>", 6, "ends on an edge token"),
    ("<bos> <type:Filter> VIN1 <eos>", 3, "holds no device"),
    ("<bos> <type:Filter> VIN1 <pins:p+n> R1 <eos> VIN1", 6, "VIN1 after <eos>"),
    ("<bos> <type:Filter> VIN1 <pins:d> R1 <eos>", 3, "<pins:d> names pins that device R1 does not have"),
    ("<bos> <type:Filter> VIN1 <pins:p> R1 <pins:n> VOUT1 <pins:p> R1 <eos>", 7,
     "R1 was linked to VOUT1 with <pins:n>"),
    ("<bos> <type:Filter> VIN1 <pins:p> R1 <pins:p> VOUT1 <eos>", 5, "pin p of R1 is already on VIN1"),
    ("<bos> <type:Filter> VIN1 <pins:p> R1 <pins:n> N1 <pins:g> NM2 <eos>", 9,
     r"device NM2 \(first at token 8\) leaves pins d, s, b on no net"),
])
def test_malformed_sequences_raise_with_the_position(text: str, position: int, message: str) -> None:
    with pytest.raises(TokenizeError, match=message) as info:
        decode(ids_of(text), V)
    assert info.value.position == position and str(info.value).startswith(f"token {position}: ")


def test_ids_outside_the_vocabulary_and_empty_input() -> None:
    with pytest.raises(TokenizeError, match="outside the vocabulary") as info:
        decode([V.bos, V.type_token("Opamp"), len(V)], V)
    assert info.value.position == 2
    with pytest.raises(TokenizeError, match="starts with <bos>"):
        decode([], V)


def test_tokenize_errors_survive_pickling() -> None:
    err = pickle.loads(pickle.dumps(TokenizeError("bad", 7)))
    assert isinstance(err, TokenizeError) and err.position == 7 and str(err) == "token 7: bad"


def test_the_isomorphism_helper_tells_circuits_apart() -> None:
    swapped = Netlist(devices=(*OTA.devices[:-1], Device("Q1", DeviceKind.BJT, (("c", "VOUT1"), ("b", "VDD"),
                                                                            ("e", "VSS"), ("sub", "0")), model="npn")))
    back = decode(encode(OTA, "Opamp", OTA_PORTS, V), V)
    assert isomorphic(labelled_graph(OTA, OTA_PORTS), labelled_graph(back.netlist, back.ports))
    assert not isomorphic(labelled_graph(swapped, OTA_PORTS), labelled_graph(back.netlist, back.ports))
    assert not isomorphic(labelled_graph(OTA, OTA_PORTS), labelled_graph(OTA, ("VDD", "VSS")))
    assert not same_circuit(swapped, OTA_PORTS, back)


# ---- every AnalogGenie circuit -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def analoggenie():
    from ckt.data.analoggenie import read_archive

    archive = shared("analoggenie", "analoggenie-dataset.tar.gz")

    return read_archive(str(archive)).circuits


@pytest.mark.slow
def test_every_analoggenie_circuit_survives_encode_and_decode(analoggenie) -> None:
    rng = random.Random(10)
    unencodable, wrong, lengths = [], [], []
    for c in analoggenie:
        try:
            canonical = encode(c.netlist, c.ckt_type, c.ports, V)
            drawn = encode(c.netlist, c.ckt_type, c.ports, V, rng=rng)
        except TokenizeError as exc:
            unencodable.append(f"{c.id}: {exc}")
            continue
        lengths.append(len(canonical))
        for ids in (canonical, drawn):
            back = decode(ids, V)
            if back.ckt_type != c.ckt_type or not same_circuit(c.netlist, c.ports, back):
                wrong.append(c.id)
    assert len(analoggenie) == 3350
    assert not unencodable, f"{len(unencodable)} circuits cannot be encoded: {unencodable[:10]}"
    assert not wrong, f"{len(wrong)} walks decode to another circuit: {wrong[:10]}"
    lengths.sort()
    # Measured (canonical): mean 152, p99 332, max 536 tokens.
    assert 100 < statistics.mean(lengths) < 200 and lengths[int(0.99 * len(lengths))] < 400 and lengths[-1] < 600


@pytest.mark.slow
def test_walks_repeat_few_edges(analoggenie) -> None:
    rng = random.Random(3)
    ratios = []
    for c in analoggenie:
        pairs = {(d.name, net) for d in c.netlist.devices for net in d.nets}
        for r in (None, rng):
            steps = (len(encode(c.netlist, c.ckt_type, c.ports, V, rng=r)) - 3) // 2
            assert steps >= len(pairs)
            ratios.append(steps / len(pairs))
    # Each edge is walked about 1.2 times on average (measured 1.22 canonical), never more than twice.
    assert statistics.mean(ratios) < 1.4 and max(ratios) <= 2.0


def test_a_random_walk_can_keep_first_appearance_numbers() -> None:
    rng = random.Random(5)
    ids = encode(OTA, "Opamp", OTA_PORTS, V, rng=rng, rename=False)
    seen: dict[str, list[int]] = {}
    for t in ids:
        if V.kind(t) == "device":
            family, index = V.device(t)
            if index not in seen.setdefault(family, []):
                seen[family].append(index)
        elif V.kind(t) == "net" and V.token(t).startswith("N") and not V.is_port(t):
            seen.setdefault("net", [])
            index = int(V.token(t)[1:])
            if index not in seen["net"]:
                seen["net"].append(index)
    assert all(order == list(range(1, len(order) + 1)) for order in seen.values()), seen
    assert same_circuit(OTA, OTA_PORTS, decode(ids, V))
