"""Generation end to end: the DC check, memorisation, ``ckt generate`` and ``ckt eval generator`` with
a tiny generator trained here on our own circuits, and the refusals a user meets first."""

from __future__ import annotations

import json
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from ckt.cli import run
from ckt.errors import ExportError
from ckt.gen.dcop import dc_converges, dc_deck
from ckt.gen.evaluate import memorisation, ngrams
from ckt.gen.tokens import encode, ties
from ckt.gen.train import train_generator
from ckt.gen.vocab import Vocab
from ckt.netlist.ir import Device, DeviceKind, Netlist
from ckt.netlist.read import read_netlist
from tests.conftest import requires_ngspice
from tests.datasets.fixtures import _add
from tests.gen.small_circuits import DECKS, OPAMP_PORTS, all_circuits, circuit
from tests.gen.test_train import TINY

V = Vocab.default()
IDS = {"ota5": 1, "ota5p": 2, "miller": 3, "miller_rz": 4, "rload": 5, "mirror": 98, "cascode_mirror": 99}
"""Our small circuits at AnalogGenie IDs of their type (1-97: Opamp, 98-159: Mirror)."""


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generator")
    train_generator(replace(TINY, epochs=8, out=str(out)), all_circuits())
    return out / "best.pt"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our small circuits as an AnalogGenie-style archive: the novelty and memorisation reference."""
    path = tmp_path_factory.mktemp("ag") / "ag.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, cid in IDS.items():
            _, ports, text = DECKS[name]
            _add(tar, f"Dataset/{cid}/{cid}.cir", text.lstrip())
            _add(tar, f"Dataset/{cid}/Port{cid}.txt", " ".join(ports))
    return path


def test_the_dc_deck_drives_every_port_and_sizes_every_device() -> None:
    c = circuit("miller_rz")
    lines = dc_deck(c.netlist, c.ports).lower().splitlines()
    assert ".op" in lines and any("rshunt" in line for line in lines) and any("ptm180" in line for line in lines)
    assert "vdc_vdd vdd 0 dc 1.8" in lines and "vdc_vss vss 0 dc 0" in lines
    assert "vdc_vb1 vb1 0 dc 0.9" in lines and "vdc_vin1 vin1 0 dc 0.9" in lines  # V* ports at half the supply
    assert not any(line.startswith("vdc_vout1") for line in lines)  # outputs are left to the circuit
    mos = [line for line in lines if line.startswith("mm")]
    assert len(mos) == 7 and all(line.endswith("w=3.6u l=569.2n") for line in mos)  # mid-range on ptm180
    assert "r0 net2 net4 10k" in lines
    mirror = circuit("mirror")
    fed = Netlist(devices=(*mirror.netlist.devices, Device("R9", DeviceKind.RESISTOR, (("p", "VDD"), ("n", "IOUT1")))))
    assert "idc_iin1 vdd iin1 dc 10u" in dc_deck(fed, mirror.ports).lower().splitlines()  # I* ports fed from VDD
    assert not any(line.startswith("idc") for line in dc_deck(mirror.netlist, mirror.ports).lower().splitlines())


@requires_ngspice
def test_real_circuits_have_an_operating_point_and_a_source_is_refused_not_raised() -> None:
    ota, mirror = circuit("ota5"), circuit("mirror")
    source = Netlist(devices=(Device("V1", DeviceKind.VSOURCE, (("p", "VDD"), ("n", "0")), value=1.0),))
    assert dc_converges([(ota.netlist, ota.ports), (mirror.netlist, mirror.ports), (source, ("VDD",))]) == \
        [True, True, False]


def test_memorisation_counts_copied_walks_and_window_overlap() -> None:
    ota = encode(circuit("ota5").netlist, "Opamp", OPAMP_PORTS, V)
    miller = encode(circuit("miller").netlist, "Opamp", OPAMP_PORTS, V)
    assert memorisation([ota], [ota]) == {"n": 10, "copied": 1.0, "mean_overlap": 1.0}
    m = memorisation([ota, miller], [ota])
    assert m["copied"] == 0.5 and 0.5 < m["mean_overlap"] < 1.0
    assert ngrams(ota[:8]) == {tuple(ota[2:7])}  # a walk shorter than a window is one window


@requires_ngspice
def test_generate_writes_circuits_and_a_summary(generator: Path, archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    code = run(["generate", "--type", "opamp", "-n", "4", "--seed", "3", "--out", str(out),
                "--checkpoint", str(generator), "--archive", str(archive), "--workers", "1"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ckt_type"] == "Opamp" and summary["totals"]["n"] == 4
    assert summary["novelty_reference"] == "AnalogGenie (every circuit)"
    for row in summary["circuits"]:
        netlist = read_netlist(out / row["file"])  # every file reads back as a subcircuit over its ports
        assert netlist.subckts[0].ports == tuple(row["ports"])
        assert row["violations"] == []  # grammar-built circuits pass the independent rule check
        assert row["valid"] == (row["dc"] is True)
    again = tmp_path / "again"
    run(["generate", "--type", "Opamp", "-n", "4", "--seed", "3", "--out", str(again), "--checkpoint", str(generator),
         "--archive", str(archive), "--no-dc"])
    assert [read_netlist(out / r["file"]).subckts for r in summary["circuits"]] == \
        [read_netlist(again / r["file"]).subckts for r in summary["circuits"]]  # a seed repeats its circuits


def test_eval_generator_reports_every_measure(generator: Path, archive: Path, capsys: pytest.CaptureFixture) -> None:
    code = run(["eval", "generator", "--checkpoint", str(generator), "--type", "Opamp", "--type", "mirror", "-n", "6",
                "--no-dc", "--archive", str(archive), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["types"]) == {"Opamp", "Mirror"}
    for row in report["types"].values():
        assert row["n"] == 6 and row["rules_pass"] == 1.0 and row["valid"] == 1.0
        assert 0 < row["unique"] <= 1 and 0 <= row["novel"] <= 1 and row["valid_and_novel"] == row["novel"]
        assert 0 <= row["memorisation"]["copied"] <= 1 and row["memorisation"]["n"] == 10
    assert report["novelty_reference"] == f"AnalogGenie, all {len(IDS)} circuits"


def test_unknown_types_and_missing_models_are_one_line_errors(generator: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    assert run(["generate", "--type", "amplifier", "-n", "2", "--out", str(tmp_path / "x"),
                "--checkpoint", str(generator), "--no-dc"]) == 2
    assert "knows no circuit type 'amplifier'; it knows Opamp, Mirror," in capsys.readouterr().err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert run(["generate", "-n", "2", "--out", str(tmp_path / "y"), "--checkpoint", str(junk)]) == 2
    assert "junk.pt" in capsys.readouterr().err
    assert run(["eval", "generator", "-n", "2", "--checkpoint", str(tmp_path)]) == 2  # a folder, not a file
    assert run(["generate", "-n", "2", "--out", str(tmp_path / "z"), "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "none.pt' does not exist" in capsys.readouterr().err
    assert run(["generate", "-n", "2", "--out", str(tmp_path / "s"), "--screen"]) == 2
    assert "--screen only chooses what --size sizes" in capsys.readouterr().err
    assert run(["eval", "generator", "-n", "2", "--screen"]) == 2
    assert "give --yield-n N too" in capsys.readouterr().err
    from ckt.errors import CheckpointError
    from ckt.gen.generate import existing

    with pytest.raises(CheckpointError, match="none.pt: no generator checkpoint there; train one with `ckt train"):
        existing(tmp_path / "none.pt")  # what a missing default (a bare install without the shipped file) meets


def test_the_shipped_generator_works_out_of_the_box(tmp_path: Path) -> None:
    from ckt.gen.generate import DEFAULT_GENERATOR

    assert DEFAULT_GENERATOR.is_file() and DEFAULT_GENERATOR.stat().st_size < 20e6
    out = tmp_path / "shipped"
    assert run(["generate", "--type", "opamp", "-n", "2", "--out", str(out), "--no-dc"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"]["n"] == 2 and all(r["violations"] == [] for r in summary["circuits"])


def test_length_budgets_are_drawn_from_the_training_lengths_or_fixed() -> None:
    from ckt.gen.generate import length_budgets

    profile = [40, 48, 100, 100, 180]
    drawn = length_budgets(profile, 50, seed=3)
    assert drawn is not None and set(drawn) <= set(profile) and len(set(drawn)) > 2
    assert drawn == length_budgets(profile, 50, seed=3) != length_budgets(profile, 50, seed=4)
    assert length_budgets(profile, 4, seed=3, length=90) == [90] * 4
    assert length_budgets([], 4, seed=3) is None


def test_the_shipped_generator_samples_the_sizes_its_type_has(tmp_path: Path) -> None:
    """Without length budgets the shipped generator's op-amps grew to ~50 devices (the dataset's
    mean is 12.6); drawn from the training lengths they stay within the dataset's range."""
    from ckt.gen.generate import DEFAULT_GENERATOR, draw
    from ckt.gen.model import load_trained

    trained = load_trained(DEFAULT_GENERATOR)
    lengths = trained.lengths["Opamp"]
    assert len(lengths) > 500
    circuits, ids = draw(None, "Opamp", 8, seed=0, log=lambda line: None)
    sizes = [len(c.netlist.devices) for c in circuits]
    assert max(len(s) for s in ids) <= max(lengths)
    assert sum(sizes) / len(sizes) < 25, sizes
    # ... and ties only the pin sets its training op-amps tie: no always-off gate+source+bulk NMOS
    allowed = set(trained.pin_sets["Opamp"])
    assert ("NM", ("s", "b")) in allowed and ("NM", ("g", "s", "b")) not in allowed
    assert set().union(*(ties(s, trained.vocab) for s in ids)) <= allowed


