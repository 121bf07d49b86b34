"""The raw pickle is opened only when every global it names is on the allow-list."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from torch_geometric.data import HeteroData

from ckt.data.safe_load import ALLOWED_NAMES, load_graph_pickle, named_globals
from ckt.errors import DatasetError, UnsafePickleError


class _Payload:
    """Unpickling this would run ``os.system`` (it must never be)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_torch_archive_with_os_system_is_refused_naming_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"x": torch.zeros(2), "payload": _Payload(str(marker))}, path)
    with pytest.raises(UnsafePickleError) as info:
        load_graph_pickle(path)
    assert f"{os.system.__module__}.system" in info.value.names
    assert "system" in str(info.value) and str(path) in str(info.value)
    assert not marker.exists()


def test_plain_pickle_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(DatasetError, match="not a torch.save archive"):
        load_graph_pickle(path)
    assert not marker.exists()


def test_a_heterodata_needs_only_the_allow_list_and_loads(tmp_path):
    hd = HeteroData()
    hd["net"].x = torch.ones(3, 2)
    hd["pin", "pin-net", "net"].edge_index = torch.tensor([[0, 1], [1, 2]])
    path = tmp_path / "ok.pt"
    torch.save([hd], path)
    assert set(named_globals(path)) <= ALLOWED_NAMES
    loaded = load_graph_pickle(path)
    assert torch.equal(loaded[0]["net"].x, hd["net"].x)


def test_missing_file_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_graph_pickle(tmp_path / "absent.pt")


def test_the_real_file_needs_exactly_the_allow_list(digtime_file):
    assert set(named_globals(digtime_file)) == ALLOWED_NAMES
