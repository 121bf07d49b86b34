"""One source-reading function for every format: BOM, UTF-16, Latin-1 fallback, binary detection."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from ckt.errors import CktError, NetlistParseError
from ckt.netlist import parse_components, read_netlist
from ckt.netlist.inline import inline_includes
from ckt.netlist.serialize import dumps, loads
from ckt.netlist.source import check_text, decode_source, read_source

# The same two-resistor circuit in every format ckt reads; each holds one non-ASCII character ("é")
# in a comment or title so a Latin-1 encoding differs from UTF-8.
DECKS = {
    "spice": ("d.cir", "filtre é\nR1 a 0 1k\nR2 a b 2k\n"),
    "spectre": ("d.scs", "// filtre é\nR1 (a 0) resistor r=1k\nR2 (a b) resistor r=2k\n"),
    "components": ("d.txt", (
        '{"ckt_type": "filtre é", "ckt_netlist": ['
        '{"component_type": "Res", "port_connection": {"Pos": "a", "Neg": "0"}},\n'
        '{"component_type": "Res", "port_connection": {"Pos": "a", "Neg": "b"}}]}\n'
    )),
}


def _json_deck() -> tuple[str, str]:
    from ckt.netlist.read import parse_netlist

    doc = json.loads(dumps(parse_netlist(DECKS["spice"][1], format="spice")))
    return "d.json", json.dumps(doc, ensure_ascii=False)


def test_decode_rules():
    assert decode_source(codecs.BOM_UTF8 + "R1 a 0 1µ\n".encode()).text == "R1 a 0 1µ\n"
    assert decode_source("R1 a 0 1\n".encode("utf-16")).text == "R1 a 0 1\n"
    latin = decode_source(b"t\nR1 a 0 1\n* r\xe9sistance\n", "x.cir")
    assert latin.text.endswith("résistance\n")
    (w,) = latin.diagnostics
    assert (w.severity, w.file, w.line, w.code) == ("warning", "x.cir", 3, "encoding")
    assert check_text("\ufeffR1 a 0 1\n") == "R1 a 0 1\n"


def test_binary_content_names_the_line():
    with pytest.raises(NetlistParseError, match=r"x.cir:2: error: not a text netlist \(NUL byte\)"):
        decode_source(b"t\nR1\x00\n", "x.cir")
    with pytest.raises(NetlistParseError) as info:
        decode_source(b"t\n\n" + bytes(range(1, 9)) * 40, "y.bin")
    assert (info.value.file, info.value.line) == ("y.bin", 3)
    with pytest.raises(NetlistParseError, match=":3: error"):
        check_text("a\nb\nc\x00")


def test_read_source_file_errors(tmp_path: Path):
    with pytest.raises(CktError, match="no such file"):
        read_source(tmp_path / "nope.cir")
    with pytest.raises(CktError, match="is a folder"):
        read_source(tmp_path)


@pytest.mark.parametrize("fmt", ["spice", "spectre", "components", "json"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "utf-16"])
def test_every_reader_decodes_the_same_way(tmp_path: Path, fmt: str, encoding: str):
    name, text = _json_deck() if fmt == "json" else DECKS[fmt]
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    n = read_netlist(path, format=fmt if fmt == "components" else None)
    assert [d.name for d in n.devices] == ["R1", "R2"]
    assert [d.nets for d in n.devices] == [("a", "0"), ("a", "b")]
    encoding_warnings = [(w.file, w.line) for w in n.warnings if w.code == "encoding"]
    assert encoding_warnings == ([(str(path), 1)] if encoding == "latin-1" else [])


def test_bytes_given_to_the_component_and_json_readers():
    _, text = DECKS["components"]
    n = parse_components(codecs.BOM_UTF8 + text.encode())
    assert len(n.devices) == 2 and n.warnings == ()
    n = parse_components(text.encode("latin-1"))
    assert [w.code for w in n.warnings] == ["encoding"]
    _, doc = _json_deck()
    assert len(loads(codecs.BOM_UTF8 + doc.encode()).devices) == 2
    assert len(loads("\ufeff" + doc).devices) == 2


@pytest.mark.parametrize("encoding", ["utf-8-sig", "latin-1"])
def test_included_files_are_decoded_the_same_way(tmp_path: Path, encoding: str):
    (tmp_path / "part.inc").write_bytes("* résistance\nR2 a 0 2k\n".encode(encoding))
    (tmp_path / "part.scs").write_bytes("// résistance\nR2 (a 0) resistor r=2k\n".encode(encoding))
    spice = tmp_path / "top.cir"
    spice.write_text("t\nR1 a 0 1k\n.include part.inc\n")
    spectre = tmp_path / "top.scs"
    spectre.write_text('simulator lang=spectre\nR1 (a 0) resistor r=1k\ninclude "part.scs"\n')
    for top, inc in ((spice, "part.inc"), (spectre, "part.scs")):
        n = read_netlist(top)
        assert [d.name for d in inline_includes(n).devices] == ["R1", "R2"]
        expected = [(str(tmp_path / inc), 1)] if encoding == "latin-1" else []
        assert [(w.file, w.line) for w in n.warnings if w.code == "encoding"] == expected
