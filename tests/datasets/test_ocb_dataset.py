"""The regenerated OCB as a dataset: generated, labelled in ngspice, read back, decomposed, grouped."""

from __future__ import annotations

import json

import pytest
import torch

from ckt.data import OCB, registry
from ckt.data.ocb_label import decode
from ckt.errors import DatasetError
from ckt.graph.ocb_basis import OCB_BLOCK_TYPES
from ckt.graph.two_level import TwoLevelData
from tests.conftest import have_ngspice

pytestmark = [pytest.mark.ngspice, pytest.mark.skipif(not have_ngspice(), reason="needs ngspice")]


@pytest.fixture(scope="module")
def ocb(tmp_path_factory: pytest.TempPathFactory) -> OCB:
    return OCB(tmp_path_factory.mktemp("ocb"), n=80, seed=1, workers=2)  # topologies of 2 and 3 stages


def test_items_are_two_level_graphs_with_raw_and_encoded_labels(ocb: OCB) -> None:
    assert registry.get("ocb") is OCB
    assert len(ocb) + len(ocb.failures) == 80
    item = ocb[0]
    assert isinstance(item, TwoLevelData)
    assert item.y.shape == (1, 4) and item.y_ocb.shape == (1, 4) and int(item.stages) in (2, 3)
    assert all(OCB_BLOCK_TYPES[t] for t in item.block_type.tolist())
    # The encoded units are the raw ones in OCB's formulas.
    gain_db, ugbw, pm_deg, fom = item.y[0].tolist()
    gain, bw, pm, fom_encoded = item.y_ocb[0].tolist()
    back = decode(gain, bw, pm)
    assert back[0] == pytest.approx(gain_db, abs=1e-3)
    assert back[1] == pytest.approx(ugbw, rel=1e-4)
    assert back[2] == pytest.approx(pm_deg, abs=1e-3)
    assert fom == pytest.approx(fom_encoded, rel=1e-5)


def test_a_topologys_variants_share_a_group(ocb: OCB) -> None:
    ids = [int(ocb[i].circuit) for i in range(len(ocb))]
    groups = ocb.groups.tolist()
    by_topology: dict[int, set[int]] = {}
    for cid, g in zip(ids, groups):
        by_topology.setdefault(cid // 20, set()).add(g)
    assert all(len(gs) == 1 for gs in by_topology.values())
    split = ocb.split("group", (0.34, 0.33, 0.33), seed=0)
    sides = [set(ocb.groups[split[k]].tolist()) for k in ("train", "val", "test")]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])


def test_a_second_open_reads_the_cache_and_the_raw_file_is_plain_json(ocb: OCB) -> None:
    again = OCB(ocb.root, n=80, seed=1)
    assert torch.equal(again._data.y, ocb._data.y)
    record = json.loads(ocb.raw_path.read_text().splitlines()[0])
    assert record["index"] == 0 and record["netlist"].startswith(".title ocb circuit 0")


def test_ocb_takes_no_source(tmp_path) -> None:
    with pytest.raises(DatasetError, match="no --source"):
        OCB(tmp_path, n=20, source="x.tar.gz")
    with pytest.raises(DatasetError, match="positive"):
        OCB(tmp_path, n=0)


def test_the_ood_split_trains_on_three_stages_and_tests_on_two(ocb: OCB) -> None:
    from ckt.learn import split_dataset

    split = split_dataset(ocb, "ood", seed=0)
    stages = ocb._data.stages
    assert set(stages[split["test"]].tolist()) == {2}
    assert set(stages[torch.cat([split["train"], split["val"]])].tolist()) == {3}
    assert not set(ocb.groups[split["train"]].tolist()) & set(ocb.groups[split["val"]].tolist())
    assert len(split["train"]) + len(split["val"]) + len(split["test"]) == len(ocb)
