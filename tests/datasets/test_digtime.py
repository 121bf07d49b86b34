"""Conversion of digtime-shaped graphs to the pin-level layout, the cache, and the dataset CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch_geometric.data import HeteroData

from ckt.cli import run
from ckt.data.digtime import CC_TYPES, Digtime, convert
from ckt.errors import DatasetError
from ckt.graph.features import PIN_NODE_COLUMNS
from ckt.graph.pins import NODE_TYPES
from tests.datasets.fixtures import analoggenie_tar
from tests.parasitic.synthetic import digtime_like

COL = {c: i for i, c in enumerate(PIN_NODE_COLUMNS)}


def test_conversion_follows_the_pin_view_layout():
    hd = digtime_like(n_dev=10, n_net=8)
    # shuffle digtime's pin numbering: the conversion must reorder pins by device, then d, g, s
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(1))
    inv = torch.argsort(perm)
    hd["pin"].x = hd["pin"].x[perm]
    hd["pin"].y = torch.arange(30, dtype=torch.float).reshape(-1, 1)[perm] + 1
    for rel in (("device", "device-pin", "pin"),):
        hd[rel].edge_index = torch.stack([hd[rel].edge_index[0], inv[hd[rel].edge_index[1]]])
    pn = hd["pin", "pin-net", "net"].edge_index
    hd["pin", "pin-net", "net"].edge_index = torch.stack([inv[pn[0]], pn[1]])
    data = convert([hd])
    n_dev, n_pin, n_net = 10, 30, 8
    assert data.x.shape == (n_dev + n_pin + n_net, len(PIN_NODE_COLUMNS))
    assert data.node_type.tolist() == [0] * n_dev + [1] * n_pin + [2] * n_net
    assert NODE_TYPES == ("device", "pin", "net")
    half = data.edge_index[:, : 2 * n_pin]
    dev_pin = half[:, :n_pin]
    assert dev_pin[0].tolist() == [i // 3 for i in range(n_pin)]  # pins grouped by device
    roles = data.x[n_dev:n_dev + n_pin][:, [COL["pin:d"], COL["pin:g"], COL["pin:s"]]].argmax(1)
    assert roles.tolist() == [0, 1, 2] * n_dev
    # pin labels follow their pins through the reordering
    assert sorted(data.pin_cap[n_dev:n_dev + n_pin].tolist()) == [float(k) for k in range(1, 31)]
    assert data.x[n_dev + n_pin + 0, COL["net:supply"]] == 1 and data.x[n_dev + n_pin + 1, COL["net:supply"]] == 1
    assert torch.equal(data.edge_index[:, 2 * n_pin:], data.edge_index[:, : 2 * n_pin].flip(0))
    assert data.edge_type.tolist() == [0] * n_pin + [1] * n_pin + [2] * n_pin + [3] * n_pin
    w = 10 ** data.x[:n_dev, COL["w:log10"]]
    assert torch.allclose(w, hd["device"].x[:, 1], rtol=1e-5)


def test_conversion_refuses_other_graphs():
    hd = HeteroData()
    hd["net"].x = torch.zeros(2, 3)
    with pytest.raises(DatasetError, match="digtime-shaped"):
        convert(hd)


def test_real_file_counts_and_cache(digtime_file, tmp_path):
    ds = Digtime(tmp_path, source=digtime_file)
    data = ds.graph
    assert data.num_nodes == 4133 + 12399 + 1048
    assert data.edge_index.shape[1] == 4 * 12399
    counts = ds.meta["counts"]
    assert counts["links"] == dict(zip(CC_TYPES, (19840, 22259, 2252)))
    assert counts["labelled_nets"] == int((~torch.isnan(data.net_cap)).sum()) == 682
    assert data.cc_index.shape == (2, 44351) and not math.isnan(float(data.cc_cap.sum()))
    assert ds.meta["provenance"]["sha256"] == ds.raw_sha256()
    assert ds.processed_paths[0].endswith("-v1.pt")
    again = Digtime(tmp_path)  # from the cache, without the source
    assert torch.equal(again.graph.cc_index, data.cc_index)


def test_dataset_cli_prepare_and_info(digtime_file, tmp_path, capsys):
    assert run(["dataset", "prepare", "digtime", "--source", str(digtime_file), "--root", str(tmp_path)]) == 0
    assert "4133 devices" in capsys.readouterr().out
    assert run(["dataset", "info", "digtime", "--root", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["counts"]["nets"] == 1048 and info["provenance"]["commit"] == "5f07ad8"


def test_prepare_without_a_source_names_the_problem(tmp_path, monkeypatch):
    monkeypatch.setattr(Digtime, "default_source", classmethod(lambda cls: ""))
    with pytest.raises(DatasetError, match="no raw file"):
        Digtime(tmp_path)


def test_prepare_refuses_options_of_circuit_collections(tmp_path, capsys):
    assert run(["dataset", "prepare", "digtime", "--root", str(tmp_path), "-n", "5"]) == 2
    assert "one graph" in capsys.readouterr().err
    assert run(["dataset", "info", "digtime", "--root", str(tmp_path / "none")]) == 2
    assert "not prepared" in capsys.readouterr().err


def test_dataset_cli_names_a_cache_of_another_kind(digtime_file, tmp_path, capsys):
    graph, circuits = tmp_path / "graph", tmp_path / "circuits"
    assert run(["dataset", "prepare", "digtime", "--source", str(digtime_file), "--root", str(graph)]) == 0
    assert run(["dataset", "prepare", "analoggenie", "--root", str(circuits),
                "--source", str(analoggenie_tar(tmp_path / "ag.tar.gz"))]) == 0
    capsys.readouterr()
    assert run(["dataset", "info", "analoggenie", "--root", str(graph)]) == 2
    assert "lists no circuits" in capsys.readouterr().err
    assert run(["dataset", "info", "digtime", "--root", str(circuits)]) == 2
    assert "no graph counts" in capsys.readouterr().err
    assert run(["dataset", "prepare", "digtime", "--root", str(graph), "--label", "kind"]) == 2
    assert "digtime takes no --label" in capsys.readouterr().err
