"""Includes and libraries as ngspice reads them: inlined for every view, kept as lines by writers,
searched on a path, never fatal when missing except where the file is needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ckt.cli import run
from ckt.errors import CktError, NetlistParseError
from ckt.graph.bipartite import to_bipartite_nx
from ckt.netlist import parse_spice, read_netlist, read_spice, write_spice
from ckt.netlist.check import check
from ckt.netlist.flatten import flatten
from ckt.netlist.inline import inline_includes
from ckt.netlist.read import detect_format
from ckt.netlist.serialize import dumps, loads

INC = Path(__file__).resolve().parents[1] / "data" / "spice" / "includes"
AMP = INC / "amp_top.cir"


def cli(capsys, *args) -> tuple[int, str, str]:
    code = run([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------- every view sees included devices


def test_devices_of_an_included_file_count_in_every_view(capsys):
    n = read_netlist(AMP)
    assert [d.name for d in n.devices] == ["VDD", "VIN", "RL"]  # the reader keeps the structure
    inlined = inline_includes(n)
    assert [d.name for d in inlined.devices] == ["VDD", "VIN", "M1", "CL", "RL"]  # in file order
    assert [m.name for m in inlined.models] == ["nch"]
    assert len(to_bipartite_nx(n).nodes) == 5 + 4
    assert [d.name for d in flatten(n).devices] == ["VDD", "VIN", "M1", "CL", "RL"]
    assert [d.code for d in check(n)] == []  # no false floating 'out', no undefined model
    code, out, _ = cli(capsys, "parse", AMP, "--json")
    info = json.loads(out)
    assert code == 0 and info["devices"] == 5 and info["kinds"]["mosfet"] == 1 and info["models"] == ["nch"]
    assert info["includes"] == ["cells/cs_stage.inc", "vendor lib/models 2024.lib tt"]
    code, out, _ = cli(capsys, "graph", AMP)
    assert code == 0 and out.startswith("5 devices, 4 nets")
    code, _, err = cli(capsys, "check", AMP)
    assert code == 0 and "0 error(s), 0 warning(s)" in err


def test_writers_keep_the_include_lines():
    n = read_netlist(AMP)
    text = write_spice(n)
    assert '.include "cells/cs_stage.inc"' in text and "M1" not in text
    assert loads(dumps(n)) == n
    assert parse_spice(text, path=AMP) == n


def test_flattened_deck_inlines_devices_but_still_loads_libraries(capsys):
    code, out, _ = cli(capsys, "convert", AMP, "--to", "spice", "--flatten")
    assert code == 0
    assert "M1 out in 0 0 nch" in out and "CL out 0" in out
    assert "cs_stage.inc" not in out  # its devices are inlined, so its line would double them
    assert '.lib "vendor lib/models 2024.lib" tt' in out and ".model" not in out


def test_lib_section_with_subcircuits_and_devices(tmp_path: Path):
    (tmp_path / "cells.lib").write_text(
        ".lib typ\n.subckt buf a y\nR1 a y 1k\n.ends\nXB in out buf\n.endl typ\n"
        ".lib slow\n.subckt buf a y\nR1 a y 2k\n.ends\n.endl slow\n"
    )
    deck = tmp_path / "d.cir"
    deck.write_text("t\nV1 in 0 1\n.lib cells.lib typ\nR2 out 0 1k\n.end\n")
    n = read_netlist(deck)
    flat = flatten(n)
    assert [d.name for d in flat.devices] == ["V1", "XB.R1", "R2"]
    assert flat.devices[1].value == 1e3
    assert [d.code for d in check(n)] == []


def test_inline_is_identity_without_resolved_content_and_renames_clashes(tmp_path: Path):
    plain = parse_spice("t\nR1 a 0 1\n")
    assert inline_includes(plain) is plain
    (tmp_path / "r.inc").write_text("R1 a 0 2\n")
    deck = tmp_path / "d.cir"
    deck.write_text("t\n.include r.inc\nR1 a 0 1\n.include r.inc\n")
    n = inline_includes(read_spice(deck))
    assert [(d.name, d.value) for d in n.devices] == [("R1", 2.0), ("R1__2", 1.0), ("R1__3", 2.0)]
    assert [(w.code, w.line) for w in n.warnings] == [("duplicate-name", 3), ("duplicate-name", 1)]


def test_pure_library_stays_an_include_for_flatten_and_check():
    n = read_netlist(INC / "lt_style.cir")
    kept = inline_includes(n, libraries=False)
    assert kept is n  # divider.sub holds only a definition
    assert [s.name for s in inline_includes(n).subckts] == ["divider"]
    assert [d.name for d in flatten(n).devices] == ["V1", "X1.R1", "X1.R2"]


# ---------------------------------------------------------------- .end inside an include


def test_end_inside_an_included_file_does_not_end_the_read(tmp_path: Path):
    (tmp_path / "a.inc").write_text("R2 b 0 1k\n.end\nR3 b 0 1k\n")
    deck = tmp_path / "d.cir"
    deck.write_text("t\nV1 a 0 1\nR1 a b 1k\n.include a.inc\nR4 b 0 1k\n.end\nR5 b 0 1k\n")
    n = inline_includes(read_spice(deck))
    assert [d.name for d in n.devices] == ["V1", "R1", "R2", "R3", "R4"]  # as ngspice 39: 0.75 mA


# ---------------------------------------------------------------- LTspice .lib FILE


def test_ltspice_lib_with_one_argument_includes_the_file():
    n = read_netlist(INC / "lt_style.cir")
    (inc,) = n.includes
    assert (inc.path, inc.section, inc.netlist is not None) == ("divider.sub", None, True)
    assert n.device("X1").pins == ("p", "n")


def test_one_word_lib_is_still_a_section_and_quoted_one_is_a_file(tmp_path: Path):
    (tmp_path / "tt").write_text("R9 a 0 1\n")
    n = parse_spice("* lib\n.lib tt\nR1 a 0 1\n.endl\n", path=tmp_path / "m.lib")
    assert [d.name for d in n.devices] == ["R1"] and n.includes == ()
    n = parse_spice("t\n.lib 'tt'\nR1 a 0 1\n", path=tmp_path / "d.cir")
    assert n.includes[0].path == "tt" and n.includes[0].netlist is not None


# ---------------------------------------------------------------- paths with spaces, UNC paths


@pytest.mark.parametrize(
    ("line", "path", "section"),
    [
        (r".include C:\Program Files\LTC\lib\cmp\standard.bjt", r"C:\Program Files\LTC\lib\cmp\standard.bjt", None),
        (r".lib My Documents\x.lib", r"My Documents\x.lib", None),
        (r'.lib "C:\Program Files\models.lib" tt', r"C:\Program Files\models.lib", "tt"),
        (r".lib C:\Program Files\models.lib FF", r"C:\Program Files\models.lib", "ff"),
        (".include //server/share/x.inc", "//server/share/x.inc", None),
        (".include //server/share/x.inc $ a comment", "//server/share/x.inc", None),
        (r".inc \\server\share\x.inc", r"\\server\share\x.inc", None),
        (".include 'My Documents/x.lib'", "My Documents/x.lib", None),
    ],
)
def test_include_paths_are_one_path(tmp_path: Path, line: str, path: str, section: str | None):
    n = parse_spice(f"t\nR1 a 0 1\n{line}\n", path=tmp_path / "d.cir")
    (inc,) = n.includes
    assert (inc.path, inc.section, inc.netlist) == (path, section, None)
    (w,) = n.warnings
    assert (w.code, w.line) == ("include-missing", 3)
    assert w.message.startswith(f"included file not found: {path} (looked in ")


def test_quoted_path_with_spaces_and_backslashes_is_found():
    n = read_netlist(AMP)
    assert n.includes[1].netlist is not None
    n = parse_spice("t\nV1 in 0 1\n.include cells\\cs_stage.inc\n", path=AMP)
    assert n.includes[0].netlist is not None and n.includes[0].file == str(INC / "cells" / "cs_stage.inc")


# ---------------------------------------------------------------- missing includes, search path


@pytest.fixture
def missing(tmp_path: Path) -> Path:
    deck = tmp_path / "d.cir"
    deck.write_text("t\nV1 a 0 1\nR1 a b 1k\n.include vendor.inc\nR2 b 0 1k\n.end\n")
    return deck


def test_a_missing_include_does_not_stop_the_commands(missing: Path, capsys):
    code, out, err = cli(capsys, "parse", missing, "--json")
    info = json.loads(out)
    assert code == 0 and info["devices"] == 3
    assert info["warnings"] == [f"{missing}:4: warning: included file not found: vendor.inc (looked in {missing.parent})"]
    code, out, _ = cli(capsys, "graph", missing)
    assert code == 0 and out.startswith("3 devices")
    code, out, _ = cli(capsys, "convert", missing, "--to", "spice")
    assert code == 0 and '.include "vendor.inc"' in out and "R2 b 0 1k" in out
    code, out, err = cli(capsys, "check", missing)
    assert code == 0 and f"{missing}:4: warning: included file not found: vendor.inc" in out
    assert "0 error(s), 1 warning(s)" in err


@pytest.mark.parametrize("command", [["parse"], ["graph"], ["convert", "--to", "json"], ["check"]])
def test_strict_makes_a_missing_include_fatal(missing: Path, capsys, command):
    code, out, err = cli(capsys, *command, missing, "--strict")
    shown = out + err
    assert code != 0 and f"{missing}:4:" in shown and "vendor.inc" in shown and "Traceback" not in shown


def test_include_path_option_and_environment(missing: Path, tmp_path: Path, capsys, monkeypatch):
    lib = tmp_path / "vendor"
    lib.mkdir()
    (lib / "vendor.inc").write_text("C1 b 0 1p\n")
    code, out, _ = cli(capsys, "parse", missing, "--json", "--include-path", tmp_path / "nowhere", "--include-path", lib)
    info = json.loads(out)
    assert code == 0 and info["devices"] == 4 and info["warnings"] == []
    monkeypatch.setenv("CKT_INCLUDE_PATH", f"{tmp_path / 'nowhere'}{__import__('os').pathsep}{lib}")
    n = read_netlist(missing)
    assert n.includes[0].file == str(lib / "vendor.inc") and n.warnings == ()
    assert [d.name for d in inline_includes(n).devices] == ["V1", "R1", "C1", "R2"]
    code, out, _ = cli(capsys, "graph", missing)
    assert out.startswith("4 devices")


def test_own_folder_is_searched_before_the_include_path(missing: Path, tmp_path: Path):
    lib = tmp_path / "vendor"
    lib.mkdir()
    (lib / "vendor.inc").write_text("C1 b 0 1p\n")
    (missing.parent / "vendor.inc").write_text("C1 b 0 2p\n")
    n = inline_includes(read_netlist(missing, include_path=[lib]))
    assert n.device("C1").value == 2e-12


def test_text_without_a_file_uses_the_search_path(tmp_path: Path):
    (tmp_path / "m.inc").write_text(".model nch nmos level=1\n")
    n = parse_spice("t\nM1 d g 0 0 nch\n.include m.inc\n", include_path=[tmp_path])
    assert [m.name for m in n.all_models()] == ["nch"]


def test_simulation_needs_the_file(missing: Path, tmp_path: Path):
    from ckt.sim.deck import prepare_deck

    with pytest.raises(CktError, match=rf"{missing}:4: included file not found: vendor\.inc"):
        prepare_deck(missing)
    lib = tmp_path / "vendor"
    lib.mkdir()
    (lib / "vendor.inc").write_text("C1 b 0 1p\n")
    deck, files = prepare_deck(read_netlist(missing, include_path=[lib]))
    assert f'.include "{lib / "vendor.inc"}"' in deck and files == (str(lib / "vendor.inc"),)


# ---------------------------------------------------------------- format detection, line numbers


def test_plain_deck_in_a_txt_file_is_spice(tmp_path: Path, capsys):
    deck = tmp_path / "rc.txt"
    deck.write_text("rc low-pass\nV1 in 0 1\nR1 in out 1k\nC1 out 0 1n\n")
    assert detect_format(deck, deck.read_text()) == "spice"
    assert [d.name for d in read_netlist(deck).devices] == ["V1", "R1", "C1"]
    code, out, _ = cli(capsys, "parse", deck)
    assert code == 0 and "3 devices" in out
    spectre = tmp_path / "s.txt"
    spectre.write_text("R1 (a b) resistor r=1k\nC1 (b 0) capacitor c=1p\n")
    assert detect_format(spectre, spectre.read_text()) == "spectre"


def test_missing_endl_points_at_the_lib_line(tmp_path: Path):
    lib = tmp_path / "c.lib"
    lib.write_text("* corners\n.lib tt\n.model n nmos\n.lib ff\n.model n nmos\n.endl ff\n")
    with pytest.raises(NetlistParseError) as info:
        read_spice(lib)
    assert [(d.line, d.code) for d in info.value.diagnostics] == [(4, "lib-nested")]
    lib.write_text("* corners\n.model p pmos\n.lib tt\n.model n nmos\n")
    with pytest.raises(NetlistParseError) as info:
        read_spice(lib)
    (d,) = info.value.diagnostics
    assert (d.file, d.line, d.message) == (str(lib), 3, "missing .endl for .lib section tt")


def test_nul_byte_error_names_its_line(tmp_path: Path, capsys):
    deck = tmp_path / "n.cir"
    deck.write_bytes(b"t\nR1 a 0 1\nR2 a\x00 0 1\n")
    for read in (read_spice, read_netlist):
        with pytest.raises(NetlistParseError) as info:
            read(deck)
        assert (info.value.file, info.value.line) == (str(deck), 3)
    with pytest.raises(NetlistParseError) as info:
        parse_spice("t\nR1 a 0 1\n\nR2 a\x00 0 1\n")
    assert info.value.line == 4
    (tmp_path / "bad.inc").write_bytes(b"R3 a 0 1\n\x00\n")
    top = tmp_path / "top.cir"
    top.write_text("t\nR1 a 0 1\n.include bad.inc\n")
    with pytest.raises(NetlistParseError) as info:
        read_spice(top)
    assert (Path(info.value.file).name, info.value.line) == ("bad.inc", 2)
    code, _, err = cli(capsys, "parse", deck)
    assert code == 2 and f"{deck}:3: error: not a text netlist (NUL byte)" in err


def test_unquoted_path_with_trailing_words_falls_back_to_the_first_word(tmp_path: Path):
    (tmp_path / "m.inc").write_text("R2 a 0 1\n")
    n = parse_spice("t\nR1 a 0 1\n.include m.inc old copy\n", path=tmp_path / "d.cir")
    assert n.includes[0].path == "m.inc" and n.includes[0].netlist is not None
    assert [(w.code, w.message) for w in n.warnings] == [("include-extra", "extra text after .include file ignored: old copy")]
    (tmp_path / "m.inc old copy").write_text("R3 a 0 1\n")  # a file of that whole name wins
    n = parse_spice("t\nR1 a 0 1\n.include m.inc old copy\n", path=tmp_path / "d.cir")
    assert n.includes[0].path == "m.inc old copy" and n.warnings == ()


def test_graph_round_trip_returns_the_inlined_netlist():
    from ckt.graph.bipartite import from_bipartite_nx
    from ckt.graph.pins import from_pins_nx, to_pins_nx

    n = read_netlist(AMP)
    inlined = inline_includes(n, libraries=False)
    assert from_bipartite_nx(to_bipartite_nx(n)) == inlined
    assert from_pins_nx(to_pins_nx(n)) == inlined
    assert [inc.path for inc in inlined.includes] == ["vendor lib/models 2024.lib"]
