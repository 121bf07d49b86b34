"""Region splits keep every side's nodes apart; random-link splits do not."""

from __future__ import annotations

import pytest
import torch

from ckt.errors import DatasetError
from ckt.parasitic.features import graph_inputs
from ckt.parasitic.splits import SIDES, random_split, region_split, regions
from ckt.parasitic.tasks import labels


def _side_nodes(split, inputs, labs, side):
    ei, _ = split.side_edges(inputs, side)
    nodes = set(ei.flatten().tolist())
    nodes |= set(labs.nets[split.nets[side]].tolist())
    nodes |= set(labs.links[:, split.links[side]].flatten().tolist())
    return nodes


@pytest.mark.parametrize("seed", [0, 1])
def test_region_split_is_leak_free(small_graph, seed):
    inputs = graph_inputs(small_graph)
    labs = labels(small_graph, inputs)
    split = region_split(inputs, labs, region_size=40, seed=seed)
    train = _side_nodes(split, inputs, labs, "train")
    for side in ("val", "test"):
        other = _side_nodes(split, inputs, labs, side)
        assert other and not (other & train), f"{side} nodes seen in training"
    # every kept link has both ends on its side; the rest were dropped, not moved
    for k, side in enumerate(SIDES):
        ends = split.node_side[labs.links[:, split.links[side]]]
        assert bool((ends == k).all())
    kept = sum(v.numel() for v in split.links.values())
    assert kept + split.dropped_links == labs.links.shape[1]


def test_random_split_shares_the_graph(small_graph):
    inputs = graph_inputs(small_graph)
    labs = labels(small_graph, inputs)
    split = random_split(labs, seed=0)
    assert split.node_side is None
    train = _side_nodes(split, inputs, labs, "train")
    assert _side_nodes(split, inputs, labs, "test") <= train  # the whole graph is seen in training
    every = torch.cat(list(split.links.values())).sort().values
    assert torch.equal(every, torch.arange(labs.links.shape[1]))


def test_regions_are_bounded_and_cover_every_node(small_graph):
    inputs = graph_inputs(small_graph)
    region = regions(inputs.edge_index, inputs.num_nodes, 25, seed=3)
    assert int(region.min()) == 0
    assert int(torch.bincount(region).max()) <= 25


def test_bad_fractions_are_refused(small_graph):
    inputs = graph_inputs(small_graph)
    with pytest.raises(DatasetError, match="fractions"):
        region_split(inputs, labels(small_graph, inputs), fractions=(0.5, 0.5, 0.5))


def test_netlist_inputs_match_the_training_layout():
    from ckt.graph.to_pyg import to_pins_pyg
    from ckt.netlist.read import parse_netlist
    from ckt.parasitic.features import FEATURES

    text = "* t\nm1 out in 0 0 nmos w=1u l=0.1u\nm2 out in vdd vdd pmos w=2u l=0.1u\nr1 out x 1k\n"
    net = parse_netlist(text, "spice")
    inputs = graph_inputs(to_pins_pyg(net))
    col = {c: i for i, c in enumerate(FEATURES)}
    assert inputs.x.shape == (3 + 10 + 5, len(FEATURES))  # MOSFETs have four pins, R two
    assert inputs.rail.sum() == 2  # 0 and vdd
    assert not (inputs.rail[inputs.edge_index].any())
    out = 3 + 10 + 0  # the first net
    assert inputs.x[out, col["net:gates:log1p"]] == 0  # two drains and a resistor pin, no gate
    assert abs(float(inputs.x[out, col["net:diffusions:log1p"]]) - float(torch.log1p(torch.tensor(3.0)))) < 1e-6
    assert inputs.x[0, col["kind:mosfet"]] == 1 and inputs.x[2, col["kind:other"]] == 1
