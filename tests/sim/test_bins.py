"""Pruned copies of binned model libraries: the bins kept, and results equal to the full library's.

A deck whose MOSFETs bind to binned cards runs, after its first load, on a copy of its model files
holding only the cards its devices' geometry can select; every test against ngspice compares those
runs with fresh loads of the full library (``reuse=False``), exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ckt.sim.backends.bins import (
    Bin,
    BinnedLibrary,
    model_bins,
    prune_text,
    read_geometry,
    script_keeps_circuit,
    seeds_random,
    stub_text,
)
from ckt.sim.backends.shared import SharedSession
from ckt.sim.deck import prepare_deck
from ckt.sim.decktext import without_control
from ckt.sim.result import SimJob
from tests.conftest import ROOT, requires_ngspice

LIBRARY = """* a binned family
.subckt cell d g s b
.param l=1 w=1
m0 d g s b cell__model l={l} w={w}
.model cell__model.0 nmos
* Model Flag Parameters
+ lmin = 1.0e-06 lmax = 2.0e-06 wmin = 1.0e-06 wmax = 5.0e-06
+ level = 54.0
.model cell__model.1 nmos
+ lmin = 1.5e-07 lmax = 1.0e-06 wmin = 1.0e-06 wmax = 5.0e-06
+ level = 54.0

