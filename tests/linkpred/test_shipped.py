"""The shipped checkpoint loads and completes a five-transistor OTA of our own far better than chance
(8 nets: a random ranking puts the true net first 1 time in 8, in the top 3 3 times in 8)."""

from __future__ import annotations

from ckt.graph.to_pyg import to_pins_pyg
from ckt.linkpred.evaluate import rank_of_true
from ckt.linkpred.predictor import DEFAULT_MODEL, load_predictor
from ckt.linkpred.samples import net_nodes, pin_nets, remove_pin_edge
from ckt.netlist import parse_spice
from tests.linkpred.circuits import ota


def test_shipped_model_ranks_the_true_net_of_most_pins_first():
    predictor = load_predictor()
    assert (DEFAULT_MODEL / "README.md").is_file() and predictor.record["dataset"] == "analoggenie"
    graph = to_pins_pyg(parse_spice(ota(1)))
    nets = net_nodes(graph)
    ranks = [rank_of_true(predictor.score(remove_pin_edge(graph, pin), pin, nets), nets.index(net))
             for pin, net in sorted(pin_nets(graph).items())]
    assert len(nets) == 8 and len(ranks) == 26
    assert sum(r == 1 for r in ranks) / len(ranks) >= 0.5
    assert sum(r <= 3 for r in ranks) / len(ranks) >= 0.75
