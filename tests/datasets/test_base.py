"""The dataset base: cache root, sampling, grouping, the subgraphs hook and the registry."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch_geometric.loader import DataLoader

from ckt.data import registry
from ckt.data.analoggenie import AnalogGenie
from ckt.data.base import Circuit, Decomposer, assign_groups, data_home, spread, topology_hash
from ckt.errors import DatasetError, DatasetWarning, NetlistError
from ckt.graph.two_level import Block, TwoLevelData, TwoLevelGraph
from ckt.netlist import parse_spectre
from ckt.netlist.ir import Netlist
from tests.datasets.fixtures import OPAMP_A, analoggenie_tar


def test_data_home_follows_ckt_data() -> None:
    assert data_home({"CKT_DATA": "/x/y"}) == Path("/x/y")
    assert data_home({}) == Path.home() / ".cache" / "ckt"


def test_default_root_is_under_ckt_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CKT_DATA", str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        ds = AnalogGenie(source=analoggenie_tar(tmp_path / "ag.tar.gz"))
    assert Path(ds.root) == tmp_path / "cache" / "analoggenie"


def test_spread_covers_the_whole_range() -> None:
    assert spread(10, None) == list(range(10))
    assert spread(10, 20) == list(range(10))
    assert spread(10, 3) == [0, 3, 6]
    assert spread(3350, 15)[-1] > 3000


def test_topology_hash_ignores_names_not_wiring() -> None:
    a = parse_spectre(OPAMP_A)
    renamed = parse_spectre(OPAMP_A.replace("net1", "nx").replace("MM", "Q").replace("VIN1", "INP"))
    rewired = parse_spectre(OPAMP_A.replace("MM2 (net1 net1 VDD VDD)", "MM2 (net1 VOUT1 VDD VDD)"))
    assert topology_hash(a) == topology_hash(renamed) != topology_hash(rewired)
    assert topology_hash(a) != topology_hash(parse_spectre(OPAMP_A.replace("nmos4", "pmos4")))


def test_groups_join_by_source_and_topology_transitively() -> None:
    n = Netlist()
    circuits = [Circuit("a", n, source_key="p1"), Circuit("b", n, source_key="p1"), Circuit("c", n),
                Circuit("d", n, source_key="p2"), Circuit("e", n)]
    # b and c share a topology, so a, b, c are one group; d alone; e shares d's topology
    assert assign_groups(circuits, ["h1", "h2", "h2", "h3", "h3"]) == [0, 0, 0, 1, 1]
    assert assign_groups(circuits, ["h1", "h2", "h4", "h3", "h5"]) == [0, 0, 1, 2, 3]


def _one_block_per_device(netlist: Netlist) -> TwoLevelGraph:
    blocks = tuple(Block(d.kind.name, (d.name,), tuple(dict.fromkeys(d.nets))) for d in netlist.devices)
    return TwoLevelGraph("toy", blocks, tuple((i, i + 1) for i in range(len(blocks) - 1)))


def _refuse_resistors(netlist: Netlist) -> TwoLevelGraph:
    if any(d.kind.name == "RESISTOR" for d in netlist.devices):
        raise NetlistError("resistors are not decomposable here")
    return _one_block_per_device(netlist)


def test_subgraphs_view_through_a_decomposer(tmp_path: Path) -> None:
    src = analoggenie_tar(tmp_path / "ag.tar.gz")
    with pytest.raises(DatasetError, match="needs a decomposer"):
        AnalogGenie(tmp_path / "r0", source=src, view="subgraphs")
    toy = Decomposer("toy", _one_block_per_device, ("MOSFET", "RESISTOR", "CAPACITOR"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        ds = AnalogGenie(tmp_path / "r1", source=src, view="subgraphs", decomposer=toy)
    assert isinstance(ds[0], TwoLevelData) and "subgraphs-toy" in Path(ds.processed_paths[0]).name
    assert ds[0].block_type.tolist() == [0] * 5 and ds[1].block_type.tolist() == [0] * 5 + [2]
    batch = next(iter(DataLoader(ds, batch_size=3, follow_batch=["block_type"])))
    assert batch.block_type_batch.tolist() == [0] * 5 + [1] * 6 + [2] * 4
    assert int(batch.block_edge_index.max()) == 5 + 6 + 4 - 1  # shifted per graph

    strict = Decomposer("strict", _refuse_resistors, toy.block_types)
    with pytest.warns(DatasetWarning, match="are left out"):
        ds = AnalogGenie(tmp_path / "r2", source=src, view="subgraphs", decomposer=strict)
    assert [ds[i].circuit for i in range(len(ds))] == ["5", "6"]
    assert ds.failures[0].circuit == "2200" and "not decomposable" in ds.failures[0].reason


def test_batches_collate_labels_and_groups(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        ds = AnalogGenie(tmp_path / "r", source=analoggenie_tar(tmp_path / "ag.tar.gz"))
    batch = next(iter(DataLoader(ds, batch_size=3)))
    assert batch.y.tolist() == [0, 0, 4] and batch.group.tolist() == ds.groups.tolist()
    assert batch.circuit == ["5", "6", "2200"] and batch.num_graphs == 3
    grouped = ds.split("group", (0.5, 0.5), seed=0)
    assert sorted(len(v) for v in grouped.values()) == [1, 2]  # circuits 5 and 6 stay together
    assert torch.equal(torch.cat([ds.split("random", (0.5, 0.5), seed=0)[k] for k in ("train", "test")]).sort().values,
                       torch.arange(3))
    with pytest.raises(DatasetError, match="unknown split"):
        ds.split("stratified")


def test_registry_names_and_register() -> None:
    assert {"analoggenie", "image2net", "folder", "ocb"} <= set(registry.names())
    assert registry.get("AnalogGenie") is AnalogGenie
    with pytest.raises(DatasetError, match="unknown dataset 'spice3'.*analoggenie"):
        registry.get("spice3")
    with pytest.raises(DatasetError, match="already registered"):
        registry.register("analoggenie", AnalogGenie)
    registry.register("ag-copy", "ckt.data.analoggenie:AnalogGenie")
    try:
        assert registry.get("ag-copy") is AnalogGenie
    finally:
        registry._DATASETS.pop("ag-copy")


def test_edge_attr_is_rebuilt_on_access_not_stored(tmp_path: Path) -> None:
    from ckt.graph.to_pyg import to_bipartite_pyg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        ds = AnalogGenie(tmp_path / "r", source=analoggenie_tar(tmp_path / "ag.tar.gz"))
    assert "edge_attr" not in ds._data
    expected = to_bipartite_pyg(parse_spectre(OPAMP_A))
    item = ds[0]
    assert torch.equal(item.edge_attr, expected.edge_attr) and torch.equal(item.x, expected.x)
    assert torch.equal(item.edge_index, expected.edge_index)


def test_subsets_report_their_own_groups_and_counts(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        ds = AnalogGenie(tmp_path / "r", source=analoggenie_tar(tmp_path / "ag.tar.gz"))
    sub = ds[torch.tensor([2, 0])]
    assert sub.groups.tolist() == [ds.groups[2].item(), ds.groups[0].item()]
    assert sub.class_counts()["LDO"] == 1 and sub.class_counts()["Opamp"] == 1
    assert ds.class_counts()["Opamp"] == 2


def test_progress_is_reported_per_circuit(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        AnalogGenie(tmp_path / "r", source=analoggenie_tar(tmp_path / "ag.tar.gz"),
                    progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
