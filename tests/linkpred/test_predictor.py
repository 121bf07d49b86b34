"""The predictor API the completion command calls: probabilities per candidate net of a pin whose
edges the caller removed."""

from __future__ import annotations

import pytest

from ckt.errors import CheckpointError, DatasetError
from ckt.graph.to_pyg import to_pins_pyg
from ckt.linkpred.predictor import load_predictor
from ckt.linkpred.samples import net_nodes, pin_nets, remove_pin_edge
from ckt.linkpred.train import LinkTrainRequest, train_linkpred
from ckt.netlist import parse_spice
from tests.linkpred.circuits import ota, tiny_circuits


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("lp") / "seal"
    request = LinkTrainRequest(dataset="tiny", model="seal", out=str(out), epochs=2, batch_size=16, lr=3e-3, threads=1,
                               hidden=16, layers=2, hops=2, pins_per_circuit=6, eval_pins=2, progress=False)
    train_linkpred(request, tiny_circuits())
    return out


def test_score_gives_one_probability_per_candidate(trained):
    predictor = load_predictor(trained)
    graph = to_pins_pyg(parse_spice(ota(4)))
    pin, true_net = next(iter(sorted(pin_nets(graph).items())))
    cut = remove_pin_edge(graph, pin)
    nets = net_nodes(graph)
    scores = predictor.score(cut, pin, nets)
    assert len(scores) == len(nets) and all(0.0 <= s <= 1.0 for s in scores)
    assert predictor.score(cut, pin, nets[::-1]) == pytest.approx(scores[::-1], abs=1e-6)  # order-free
    assert predictor.score(cut, pin, []) == []
    with pytest.raises(DatasetError, match="not net nodes"):
        predictor.score(cut, pin, [pin])
    with pytest.raises(DatasetError, match="not a pin node"):
        predictor.score(cut, nets[0], nets)
    assert predictor.record["config"]["kind"] == "seal" and true_net in nets


def test_missing_or_invalid_folders_raise_checkpoint_error(tmp_path, trained):
    with pytest.raises(CheckpointError, match="no link-prediction model there"):
        load_predictor(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match="not a trained"):
        load_predictor(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.json").write_text((trained / "model.json").read_text())
    (bad / "best.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="weights_only"):
        load_predictor(bad)