def test_the_screened_yield_takes_candidates_in_order_until_enough_pass(tmp_path: Path, monkeypatch) -> None:
    import ckt.gen.sizing as sizing
    from ckt.gen.evaluate import EvalRequest, _functional_yield
    from ckt.gen.sizing import SCREENED_OUT, SizedOpAmp
    from ckt.gen.tokens import GeneratedCircuit
    from tests.gen.test_export import OTA, OTA_PORTS

    calls = []

    def fake(netlist, ports, out, *, name, budget, executor, pdk, seed, screen):  # every third amplifies
        calls.append((name, screen))
        k = int(name.rsplit("_", 1)[1])
        if screen and k % 3:
            return SizedOpAmp(name, False, 0, {}, 5, reason=f"{SCREENED_OUT}: no gain at the default sizes")
        return SizedOpAmp(name, k == 3, budget, {}, 5)

    monkeypatch.setattr(sizing, "size_opamp", fake)
    circuits = [GeneratedCircuit(OTA, "Opamp", OTA_PORTS)] * 12
    screened = _functional_yield(EvalRequest(yield_n=3, budget=7, screen=True, out=tmp_path), circuits, circuits,
                                 None, lambda line: None)
    assert screened["screen"] and screened["generated"]["screened"] == 7  # candidates 0, 3, 6 pass; 7 tried
    assert [r["name"] for r in screened["generated"]["runs"]] == ["generated_000", "generated_003", "generated_006"]
    assert screened["generated"]["feasible"] == 1 and screened["generated"]["n"] == 3
    calls.clear()
    plain = _functional_yield(EvalRequest(yield_n=3, budget=7, out=tmp_path), circuits, circuits, None,
                              lambda line: None)
    assert plain["screen"] is None and plain["generated"]["screened"] is None and plain["generated"]["n"] == 3
    assert calls[:3] == [("generated_000", False), ("generated_001", False), ("generated_002", False)]


