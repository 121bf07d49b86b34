"""AnalogGenie loader on a tiny archive of our own (and on the reference data when present)."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import warnings
from pathlib import Path

import pytest
import torch

from ckt.data.analoggenie import CLASSES, AnalogGenie, circuit_type, read_archive
from ckt.data.base import SCHEMA_VERSION
from ckt.errors import DatasetError, DatasetWarning
from ckt.graph.to_pyg import from_bipartite_pyg
from ckt.netlist import parse_spectre
from tests.conftest import shared
from tests.datasets.fixtures import AG_CIRCUITS, LDO_DUPLICATES, OPAMP_A, analoggenie_tar


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return analoggenie_tar(tmp_path / "ag.tar.gz")


def prepare(root: Path, source: Path, **kw) -> AnalogGenie:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        return AnalogGenie(root, source=source, **kw)


@pytest.mark.parametrize(("cid", "kind"), [
    (1, "Opamp"), (97, "Opamp"), (98, "Mirror"), (159, "Mirror"), (160, "General"), (651, "Filter"),
    (1044, "Switched_Cap"), (1191, "Power_converter"), (2180, "Opamp"), (2181, "LDO"), (3502, "Switched_Cap"),
    (3503, "General"),
])
def test_circuit_type_follows_the_id_ranges(cid: int, kind: str) -> None:
    assert circuit_type(cid) == kind


def test_fifteen_classes_general_last() -> None:
    assert len(CLASSES) == 15 and CLASSES[-1] == "General" and len(set(CLASSES)) == 15


def test_items_carry_type_ports_and_groups(tmp_path: Path, archive: Path) -> None:
    with pytest.warns(DatasetWarning, match="1 circuit.*reuse instance names.*1 device"):
        ds = AnalogGenie(tmp_path / "root", source=archive)
    assert len(ds) == 3
    assert [ds[i].circuit for i in range(3)] == ["5", "6", "2200"]
    assert [CLASSES[int(ds[i].y)] for i in range(3)] == ["Opamp", "Opamp", "LDO"]
    assert [ds[i].ckt_type for i in range(3)] == ["Opamp", "Opamp", "LDO"]
    # 5 and 6 come from one page: one group; the LDO is alone
    groups = ds.groups.tolist()
    assert groups[0] == groups[1] != groups[2]
    assert [int(ds[i].group) for i in range(3)] == groups
    # the LDO keeps both MM1 devices: 4 devices + 5 nets
    ldo = ds[2]
    assert int((ldo.node_type == 0).sum()) == 4 and ldo.num_nodes == 9
    assert ds.meta["renamed_circuits"] == 1 and ds.meta["renamed_devices"] == 1
    # bookkeeping lists are stripped by default
    assert "device_names" not in ds[0] and "net_names" not in ds[0]


def test_ports_are_flagged_on_net_nodes(tmp_path: Path, archive: Path) -> None:
    ds = prepare(tmp_path / "root", archive, keep_names=True)
    item = ds[0]
    n_dev = len(item.device_names)
    flagged = {item.net_names[i - n_dev] for i in torch.nonzero(item.is_port).flatten().tolist()}
    assert flagged == {"VDD", "VSS", "VIN1", "VIN2", "VOUT1", "VB1"}
    assert not item.is_port[:n_dev].any()


def test_keep_names_rebuilds_each_netlist(tmp_path: Path, archive: Path) -> None:
    ds = prepare(tmp_path / "root", archive, keep_names=True)
    for i, text in enumerate([OPAMP_A, AG_CIRCUITS[6][0], LDO_DUPLICATES]):
        rebuilt = from_bipartite_pyg(ds[i])
        expected = parse_spectre(text)
        assert [(d.name, d.terminals, d.model) for d in rebuilt.devices] == \
               [(d.name, d.terminals, d.model) for d in expected.devices]
    assert [d.name for d in from_bipartite_pyg(ds[2]).devices] == ["MM1", "RR0", "RR1", "MM1__2"]


def test_pins_view(tmp_path: Path, archive: Path) -> None:
    ds = prepare(tmp_path / "root", archive, view="pins")
    item = ds[0]
    assert set(item.node_type.tolist()) == {0, 1, 2}
    assert int((item.node_type == 1).sum()) == 5 * 4  # five MOSFETs, four pins each
    assert int(item.is_port.sum()) == 6


def test_provenance_and_schema_in_the_file_name(tmp_path: Path, archive: Path) -> None:
    ds = prepare(tmp_path / "root", archive)
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    prov = ds.provenance
    assert (prov.sha256, prov.size, prov.source) == (sha, archive.stat().st_size, str(archive))
    assert prov.schema_version == SCHEMA_VERSION and prov.commit and prov.upstream.startswith("https://")
    name = Path(ds.processed_paths[0]).name
    assert name.endswith(f"-v{SCHEMA_VERSION}.pt") and sha[:12] in name and name.startswith("bipartite-nall")
    record = json.loads((tmp_path / "root" / "raw" / "SOURCE.json").read_text())
    assert record == {"source": str(archive), "size": archive.stat().st_size, "sha256": sha}


def test_cached_unless_forced_or_source_changes(tmp_path: Path, archive: Path) -> None:
    ds = prepare(tmp_path / "root", archive)
    processed = Path(ds.processed_paths[0])
    os.utime(processed, (1, 1))
    again = prepare(tmp_path / "root", archive)  # no source needed once raw/ holds the file
    assert processed.stat().st_mtime == 1 and len(again) == 3
    assert len(AnalogGenie(tmp_path / "root")) == 3
    prepare(tmp_path / "root", archive, force_reload=True)
    assert processed.stat().st_mtime > 1
    smaller = analoggenie_tar(tmp_path / "two.tar.gz", {5: AG_CIRCUITS[5], 6: AG_CIRCUITS[6]})
    assert len(prepare(tmp_path / "root", smaller)) == 2


def test_sample_of_n_spreads_over_ids(tmp_path: Path, archive: Path) -> None:
    ds = prepare(tmp_path / "root", archive, n=2)
    assert [ds[i].circuit for i in range(2)] == ["5", "6"]
    assert "-n2-" in Path(ds.processed_paths[0]).name
    with pytest.raises(DatasetError, match="positive"):
        prepare(tmp_path / "root", archive, n=0)


def test_unreadable_circuit_is_counted_not_dropped(tmp_path: Path) -> None:
    circuits = {5: AG_CIRCUITS[5], 6: AG_CIRCUITS[6], 7: ("MM0 (a b c d pmos4\n", "VDD", "p")}
    src = analoggenie_tar(tmp_path / "bad.tar.gz", circuits)
    with pytest.warns(DatasetWarning, match=r"1 circuit\(s\) are left out.*7: NetlistParseError"):
        ds = AnalogGenie(tmp_path / "root", source=src)
    assert len(ds) == 2
    (failure,) = ds.failures
    assert failure.circuit == "7" and "unbalanced parentheses" in failure.reason and "7/7.cir" in failure.file


def test_github_archive_layout_is_read(tmp_path: Path) -> None:
    src = analoggenie_tar(tmp_path / "gh.tar.gz", prefix="AnalogGenie-efc2535/Dataset")
    raw = read_archive(str(src))
    assert sorted(c.id for c in raw.circuits) == ["2200", "5", "6"] and not raw.failures


def test_bad_sources_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        AnalogGenie(tmp_path / "a", source=tmp_path / "missing.tar.gz")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar file at all")
    with pytest.raises(DatasetError, match="not a readable AnalogGenie archive"):
        AnalogGenie(tmp_path / "b", source=junk)
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(DatasetError, match="no AnalogGenie circuit folders"):
        AnalogGenie(tmp_path / "c", source=empty)
    with pytest.raises(DatasetError, match="unknown view"):
        AnalogGenie(tmp_path / "d", source=junk, view="hypergraph")


def test_processed_file_is_loaded_without_unpickling(tmp_path: Path, archive: Path) -> None:
    ds = prepare(tmp_path / "root", archive)
    torch.save({"format": "ckt.dataset", "schema": SCHEMA_VERSION, "data": Path("x")}, ds.processed_paths[0])
    with pytest.raises(DatasetError, match="not a ckt dataset file"):
        AnalogGenie(tmp_path / "root")


@pytest.mark.slow
def test_reference_data_matches_the_readme_counts(tmp_path_factory) -> None:
    archive = shared("analoggenie", "analoggenie-dataset.tar.gz")
    with pytest.warns(DatasetWarning, match="2305 circuit"):
        ds = AnalogGenie(tmp_path_factory.mktemp("ag"), source=archive)
    assert len(ds) == 3350 and not ds.failures
    assert ds.class_counts() == {
        "Opamp": 808, "Mirror": 71, "Comparator": 55, "Mixer": 34, "LDO": 450, "Oscillator": 140, "Filter": 22,
        "Bandgap_Ref": 340, "Power_Amp": 24, "Voltage_Regulator": 11, "Power_converter": 270, "PLL": 43,
        "Switched_Cap": 921, "ADC_DAC": 9, "General": 152,
    }
    assert ds.meta["renamed_circuits"] == 2305
    split = ds.split("group")
    groups = ds.groups
    sides = [set(groups[idx].tolist()) for idx in split.values()]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert sum(len(v) for v in split.values()) == 3350


def test_a_cloned_folder_is_a_source(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    with tarfile.open(analoggenie_tar(tmp_path / "ag.tar.gz")) as tar:
        tar.extractall(clone, filter="data")
    (clone / "Dataset" / "5" / "Book5.png").write_bytes(b"\x89PNG not needed")
    ds = prepare(tmp_path / "root", clone / "Dataset")
    assert len(ds) == 3 and ds.provenance.source == str(clone / "Dataset")
    with tarfile.open(ds.raw_path) as tar:
        names = tar.getnames()
    assert "Dataset/5/5.cir" in names and not any(n.endswith((".png", ".md")) or "Opamp" in n for n in names)
    first = ds.raw_sha256()
    os.utime(clone / "Dataset" / "5" / "5.cir", (5, 5))  # times do not change the packed archive
    assert prepare(tmp_path / "root", clone / "Dataset").raw_sha256() == first
    (clone / "Dataset" / "6" / "6.cir").write_text(AG_CIRCUITS[5][0])  # content does
    again = prepare(tmp_path / "root", clone / "Dataset")
    assert again.raw_sha256() != first and again.processed_paths[0] != ds.processed_paths[0]


def test_nothing_readable_is_an_error_with_the_reason(tmp_path: Path) -> None:
    src = analoggenie_tar(tmp_path / "bad.tar.gz", {7: ("MM0 (a b c d pmos4\n", "VDD", None)})
    with pytest.raises(DatasetError, match=r"no circuit could be read.*first failure: 7: .*unbalanced"):
        AnalogGenie(tmp_path / "root", source=src)
