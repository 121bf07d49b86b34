"""Every public-dataset netlist reads, keeps every device, and survives the writers.

AnalogGenie (Spectre instance lists, ``.cir``) and Image2Net (component dicts) from ``../shared/data``;
skipped when the data is absent. Device totals are checked against a plain line count so that a
dropped or merged device fails a test, and each file is written back through Spectre, SPICE and
the JSON serialiser.
"""

from __future__ import annotations

import re
import tarfile
import time
from collections import Counter
from pathlib import PurePosixPath

import pytest

from ckt.netlist.ir import LETTER_KIND, Device, DeviceKind, Netlist, Subckt
from ckt.netlist.parse_spectre import parse_spectre
from ckt.netlist.parse_spice import parse_spice
from ckt.netlist.read import detect_format, parse_netlist
from ckt.netlist.serialize import from_dict, to_dict
from ckt.netlist.write import write_spice
from ckt.netlist.write_spectre import write_spectre
from tests.conftest import shared

_PRIMITIVE_MASTER = {DeviceKind.RESISTOR: "resistor", DeviceKind.CAPACITOR: "capacitor",
                     DeviceKind.INDUCTOR: "inductor"}
_INSTANCE = re.compile(r"^\s*(\S+)\s*\(([^()]*)\)\s*(\S+)\s*$")


def _texts(archive, keep) -> dict[PurePosixPath, str]:
    """The kept members of a dataset archive, read in memory (unpacking 10,000 small files costs
    more than parsing them)."""
    with tarfile.open(archive) as tar:
        return {PurePosixPath(m.name): tar.extractfile(m).read().decode("utf-8")
                for m in tar if m.isfile() and keep(PurePosixPath(m.name))}


def _read_all(texts: dict[PurePosixPath, str], label: str) -> dict[PurePosixPath, Netlist]:
    start = time.perf_counter()
    out = {path: parse_netlist(text, path=path) for path, text in texts.items()}
    elapsed = time.perf_counter() - start
    print(f"\n{label}: {len(out)} files read in {elapsed:.2f} s ({1e3 * elapsed / len(out):.2f} ms per file)")
    return out


@pytest.fixture(scope="module")
def analoggenie_texts() -> dict[PurePosixPath, str]:
    """Every AnalogGenie netlist: ``{ID}.cir``, ``Opamp{ID}.cir`` and the ``{ID}_full`` files."""
    archive = shared("analoggenie", "analoggenie-dataset.tar.gz")
    return _texts(archive, lambda p: p.suffix == ".cir" or p.stem.endswith("_full"))


@pytest.fixture(scope="module")
def analoggenie(analoggenie_texts) -> dict[PurePosixPath, Netlist]:
    return _read_all(analoggenie_texts, "AnalogGenie")


@pytest.fixture(scope="module")
def image2net_texts() -> dict[PurePosixPath, str]:
    return _texts(shared("image2net", "image2net-netlists.tar.gz"), lambda p: p.suffix == ".txt")


@pytest.fixture(scope="module")
def image2net(image2net_texts) -> dict[PurePosixPath, Netlist]:
    return _read_all(image2net_texts, "Image2Net")


def _all_devices(n: Netlist | Subckt):
    yield from n.devices
    for s in n.subckts:
        yield from _all_devices(s)


# --------------------------------------------------------------------------- AnalogGenie

def test_analoggenie_file_set(analoggenie_texts, analoggenie) -> None:
    names = [p.name for p in analoggenie]
    assert sum(re.fullmatch(r"\d+\.cir", n) is not None for n in names) == 3350
    assert sum(n.startswith("Opamp") for n in names) == 770
    assert sum("_full" in n for n in names) == 33  # 32 .cir and 813_full.txt
    assert {detect_format(p, text) for p, text in analoggenie_texts.items()} == {"spectre"}


