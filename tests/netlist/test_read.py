"""Format detection and the one-call reader ``read_netlist``."""

from __future__ import annotations

import os

import pytest

from ckt.errors import CktError
from ckt.netlist.read import detect_format, parse_netlist, read_netlist, read_text
from ckt.netlist.serialize import dumps
from tests.conftest import TEST_DATA


@pytest.mark.parametrize("path, text, fmt", [
    ("4.cir", "M0 (VDD VDD VIN1 VSS) nmos4", "spectre"),  # AnalogGenie: one line, no newline, SPICE extension
    ("x_full.cir", "// Library name: a\nsubckt INV A Q\nends INV\n", "spectre"),
    ("amp.cir", "amp\nM1 d g 0 0 nch\n.model nch nmos\n.end\n", "spice"),
    ("amp.sp", "* title\nR1 a b 1k\n", "spice"),
    ("amp.scs", "R1 a b resistor r=1k\n", "spectre"),
    ("deck.cir", "title\nsimulator lang=spectre\nR1 (a b) resistor\n", "spectre"),
    ("001.txt", "{'ckt_netlist': [], 'ckt_type': 'LDO'}", "components"),
    ("a.json", '{"ckt_type": "x", "ckt_netlist": []}', "components"),
    ("n.json", '{\n  "schema": "ckt.netlist/1", "title": ""}', "json"),
    (None, "* only a comment\n", None),
    ("notes.txt", "hello world\n", None),
])
def test_detect_format(path: str | None, text: str, fmt: str | None) -> None:
    if fmt is None:
        with pytest.raises(CktError, match="cannot tell the netlist format"):
            detect_format(path, text)
    else:
        assert detect_format(path, text) == fmt


def test_read_every_format(tmp_path) -> None:
    spectre = read_netlist(TEST_DATA / "spectre" / "amp.scs")
    assert read_netlist(TEST_DATA / "components" / "diso.txt").title == "DISO-Amplifier"
    (tmp_path / "amp.json").write_text(dumps(spectre))
    assert read_netlist(tmp_path / "amp.json") == spectre
    (tmp_path / "deck.sp").write_text("deck\nR1 a 0 1k\n.end\n")
    assert read_netlist(tmp_path / "deck.sp").device("R1").value == 1000.0
    assert parse_netlist("R1 (a 0) resistor r=2", format="spectre").device("R1").value == 2.0
    assert parse_netlist("R1 (a 0) resistor r=2").device("R1").value == 2.0


def test_explicit_format_wins_and_unknown_is_refused() -> None:
    with pytest.raises(CktError, match="unknown netlist format 'verilog'"):
        parse_netlist("x", format="verilog")
    with pytest.raises(CktError):
        read_netlist(TEST_DATA / "spectre" / "amp.scs", format="components")


def test_bad_paths(tmp_path) -> None:
    with pytest.raises(CktError, match="no such file"):
        read_netlist(tmp_path / "missing.sp")
    with pytest.raises(CktError, match="is a folder"):
        read_netlist(tmp_path)
    locked = tmp_path / "locked.sp"
    locked.write_text("t\n.end\n")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads anything
        pytest.skip("running as a user that ignores file permissions")
    with pytest.raises(CktError, match="cannot be read"):
        read_netlist(locked)


def test_latin1_text_is_read(tmp_path) -> None:
    path = tmp_path / "old.scs"
    path.write_bytes("// r\xe9sistance\nR1 (a b) resistor r=1\n".encode("latin-1"))
    assert "résistance" in read_text(path)
    assert read_netlist(path).device("R1").value == 1.0
