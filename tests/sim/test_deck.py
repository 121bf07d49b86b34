"""ckt.sim.deck: overrides, absolute includes, PDK binding, extra models, temperature, library decks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ckt.errors import CktError, NetlistError, PdkError
from ckt.netlist.parse_spice import parse_spice
from ckt.sim import simulate
from ckt.sim.deck import parse_quantity, prepare, prepare_deck
from tests.conftest import ROOT, requires_ngspice

MODEL = """* tiny model card
.model nmos4 nmos level=1 vto=0.5 kp=100u
.model pmos4 pmos level=1 vto=-0.5 kp=40u
"""

DIVIDER = """divider with a model include
.include "models/card.lib"
.param r1=1k r2=1k rtot={r1+r2}
v1 in 0 dc 1
ra in mid {r1}
rb mid 0 {r2}
m1 d mid 0 0 nmos4 w=1u l=1u
rd in d 10k
.dc v1 0 1 0.5
.meas dc vmid find v(mid) at=1
.end
"""


@pytest.fixture()
def divider(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "card.lib").write_text(MODEL)
    path = tmp_path / "sub" / "divider.cir"
    path.parent.mkdir()
    path.write_text(DIVIDER.replace('"models/card.lib"', '"../models/card.lib"'))
    return path


def test_includes_become_absolute_and_listed(divider: Path):
    deck, files = prepare_deck(divider)
    card = str((divider.parent.parent / "models" / "card.lib").resolve())
    assert f'.include "{card}"' in deck
    assert files == (card,)
    assert ".meas dc vmid find v(mid) at=1" in deck


def test_override_changes_param_and_derived_ones(divider: Path):
    deck, _ = prepare_deck(divider, overrides={"R2": "3k"})
    assert ".param r2=3k" in deck
    assert ".param rtot={r1+r2}" in deck  # derived parameters follow the override inside ngspice


def test_unknown_override_lists_params(divider: Path):
    with pytest.raises(NetlistError, match=r"no .param named 'cc'; parameters: r1, r2, rtot"):
        prepare_deck(divider, overrides={"cc": 1e-12})
    with pytest.raises(CktError, match="not a number"):
        prepare_deck(divider, overrides={"r1": "abc"})


def test_missing_include_and_model_file(tmp_path: Path, divider: Path):
    net = parse_spice('t\n.include "nowhere.lib"\nr1 a 0 1k\n.end\n')
    with pytest.raises(CktError, match="included file not found: nowhere.lib"):
        prepare_deck(net)
    with pytest.raises(CktError, match="model file not found"):
        prepare_deck(divider, models=[tmp_path / "absent.lib"])


def test_extra_models_temperature_and_corner_rules(divider: Path, tmp_path: Path):
    extra = tmp_path / "extra.lib"
    extra.write_text("* nothing\n")
    deck, files = prepare_deck(divider, models=[extra], temp=85)
    assert f'.include "{extra.resolve()}"' in deck
    assert str(extra.resolve()) in files
    assert ".temp 85" in deck
    with pytest.raises(PdkError, match="needs a PDK"):
        prepare_deck(divider, corner="ss")


def test_pdk_binding_adds_its_files(divider: Path):
    prepared = prepare(divider, pdk="sky130")
    deck = prepared.deck()
    assert "sky130_fd_pr__nfet_01v8" in deck
    assert any(f.endswith("sky130_min_tt.lib.spice") for f in prepared.files)
    with pytest.raises(PdkError, match="unknown PDK"):
        prepare(divider, pdk="nope")


def test_library_deck_drops_top_level_keeps_options(divider: Path):
    net = parse_spice(divider.read_text().replace(".dc", ".option reltol=1e-4\n.dc"), path=divider)
    deck = prepare(net).deck(["vx x 0 dc 1", ".op"], title="lib")
    assert "ra in mid" not in deck and ".meas" not in deck
    assert ".option reltol=1e-4" in deck
    assert deck.startswith(".title lib") and deck.rstrip().endswith("vx x 0 dc 1\n.op\n.end".rstrip())


def test_parse_quantity():
    assert parse_quantity("2p") == 2e-12
    assert parse_quantity("10meg") == 10e6
    assert parse_quantity(1.5) == 1.5
    with pytest.raises(CktError, match="not a number"):
        parse_quantity("x1")


@pytest.mark.ngspice
@requires_ngspice
def test_prepared_deck_runs_from_another_directory(divider: Path, tmp_path: Path, monkeypatch):
    deck, _ = prepare_deck(divider, overrides={"r2": "3k"})
    monkeypatch.chdir(tmp_path)
    result = simulate(deck)
    assert result.ok, result.message
    assert result.measurements["vmid"] == pytest.approx(0.75, rel=1e-6)


@pytest.mark.ngspice
@requires_ngspice
def test_bundled_example_runs_as_is_from_elsewhere(tmp_path: Path, monkeypatch):
    path = ROOT / "netlists" / "ota_5t.cir"
    if not path.is_file():
        pytest.skip("example not bundled")
    monkeypatch.chdir(tmp_path)
    base = simulate(prepare_deck(os.path.relpath(path, tmp_path))[0])
    assert base.ok, base.message
    bigger = simulate(prepare_deck(path, overrides={"cload": "4p"})[0])
    assert bigger.measurements["ugbw"] < 0.5 * base.measurements["ugbw"]


def test_relative_netlist_path_with_relative_include_prepares(tmp_path: Path, monkeypatch) -> None:
    """A netlist named relative to the working directory, including a file relative to itself (the demo)."""
    from ckt.sim.deck import prepare_deck

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "d.lib").write_text(".model dmod d is=1e-14\n")
    (tmp_path / "decks").mkdir()
    (tmp_path / "decks" / "top.cir").write_text('top\n.include "../models/d.lib"\nd1 a 0 dmod\nv1 a 0 0.6\n.op\n.end\n')
    monkeypatch.chdir(tmp_path)
    deck, files = prepare_deck(Path("decks/top.cir"))
    assert files == (str(tmp_path / "models" / "d.lib"),)
    assert str(tmp_path / "models" / "d.lib") in deck