def test_analoggenie_keeps_every_device(analoggenie_texts, analoggenie) -> None:
    """Per-master device totals equal a plain count of instance lines; nothing is merged or dropped."""
    by_lines: Counter = Counter()
    by_ir: Counter = Counter()
    renamed_expected = 0
    for path, netlist in analoggenie.items():
        seen: set[str] = set()
        for line in analoggenie_texts[path].splitlines():
            if line.strip().startswith(("subckt ", "ends")):
                seen = set()  # a new scope (definitions are not nested in this data)
                continue
            m = _INSTANCE.match(line)
            if m:
                by_lines[m.group(3)] += 1
                renamed_expected += m.group(1) in seen
                seen.add(m.group(1))
        by_ir.update(d.model or _PRIMITIVE_MASTER[d.kind] for d in _all_devices(netlist))
    assert by_ir == by_lines
    kinds = Counter(d.kind for n in analoggenie.values() for d in _all_devices(n))
    assert kinds[DeviceKind.MOSFET] == by_lines["nmos4"] + by_lines["pmos4"]
    assert kinds[DeviceKind.BJT] == by_lines["npn"] + by_lines["pnp"]
    warnings = [w for n in analoggenie.values() for w in n.warnings]
    assert len(warnings) == renamed_expected and {w.code for w in warnings} == {"duplicate-name"}
    print(f"\nAnalogGenie device totals: {dict(by_lines.most_common())}; {renamed_expected} renamed duplicates")


def test_analoggenie_duplicate_names(analoggenie) -> None:
    plain = {p: n for p, n in analoggenie.items() if re.fullmatch(r"\d+\.cir", p.name)}
    assert sum(bool(n.warnings) for n in plain.values()) == 2305  # the data README's count
    n165 = analoggenie[PurePosixPath("Dataset/165/165.cir")]
    assert [d.name for d in n165.devices][:6] == ["M5", "M5__2", "M5__3", "M5__4", "M5__5", "M5__6"]
    assert [w.line for w in n165.warnings] == [2, 3, 4, 5, 6]
    n2375 = analoggenie[PurePosixPath("Dataset/2375/2375.cir")]
    assert sorted(d.name for d in n2375.devices if "__" in d.name) == [
        "MM0__2", "MM13__2", "MM14__2", "MM1__2", "MM2__2", "MM3__2"]
    assert all(w.file.endswith("2375.cir") and w.line for w in n2375.warnings)


def test_analoggenie_digital_cells(analoggenie) -> None:
    full = analoggenie[PurePosixPath("Dataset/439/439_full.cir")]
    assert [s.name for s in full.subckts] == ["NAND", "INVERTER", "NOR", "PFD"]
    assert full.device("I0").terminals[0] == ("A", "LOGICA1")  # pins bound to the PFD definition
    plain = analoggenie[PurePosixPath("Dataset/439/439.cir")]
    assert plain.device("I0").pins == ("1", "2", "3", "4", "5", "6")  # no definition: positional
    assert not any(n.subckts for p, n in analoggenie.items() if "_full" not in p.name)


def test_analoggenie_spectre_round_trip(analoggenie) -> None:
    bad = [p for p, n in analoggenie.items() if parse_spectre(write_spectre(n)) != n]
    assert bad == []


def test_analoggenie_serialize_round_trip(analoggenie) -> None:
    assert [p for p, n in analoggenie.items() if from_dict(to_dict(n)) != n] == []


def test_analoggenie_spice_round_trip(analoggenie) -> None:
    bad = [p for p, n in analoggenie.items() if _spice_view(parse_spice(write_spice(n))) != _spice_view(n, True)]
    assert bad == []


# --------------------------------------------------------------------------- Image2Net

_COMPONENT_MODEL = {"NMOS": "nmos", "PMOS": "pmos", "NPN": "npn", "PNP": "pnp", "Diode": "diode",
                    "Diso_amp": "diso_amp", "Dido_amp": "dido_amp", "Siso_amp": "siso_amp"}
_COMPONENT_KIND = {"Res": DeviceKind.RESISTOR, "Cap": DeviceKind.CAPACITOR, "Voltage": DeviceKind.VSOURCE,
                   "Current": DeviceKind.ISOURCE}


