"""A user's folder of netlists with a labels CSV."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from ckt.data.folder import FolderDataset, read_labels
from ckt.errors import DatasetError, DatasetWarning
from tests.datasets.fixtures import I2N_AMP, OPAMP_A

SPICE_RC = """* rc low-pass
R1 in out 1k
C1 out 0 1p
.end
"""
SPICE_DIVIDER = """* divider
R1 in mid 1k
R2 mid 0 2k
.end
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "mine"
    (d / "sub").mkdir(parents=True)
    (d / "rc.sp").write_text(SPICE_RC)
    (d / "sub" / "divider.cir").write_text(SPICE_DIVIDER)
    (d / "amp.scs").write_text(OPAMP_A)
    (d / "i2n.txt").write_text(I2N_AMP)
    (d / "notes.md").write_text("not a netlist, not labelled\n")
    return d


def test_classes_from_one_text_column(tmp_path: Path, folder: Path) -> None:
    (folder / "labels.csv").write_text("circuit,kind\nrc,filter\nsub/divider.cir,passive\namp,amplifier\n"
                                       "i2n.txt,amplifier\n")
    ds = FolderDataset(tmp_path / "cache", source=folder)
    assert ds.classes == ("amplifier", "filter", "passive")
    assert [ds[i].circuit for i in range(4)] == ["amp", "i2n.txt", "rc", "sub/divider.cir"]
    assert [ds.classes[int(ds[i].y)] for i in range(4)] == ["amplifier", "amplifier", "filter", "passive"]
    assert int((ds[0].node_type == 0).sum()) == 5  # the Spectre op-amp, format detected
    assert ds.provenance.source == str(folder.resolve()) and len(ds.provenance.sha256) == 64


def test_regression_targets_and_groups(tmp_path: Path, folder: Path) -> None:
    (folder / "labels.csv").write_text("circuit,gain,pm,group\nrc,1.5,60,a\nsub/divider,2.5,70,a\namp,40,55,b\n")
    ds = FolderDataset(tmp_path / "cache", source=folder, targets=("gain", "pm"))
    assert ds.target_names == ("gain", "pm") and not ds.classes
    assert ds[0].y.tolist() == [[40.0, 55.0]] and ds[1].y.dtype == torch.float
    assert ds.groups.tolist() == [0, 1, 1]  # amp alone; rc and divider share group a
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto = FolderDataset(tmp_path / "cache2", source=folder)  # numeric columns: regression
    assert auto.target_names == ("gain", "pm")


def test_unknown_circuits_are_named(tmp_path: Path, folder: Path) -> None:
    (folder / "labels.csv").write_text("circuit,kind\nrc,filter\nghost,x\nphantom.sp,y\n")
    with pytest.raises(DatasetError, match=r"2 circuit\(s\) not found in .*: ghost, phantom.sp"):
        FolderDataset(tmp_path / "cache", source=folder)


@pytest.mark.parametrize(("csv_text", "match"), [
    ("circuit,gain\nrc,high\n", None),  # one text column is a class label: fine
    ("circuit,gain,kind\nrc,1,x\n", "choose the label column"),
    ("circuit,kind\nrc,x\nrc,y\n", r"labels.csv:3: circuit 'rc' is already labelled on line 2"),
    ("circuit,kind\nrc\n", r"labels.csv:2: 1 fields"),
    ("circuit,kind\n", "at least one circuit"),
])
def test_bad_csv(folder: Path, csv_text: str, match: str | None) -> None:
    path = folder / "labels.csv"
    path.write_text(csv_text)
    if match is None:
        assert read_labels(path).classes == ("high",)
    else:
        with pytest.raises(DatasetError, match=match):
            read_labels(path)


def test_non_numeric_target_names_its_line(folder: Path) -> None:
    path = folder / "labels.csv"
    path.write_text("circuit,gain\nrc,1\namp,n/a\n")
    with pytest.raises(DatasetError, match=r"labels.csv:3: target gain is 'n/a'"):
        read_labels(path, targets=("gain",))
    with pytest.raises(DatasetError, match="no column 'pm'"):
        read_labels(path, targets=("pm",))


def test_unreadable_netlist_is_a_counted_failure(tmp_path: Path, folder: Path) -> None:
    (folder / "broken.scs").write_text("MM0 (a b c d pmos4\n")
    (folder / "empty.sp").write_text("* only a subckt\n.subckt x a b\nR1 a b 1k\n.ends\n.end\n")
    (folder / "labels.csv").write_text("circuit,kind\nrc,filter\nbroken,bad\nempty,bad\n")
    with pytest.warns(DatasetWarning, match=r"2 circuit\(s\) are left out"):
        ds = FolderDataset(tmp_path / "cache", source=folder)
    assert len(ds) == 1
    reasons = {f.circuit: f.reason for f in ds.failures}
    assert "unbalanced" in reasons["broken"] and "no top-level device" in reasons["empty"]


def test_an_edit_rebuilds(tmp_path: Path, folder: Path) -> None:
    (folder / "labels.csv").write_text("circuit,kind\nrc,filter\namp,amp\n")
    first = FolderDataset(tmp_path / "cache", source=folder)
    (folder / "rc.sp").write_text(SPICE_RC.replace("C1 out 0 1p", "C1 out 0 1p\nC2 in 0 1p"))
    second = FolderDataset(tmp_path / "cache", source=folder)
    assert first.processed_paths[0] != second.processed_paths[0]
    assert int((second[1].node_type == 0).sum()) == 3


def test_source_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="needs source"):
        FolderDataset(tmp_path)
    with pytest.raises(DatasetError, match="not a folder"):
        FolderDataset(tmp_path, source=tmp_path / "nope")
