"""The PDK registry: names, files, corners, errors, and the ``ckt pdk`` command."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from ckt.cli import main
from ckt.errors import PdkError
from ckt.pdk import get_pdk, list_pdks, models_root

NAMES = ["ptm180", "ptm130", "ptm90", "ptm65", "ptm45", "ptm45hk", "ptm32", "ptm22", "sky130", "gf180"]


def test_every_pdk_is_registered_with_its_files_present():
    pdks = list_pdks()
    assert [p.name for p in pdks] == NAMES
    for p in pdks:
        assert p.files and all(f.is_absolute() and f.is_file() for f in p.files), p.name
        assert p.missing_files() == []


def test_facts_of_the_autockt_card_and_foundry_pdks():
    ptm45 = get_pdk("PTM45")
    assert (ptm45.vdd, ptm45.node_nm, ptm45.nmos, ptm45.device_style) == (1.2, 45, "nmos", "model")
    assert ptm45.files[0].name == "ptm45nm_bulk_autockt.txt"
    sky = get_pdk("sky130")
    assert (sky.device_style, sky.length_unit, sky.default_corner) == ("subckt", 1e-6, "tt")
    assert list(sky.corners) == ["tt"]
    gf = get_pdk("gf180")
    assert gf.spice_options == ("set ngbehavior=hs",)
    assert [(i.path.rsplit("/", 1)[1], i.section) for i in gf.includes("ss")] == [
        ("design.ngspice", None),
        ("sm141064.ngspice", "ss"),
    ]


def test_ptm_has_one_unnamed_corner():
    ptm = get_pdk("ptm90")
    assert [i.path for i in ptm.includes()] == [str(models_root() / "ptm" / "ptm90nm_bulk.pm")]
    with pytest.raises(PdkError, match="PDK ptm90 has no corners"):
        ptm.includes("ff")


def test_unknown_corner_lists_the_known_ones():
    with pytest.raises(PdkError, match=r"PDK sky130 has no corner 'ss' \(known: tt\)"):
        get_pdk("sky130").includes("ss")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(PdkError, match="unknown PDK 'tsmc28'; known PDKs: ptm180, ptm130, .*, sky130, gf180"):
        get_pdk("tsmc28")


def test_missing_files_are_named(tmp_path, monkeypatch):
    (tmp_path / "ptm").mkdir()
    shutil.copy(models_root() / "ptm" / "ptm65nm_bulk.pm", tmp_path / "ptm")
    monkeypatch.setenv("CKT_PDK_MODELS", str(tmp_path))
    assert get_pdk("ptm65").files == (tmp_path.resolve() / "ptm" / "ptm65nm_bulk.pm",)
    with pytest.raises(PdkError, match=r"PDK ptm32: model file\(s\) missing: .*ptm32nm_bulk\.pm"):
        get_pdk("ptm32")
    assert get_pdk("ptm32", check_files=False).missing_files() == [tmp_path.resolve() / "ptm" / "ptm32nm_bulk.pm"]


def test_cli_list_table_and_json():
    runner = CliRunner()
    table = runner.invoke(main, ["pdk", "list"])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["name", "node", "vdd", "nmos", "pmos", "style", "files"]
    assert lines[9].split()[:6] == ["sky130", "130nm", "1.8V", "sky130_fd_pr__nfet_01v8", "sky130_fd_pr__pfet_01v8", "subckt"]
    data = json.loads(runner.invoke(main, ["pdk", "list", "--json"]).output)
    assert [d["name"] for d in data] == NAMES
    assert data[4]["files"][0].endswith("ptm45nm_bulk_autockt.txt")


def test_cli_show_json_has_the_deck_header():
    result = CliRunner().invoke(main, ["pdk", "show", "gf180", "--corner", "ff", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["deck_header"][3].endswith('sm141064.ngspice" ff')
    assert info["spice_options"] == ["set ngbehavior=hs"]


def test_cli_show_unknown_pdk_is_a_clean_error():
    from ckt.cli import run

    assert run(["pdk", "show", "nope"]) == 2
