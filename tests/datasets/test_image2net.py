"""Image2Net loader on a tiny archive of our own (and on the reference data when present)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from ckt.data.image2net import CLASSES, Image2Net, read_archive
from ckt.errors import DatasetError, DatasetWarning
from tests.conftest import shared
from tests.datasets.fixtures import I2N_AMP, I2N_BANDGAP, image2net_tar


def test_items_and_labels(tmp_path: Path) -> None:
    ds = Image2Net(tmp_path / "root", source=image2net_tar(tmp_path / "i2n.tar.gz"))
    assert len(ds) == 2 and ds.num_classes == 6
    assert [ds[i].circuit for i in range(2)] == ["001", "7_netlist_dict"]
    assert [CLASSES[int(ds[i].y)] for i in range(2)] == ["SISO-Amplifier", "Bandgap"]
    # two devices; nets VOUT, VIN, GND, VDD (the NMOS body is tied to its source, GND)
    amp = ds[0]
    assert int((amp.node_type == 0).sum()) == 2 and int((amp.node_type == 1).sum()) == 4
    assert not amp.is_port.any()  # Image2Net lists no ports
    assert ds.groups.tolist() == [0, 1]


def test_same_topology_under_other_names_shares_a_group(tmp_path: Path) -> None:
    renamed = I2N_AMP.replace("VOUT", "OUTPUT").replace("VIN", "IN1")
    src = image2net_tar(tmp_path / "i2n.tar.gz", {"001.txt": I2N_AMP, "002.txt": I2N_BANDGAP, "003.txt": renamed})
    ds = Image2Net(tmp_path / "root", source=src)
    assert ds.groups.tolist() == [0, 1, 0]


def test_unknown_type_and_bad_literal_are_counted(tmp_path: Path) -> None:
    files = {"001.txt": I2N_AMP, "002.txt": I2N_AMP.replace("SISO-Amplifier", "Mixer"), "003.txt": "{'ckt_type': "}
    src = image2net_tar(tmp_path / "i2n.tar.gz", files)
    with pytest.warns(DatasetWarning, match=r"2 circuit\(s\) are left out"):
        ds = Image2Net(tmp_path / "root", source=src)
    assert len(ds) == 1
    reasons = {f.circuit: f.reason for f in ds.failures}
    assert set(reasons) == {"002", "003"} and "'Mixer' is not one of" in reasons["002"]
    assert reasons["003"].startswith("NetlistParseError")


def test_archive_without_netlists_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no Image2Net netlists"):
        read_archive(str(image2net_tar(tmp_path / "e.tar.gz", {})))


def test_reference_data_matches_the_readme_counts(tmp_path: Path) -> None:
    archive = shared("image2net", "image2net-netlists.tar.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetWarning)  # every file reads
        ds = Image2Net(tmp_path / "root", source=archive)
    assert len(ds) == 346 and not ds.failures
    assert ds.class_counts() == {"DISO-Amplifier": 91, "SISO-Amplifier": 81, "DIDO-Amplifier": 64,
                                 "Comparator": 51, "Bandgap": 43, "LDO": 16}


def test_a_cloned_folder_is_a_source(tmp_path: Path) -> None:
    import tarfile

    clone = tmp_path / "Image2Net"
    with tarfile.open(image2net_tar(tmp_path / "i2n.tar.gz")) as tar:
        tar.extractall(clone, filter="data")
    ds = Image2Net(tmp_path / "root", source=clone)
    assert len(ds) == 2
    with tarfile.open(ds.raw_path) as tar:
        assert sorted(tar.getnames()) == ["Image2Net/net/001.txt", "Image2Net/net/7_netlist_dict.txt"]


def test_every_type_maps_to_an_analoggenie_class() -> None:
    from ckt.data.analoggenie import CLASSES as AG_CLASSES
    from ckt.data.image2net import ANALOGGENIE_TYPE

    assert set(ANALOGGENIE_TYPE) == set(CLASSES)
    assert set(ANALOGGENIE_TYPE.values()) <= set(AG_CLASSES)