.model cell__model.2 nmos lmin=1.5e-07 lmax=1.0e-06
+ wmin = 5.0e-06 wmax = 1.0e-04 level = 54.0
.model cell__model.3 nmos lmin={lx} lmax=1e-6 wmin=1e-6 wmax=5e-6
.model cell__model.4 nmos lmin=0.15u lmax=1u wmin=1u wmax=5u
.model plain nmos level=54
.ends
"""


def test_binned_cards_are_read_in_file_order_with_their_boxes() -> None:
    bins = model_bins(LIBRARY)
    assert [b.name for b in bins] == ["cell__model.0", "cell__model.1", "cell__model.2"]
    assert bins[2] == Bin("cell__model.2", 1.5e-07, 1.0e-06, 5.0e-06, 1.0e-04)
    # bounds written as an expression or with a suffix, and unbinned cards, are never dropped
    pruned = prune_text(LIBRARY, frozenset({"cell__model.1"}))
    assert "cell__model.0" not in pruned and "cell__model.2" not in pruned
    assert "wmin = 5.0e-06" not in pruned
    for kept in ("cell__model.1 nmos", "cell__model.3", "cell__model.4", ".model plain", ".ends", "m0 d g s b"):
        assert kept in pruned
    assert prune_text(LIBRARY, frozenset(b.name for b in bins)).splitlines() == LIBRARY.splitlines()


def test_stub_cards_keep_name_type_level_and_box_only() -> None:
    stub = stub_text(LIBRARY).splitlines()
    assert ".model cell__model.0 nmos level=54.0 lmin=1e-06 lmax=2e-06 wmin=1e-06 wmax=5e-06" in stub
    assert not any("Model Flag" in line for line in stub)
    assert model_bins("\n".join(stub)) == model_bins(LIBRARY)  # the same boxes, in the same order
    for kept in (".model cell__model.3 nmos lmin={lx}", ".model plain nmos level=54", "m0 d g s b cell__model"):
        assert any(line.startswith(kept) for line in stub)
    deck = "t\nr1 1 0 1k\n.control\nop\nprint v(1)\n.endc\nv1 1 0 1\n.end\n"
    assert without_control(deck) == "t\nr1 1 0 1k\nv1 1 0 1\n.end\n"
    assert without_control("t\n.control\nop\n") == "t\n"


def test_a_device_on_a_shared_edge_needs_every_card_that_touches_it(tmp_path: Path) -> None:
    library = BinnedLibrary({str(tmp_path / "lib.spice"): LIBRARY}, tmp_path / "copies")
    assert library.needs([(1.0e-6, 2e-6)]) == {"cell__model.0", "cell__model.1"}
    assert library.needs([(1.0e-6 + 1e-9, 2e-6)]) == {"cell__model.0", "cell__model.1"}  # within ngspice's 1 nm
    assert library.needs([(1.2e-6, 2e-6)]) == {"cell__model.0"}
    assert library.needs([(5e-7, 5e-6)]) == {"cell__model.1", "cell__model.2"}
    assert library.needs([(5e-8, 2e-6)]) == frozenset()
    library.grow([(1.2e-6, 2e-6)])
    assert library.covers([(1.5e-6, 3e-6)]) and not library.covers([(5e-7, 3e-6)])


SHOW = """BSIM4v5: Berkeley Short Channel IGFET Model-4
device m.xop.xm8.msky130_fd_ m.xop.xm7.msky130_fd_
model xop.xm8:sky130_fd_pr_ xop.xm7:sky130_fd_pr_
l               1.8e-07               5e-07
w                 1e-06                 4e-06
nf                     1                     2
BSIM4v5: Berkeley Short Channel IGFET Model-4
device m.xop.xm5.msky130_fd_
model xop.xm5:sky130_fd_pr_
l               1.8e-07
w                 2e-06
nf                     1
"""


def test_the_geometry_listing_gives_each_device_and_its_width_per_finger() -> None:
    assert read_geometry(SHOW.splitlines()) == ((1.8e-07, 1e-06), (5e-07, 4e-06), (5e-07, 2e-06), (1.8e-07, 2e-06))
    assert read_geometry([]) == ()
    assert read_geometry(SHOW.replace("w                 2e-06", "w   2e-06   3e-06").splitlines()) is None
    assert read_geometry(SHOW.replace("1e-06", "oops").splitlines()) is None


def test_seeded_decks_and_scripts_that_rebuild_the_circuit_are_not_pruned() -> None:
    assert seeds_random("t\n.options seed=4 reltol=1e-4\n") and seeds_random("t\n.option SEED = 1\n")
    assert not seeds_random("t\n.options reltol=1e-4\n.param seed=3\n")
    plain = "t\n.control\nop\nac dec 10 1 1g\nlet h = v(out)\nmeas ac f when vdb(out)=0\nsetplot $p\n.endc\n"
    assert script_keeps_circuit(plain) and script_keeps_circuit("t\nr1 1 0 1k\n.end\n")
    for command in ("alterparam w=2u\nreset", "alter m1 w=2u", "source other.cir", "remcirc"):
        assert not script_keeps_circuit(plain.replace("op\n", f"op\n{command}\n"))
    # a block with no .endc runs to the end, and *# lines are commands anywhere
    assert not script_keeps_circuit("t\n.control\nop\nreset\n") and not script_keeps_circuit("t\n*#reset\n")
    assert script_keeps_circuit("t\n* a comment about reset\n")


def test_copies_keep_relative_includes_and_link_unchanged_files(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "top.lib").write_text('.include "cell.spice"\n.include "extra.spice"\n')
    (models / "cell.spice").write_bytes(b"* caf\xe9 (latin-1), kept byte for byte\n" + LIBRARY.encode())
    (models / "extra.spice").write_text(".param k=1\n")
    names = ("top.lib", "cell.spice", "extra.spice")
    texts = {str(models / n): (models / n).read_text(encoding="latin-1") for n in names}
    library = BinnedLibrary(texts, tmp_path / "copies")
    library.grow([(1.2e-6, 2e-6)])
    deck = library.deck(f'title\n.include "{models / "top.lib"}"\n.end\n', cwd=str(tmp_path))
    copy = Path(deck.splitlines()[1].split('"')[1])
    assert copy.is_symlink() and copy.parent != models and copy.read_text() == texts[str(models / "top.lib")]
    cell = copy.parent / "cell.spice"
    assert not cell.is_symlink() and cell.read_bytes().startswith(b"* caf\xe9 (latin-1)")
    assert "cell__model.0" in cell.read_text("latin-1") and "cell__model.1" not in cell.read_text("latin-1")
    assert (copy.parent / "extra.spice").is_symlink()
    relative = library.deck('title\n.include "models/top.lib"\n.end\n', cwd=str(tmp_path))
    assert relative.splitlines()[1] == deck.splitlines()[1]
    library.grow([(5e-7, 2e-6)])
    grown = Path(library.deck(f'title\n.include "{models / "top.lib"}"\n.end\n', cwd=str(tmp_path)).splitlines()[1]
                 .split('"')[1])
    assert grown.parent != copy.parent and "cell__model.1" in (grown.parent / "cell.spice").read_text("latin-1")
    assert not BinnedLibrary({"/m\u00f6dels/cell.spice": LIBRARY}, tmp_path / "c").usable
    # a model file's own script runs as the deck loads: one that rebuilds the circuit stops pruning
    assert not BinnedLibrary({"/m/cell.spice": LIBRARY + ".control\nreset\n.endc\n"}, tmp_path / "c").usable
    assert BinnedLibrary({"/m/cell.spice": LIBRARY + ".control\nop\n.endc\n"}, tmp_path / "c").usable


# ---- against ngspice --------------------------------------------------------------------------

# A top-level binned family built from the PTM 45 nm card: four bins with different thresholds, so
# a device bound to the wrong one gives another result.
_PTM = ROOT / "pdk_models" / "ptm" / "ptm45nm_bulk_autockt.txt"
_BOXES = ((4.5e-8, 1e-7, 1e-7, 1e-6), (4.5e-8, 1e-7, 1e-6, 1e-4), (1e-7, 1e-6, 1e-7, 1e-6), (1e-7, 1e-6, 1e-6, 1e-4))


def _family(folder: Path) -> Path:
    lines = _PTM.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(".model  nmos"))
    end = next(i for i, line in enumerate(lines) if i > start and line.startswith(".model"))
    body = [line for line in lines[start + 1:end] if line.strip()]
    cards = []
    for k, (lmin, lmax, wmin, wmax) in enumerate(_BOXES):
        card = "\n".join(body).replace("vth0    = 0.22", f"vth0    = {0.22 + 0.03 * k:.2f}")
        box = f"+ lmin = {lmin:g} lmax = {lmax:g} wmin = {wmin:g} wmax = {wmax:g}"
        cards.append(f".model nch.{k} nmos level = 54\n{box}\n" + card)
    (folder / "family.lib").write_text('.include "nch.spice"\n')
    (folder / "nch.spice").write_text("* four bins\n" + "\n".join(cards) + "\n")
    return folder / "family.lib"


def _stage(library: Path, w: str, length: str, extra: str = "") -> SimJob:
    deck = (f'* common source, binned\n.include "{library}"\n.param wd={w} lg={length}\nvdd vdd 0 1.0\n'
            f"vin g 0 0.55\nrl vdd d 20k\nm1 d g 0 0 nch w={{wd}} l={{lg}}\n{extra}"
            ".dc vin 0.5 0.6 0.05\n.meas dc vd find v(d) at=0.55\n.end\n")
    return SimJob(deck)


def _library(session: SharedSession, job: SimJob) -> BinnedLibrary | None:
    return session._binned(job)


@requires_ngspice
def test_designs_across_bin_edges_on_pruned_copies_equal_the_full_library(tmp_path: Path) -> None:
    library = _family(tmp_path)
    session = SharedSession.get()
    designs = [("0.5u", "60n"), ("0.5u", "200n"), ("2u", "200n"), ("1u", "100n"), ("0.5u", "100n"),
               ("1u", "60n"), ("0.5u", "60n"), ("2u", "500n")]
    jobs = [_stage(library, w, length) for w, length in designs]
    for job in jobs:  # learn the bins, then compare with the same history in both passes
        session.run(job)
    fresh = [session.run(SimJob(j.deck, reuse=False)).measurements["vd"] for j in jobs]
    pruned = [session.run(j).measurements["vd"] for j in jobs]
    assert pruned == fresh
    assert len({round(v, 6) for v in fresh}) >= 5  # the bins give different results
    binned = _library(session, jobs[0])
    assert binned is not None and binned.keep == {"nch.0", "nch.1", "nch.2", "nch.3"}
    assert session.loaded is not None and session.loaded.pruned


@requires_ngspice
def test_a_device_on_an_edge_the_copy_half_covers_gets_the_full_library_s_card(tmp_path: Path) -> None:
    library = _family(tmp_path)
    session = SharedSession.get()
    # at L = 100 nm, W = 1 um every box touches the device and ngspice 39 takes the first, nch.0;
    # a copy holding only nch.3 (learnt from the first design) would bind it to nch.3 instead
    first, edge = _stage(library, "2u", "500n"), _stage(library, "1u", "100n")
    session.run(first)
    binned = _library(session, first)
    assert binned is not None and binned.keep == {"nch.3"}
    reference = session.run(SimJob(edge.deck, reuse=False)).measurements["vd"]
    session.run(first)
    assert session.loaded is not None and session.loaded.pruned
    assert session.run(edge).measurements["vd"] == pytest.approx(reference, rel=1e-9)
    # the geometry came from a load on stub cards, and the design ran on the grown copy
    assert binned.keep == {"nch.0", "nch.1", "nch.2", "nch.3"}
    assert session.loaded is not None and session.loaded.pruned
    assert session.run(edge).measurements["vd"] == pytest.approx(reference, rel=1e-9)


@requires_ngspice
def test_a_copy_that_fails_for_another_reason_turns_pruning_off(tmp_path: Path) -> None:
    library = _family(tmp_path)
    session = SharedSession.get()
    # m2 names a bin card directly: the copy, cut to m1's geometry, lacks it
    extra = "m2 d g 0 0 nch.3 w={wd} l={lg}\n"
    jobs = [_stage(library, "0.5u", "60n", extra), _stage(library, "0.6u", "60n", extra)]
    fresh = [session.run(SimJob(j.deck, reuse=False)) for j in jobs]
    runs = [session.run(j) for j in jobs + jobs]
    assert all(r.ok for r in runs) and [r.measurements for r in runs[2:]] == [f.measurements for f in fresh]
    assert _library(session, jobs[0]) is None


@requires_ngspice
def test_seeded_monte_carlo_decks_load_the_full_library() -> None:
    deck, files = prepare_deck(ROOT / "netlists" / "two_stage_miller.cir", overrides={"vdd": 1.8, "vcm": 0.9},
                               pdk="sky130")
    session = SharedSession.get()
    nominal = SimJob(deck, files=files)
    assert _library(session, nominal) is not None
    seeded = SimJob(deck.replace(".end", ".options seed=7\n.end"), files=files)
    assert _library(session, seeded) is None


@requires_ngspice
def test_sky130_testbench_designs_on_pruned_copies_equal_the_full_library() -> None:
    from ckt.sim.testbench.opamp import OpAmpTestbench

    tb = OpAmpTestbench(ROOT / "netlists" / "two_stage_miller.cir", "miller_opamp", pdk="sky130", vdd=1.8,
                        metric_names=("gain_db", "ugbw", "pm_deg", "power_w"))
    session = SharedSession.get()
    designs = [{"w6": 5e-6, "l2": 180e-9}, {"w6": 7e-6, "l2": 250e-9}, {"w6": 6.999e-6, "l1": 500e-9},
               {"w6": 20e-6, "l2": 1e-6}]
    jobs = [tb.jobs(d) for d in designs]
    for design in jobs:
        for job in design:
            session.run(job)
    fresh = [tb.metrics([session.run(SimJob(j.deck, vectors=j.vectors, files=j.files, reuse=False)) for j in d])
             for d in jobs]
    pruned = [tb.metrics([session.run(j) for j in d]) for d in jobs]
    assert [m.values for m in pruned] == [m.values for m in fresh]
    assert fresh[0].values["gain_db"] > 30
    binned = _library(session, jobs[0][0])
    assert binned is not None and 0 < len(binned.keep) < binned.bins / 4