def test_image2net_keeps_every_device(image2net_texts, image2net) -> None:
    assert len(image2net) == 346
    by_text: Counter = Counter()
    by_ir: Counter = Counter()
    for path, netlist in image2net.items():
        types = re.findall(r"""['"]component_type['"]\s*:\s*['"](\w+)['"]""", image2net_texts[path])
        by_text.update(_COMPONENT_MODEL.get(t) or _COMPONENT_KIND[t] for t in types)
        by_ir.update(d.model or d.kind for d in netlist.devices)
        assert netlist.title
    assert by_ir == by_text and sum(by_ir.values()) == 3162
    bodies = sum(d.code == "body-to-source" for n in image2net.values() for d in n.diagnostics)
    print(f"\nImage2Net: {sum(by_ir.values())} devices, {bodies} three-pin MOSFETs given a source-tied body")


def test_image2net_round_trips(image2net) -> None:
    for path, n in image2net.items():
        assert from_dict(to_dict(n)) == n, path
        back = parse_spectre(write_spectre(n))  # no title in Spectre; undefined blocks get positional pins
        assert [(d.name, d.kind, d.model, d.nets) for d in back.devices] == \
            [(d.name, d.kind, d.model, d.nets) for d in n.devices], path
        assert all(a.pins == b.pins for a, b in zip(n.devices, back.devices) if a.kind is not DeviceKind.SUBCKT)
        spice = parse_spice(write_spice(n))
        assert spice.title == n.title, path
        if not any(d.code == "net-case" for d in n.diagnostics):
            assert _spice_view(spice) == _spice_view(n, True), path


def test_image2net_oddities(image2net) -> None:
    """Nets that SPICE would merge (case) or cannot spell (whitespace) are flagged where they occur."""
    flagged = {(p.name, d.code, d.line) for p, n in image2net.items() for d in n.warnings}
    assert flagged == {("002.txt", "net-case", 41), ("002.txt", "net-case", 101), ("012.txt", "net-case", 63),
                       ("039.txt", "net-renamed", 25), ("039.txt", "net-renamed", 29)}
    n012 = image2net[PurePosixPath("net/012.txt")]
    assert len(parse_spice(write_spice(n012)).nets) == len(n012.nets) - 1  # gnd and GND merge in SPICE


# --------------------------------------------------------------------------- helpers

def _spice_names(devices: tuple[Device, ...]) -> list[str]:
    """Device names as the SPICE writer documents them: the kind letter is prefixed when the name
    does not start with it (``I4`` -> ``XI4``), ``U`` for unknown kinds, ``__2``... on a clash."""
    taken = {d.name.lower() for d in devices}
    out = []
    for d in devices:
        first = d.name[:1].upper()
        if d.kind is DeviceKind.UNKNOWN:
            if first not in LETTER_KIND:
                out.append(d.name)
                continue
            name = "U" + d.name
        elif first == d.kind.letter:
            out.append(d.name)
            continue
        else:
            name = d.kind.letter + d.name
        base, k = name, 2
        while name.lower() in taken:
            name, k = f"{base}__{k}", k + 1
        taken.add(name.lower())
        out.append(name)
    return out


def _spice_view(n: Netlist | Subckt, rename: bool = False, defined: frozenset[str] | None = None) -> tuple:
    """What a SPICE round trip must keep: devices by (name, kind, model, terminals, value, params),
    names mapped through the writer's rule when ``rename``, and every subcircuit the same way.
    Instances of blocks defined nowhere are compared by nets: no format writes their pin names."""
    if defined is None:
        defined = frozenset(s.name.lower() for s in n.all_subckts())
    names = _spice_names(n.devices) if rename else [d.name for d in n.devices]
    devices = tuple((name, d.kind, d.model, d.nets if _undefined(d, defined) else d.terminals, d.value, d.params)
                    for name, d in zip(names, n.devices))
    subckts = tuple((s.name, s.ports, s.params, _spice_view(s, rename, defined)) for s in n.subckts)
    return devices, subckts


def _undefined(d: Device, defined: frozenset[str]) -> bool:
    return d.kind is DeviceKind.SUBCKT and (d.model or "").lower() not in defined