def test_digital_cells_are_flattened_into_their_transistors_for_the_dc_check() -> None:
    def cell(name: str, model: str, *nets: str) -> Device:
        return Device(name, DeviceKind.SUBCKT, tuple((str(i), n) for i, n in enumerate(nets, 1)), model=model)

    inv = cell("XINV1", "INVERTER", "n1", "VOUT1", "VDD", "VSS")
    tg = cell("XTG1", "TRANSMISSION_GATE", "VOUT1", "n2", "n1", "VDD", "VSS")
    lines = dc_deck(Netlist(devices=(inv, tg)), ("VDD", "VSS", "VOUT1")).lower().splitlines()
    assert "mxinv1_m0 vout1 n1 vdd vdd pmos w=3.6u l=569.2n" in lines
    assert "mxinv1_m1 vout1 n1 vss vss nmos w=3.6u l=569.2n" in lines
    assert "mxtg1_m13 vout1 xtg1_net9 n2 vdd pmos w=3.6u l=569.2n" in lines  # the gate's own inverter drives its pmos
    assert "mxtg1_i0_m0 xtg1_net9 n1 vdd vdd pmos w=3.6u l=569.2n" in lines
    with pytest.raises(ExportError, match=r"XINV2 connects 3 net\(s\) but subcircuit 'INVERTER' has 4 port\(s\)"):
        dc_deck(Netlist(devices=(replace(inv, name="XINV2", terminals=inv.terminals[:3]),)), ("VDD",))
    with pytest.raises(ExportError, match="instance of PFD"):
        dc_deck(Netlist(devices=(cell("XPFD1", "PFD", "1", "2", "3", "4", "5", "6"),)), ("VDD",))
