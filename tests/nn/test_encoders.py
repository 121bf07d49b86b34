"""Encoders: shapes and gradients on batches built by the graph layer, batching equals one-by-one,
the two-level encoder sees inner values, permutation invariances, DAG orientations, bad input."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from ckt.errors import ModelConfigError
from ckt.graph.features import BIPARTITE_NODE_COLUMNS
from ckt.graph.two_level import Block, TwoLevelGraph, to_two_level_pyg
from ckt.nn.dag import flat_orientation, input_net_mask, topological_levels
from ckt.nn.gps import positional_encoding
from ckt.nn.model import ENCODERS, build_encoder
from ckt.nn.train import loader
from tests.nn.circuits import BLOCK_TYPES, cs_amp, ocb_like, rc_ladder

VALUE = BIPARTITE_NODE_COLUMNS.index("value:log10")
SMALL = {"hidden": 16, "out_dim": 8}


def flat_graphs() -> list[Data]:
    return [rc_ladder(1e3, 1e-12, 2), cs_amp(2e-6), rc_ladder(5e3, 2e-12, 3)]


def two_level_graphs() -> list[Data]:
    return [ocb_like(1e-3, 2e-3)[0], ocb_like(3e-3, 1e-3, 1e-12)[0], ocb_like(5e-4, 4e-3, 3e-12)[0]]


def flat_levels(data: Data) -> torch.Tensor:
    """Topological levels of a single flat graph's breadth-first orientation."""
    keep, single = flat_orientation(data), torch.zeros(data.num_nodes, dtype=torch.long)
    return topological_levels(data.edge_index[:, keep], data.num_nodes, single)[0]


def graphs_for(name: str) -> list[Data]:
    return two_level_graphs() if name in ("two_level", "dagnn") else flat_graphs()


def encoder(name: str, **extra: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_encoder({"name": name, **SMALL, "num_block_types": len(BLOCK_TYPES), **extra}
                         if name in ("two_level", "dagnn") else {"name": name, **SMALL, **extra})


def embed(enc: torch.nn.Module, graphs: list[Data]) -> torch.Tensor:
    enc.eval()
    with torch.no_grad():
        return enc(next(iter(loader(graphs, len(graphs)))))


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_forward_backward_on_a_batch(name: str) -> None:
    enc = encoder(name)
    batch = next(iter(loader(graphs_for(name), 8)))
    z = enc(batch)
    assert z.shape == (3, enc.out_dim) and torch.isfinite(z).all()
    z.pow(2).sum().backward()
    for param in (enc.inp.weight, enc.out.weight):
        assert param.grad is not None and param.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_a_batch_embeds_like_its_graphs_one_by_one(name: str) -> None:
    enc = encoder(name)
    graphs = graphs_for(name)
    together = embed(enc, graphs)
    alone = torch.cat([embed(enc, [g]) for g in graphs])
    assert torch.allclose(together, alone, atol=1e-5)
    assert not torch.allclose(together[0], together[1], atol=1e-4)


def test_dagnn_runs_on_flat_graphs_too() -> None:
    enc = encoder("dagnn")
    graphs = flat_graphs()
    z = embed(enc, graphs)
    assert z.shape == (3, 8)
    assert torch.allclose(z, torch.cat([embed(enc, [g]) for g in graphs]), atol=1e-5)


@pytest.mark.parametrize("name", ["gin", "gcn", "gat", "gps"])
def test_flat_encoders_read_two_level_data_as_its_flat_graph(name: str) -> None:
    enc = encoder(name, **({"pe": None} if name == "gps" else {}))
    two = ocb_like(1e-3, 2e-3)[0]
    flat = Data(x=two.x, edge_index=two.edge_index, edge_type=two.edge_type, num_nodes=two.num_nodes)
    assert torch.allclose(embed(enc, [two]), embed(enc, [flat]), atol=1e-6)


def test_two_level_embedding_changes_with_one_inner_value() -> None:
    enc = encoder("two_level")
    base, changed = ocb_like(1e-3, 2e-3)[0], ocb_like(1e-3, 2.5e-3)[0]
    differ = (base.x != changed.x).any(1).nonzero().squeeze(1).tolist()
    assert len(differ) == 1 and (base.x[differ[0]] != changed.x[differ[0]]).nonzero().squeeze(1).tolist() == [VALUE]
    assert not torch.allclose(embed(enc, [base]), embed(enc, [changed]), atol=1e-5)
    # the same change written straight into the value column does the same
    poked = base.clone()
    poked.x = base.x.clone()
    poked.x[differ[0], VALUE] = changed.x[differ[0], VALUE]
    assert torch.allclose(embed(enc, [poked]), embed(enc, [changed]), atol=1e-6)


def test_two_level_embedding_ignores_block_and_device_order() -> None:
    enc = encoder("two_level")
    data, netlist, graph = ocb_like(1e-3, 2e-3, 1e-12)
    order = [2, 0, 1]
    where = {old: new for new, old in enumerate(order)}
    shuffled = TwoLevelGraph(
        graph.basis,
        tuple(Block(b.type, tuple(reversed(b.devices)), tuple(reversed(b.nets))) for b in
              (graph.blocks[i] for i in order)),
        tuple((where[i], where[j]) for i, j in graph.edges),
    )
    other = to_two_level_pyg(netlist, shuffled, BLOCK_TYPES)
    assert not torch.equal(data.inner_node, other.inner_node)
    assert torch.allclose(embed(enc, [data]), embed(enc, [other]), atol=1e-5)


def test_two_level_embedding_sees_the_outer_direction() -> None:
    enc = encoder("two_level")
    data, netlist, graph = ocb_like(1e-3, 2e-3, 1e-12)
    flipped = TwoLevelGraph(graph.basis, graph.blocks, tuple((j, i) for i, j in graph.edges))
    assert not torch.allclose(embed(enc, [data]), embed(enc, [to_two_level_pyg(netlist, flipped, BLOCK_TYPES)]),
                              atol=1e-5)


def test_gin_sum_readout_ignores_device_order_and_counts_copies() -> None:
    from ckt.graph.to_pyg import to_bipartite_pyg
    from ckt.netlist import parse_spice

    enc = encoder("gin")
    deck = "* r\nV1 in 0 DC 1\nR1 in a 1k\nR2 a 0 2k\nC1 a 0 1p\n.end\n"
    reordered = "* r\nC1 a 0 1p\nR2 a 0 2k\nV1 in 0 DC 1\nR1 in a 1k\n.end\n"
    one, other = to_bipartite_pyg(parse_spice(deck)), to_bipartite_pyg(parse_spice(reordered))
    z = embed(enc, [one, other])
    assert torch.allclose(z[0], z[1], atol=1e-5)
    # two disjoint copies as one graph: the summed node states double, the affine readout shows it
    pair = next(iter(loader([one, one], 2)))
    union = Data(x=pair.x, edge_index=pair.edge_index, edge_type=pair.edge_type, num_nodes=pair.num_nodes)
    bias = enc.out.bias.detach()
    assert torch.allclose(embed(enc, [union])[0] - bias, 2 * (z[0] - bias), atol=1e-4)


def test_topological_levels_keep_a_dag_and_break_cycles() -> None:
    dag = torch.tensor([[0, 0, 1, 2], [1, 2, 3, 3]])
    level, keep = topological_levels(dag, 4, torch.zeros(4, dtype=torch.long))
    assert level.tolist() == [0, 1, 1, 2] and keep.all()
    # 0 -> 1 -> 2 -> 0 is a cycle: node 0 is forced first and the edge 2 -> 0 dropped
    cycle = torch.tensor([[0, 1, 2], [1, 2, 0]])
    level, keep = topological_levels(cycle, 3, torch.zeros(3, dtype=torch.long))
    assert level.tolist() == [0, 1, 2] and keep.tolist() == [True, True, False]
    # in a batch, each graph is handled on its own
    both = torch.cat([dag, cycle + 4], 1)
    level, keep = topological_levels(both, 7, torch.tensor([0, 0, 0, 0, 1, 1, 1]))
    assert level.tolist() == [0, 1, 1, 2, 0, 1, 2] and keep.tolist() == [True] * 4 + [True, True, False]


def test_flat_orientation_orients_every_edge_once_from_the_sources() -> None:
    data = rc_ladder(1e3, 1e-12, 3)
    edges = data.edge_index[:, flat_orientation(data)]
    half = data.edge_index.size(1) // 2
    assert edges.size(1) == half
    undirected = {frozenset(e) for e in data.edge_index.t().tolist()}
    assert {frozenset(e) for e in edges.t().tolist()} == undirected
    level, keep = topological_levels(edges, data.num_nodes, torch.zeros(data.num_nodes, dtype=torch.long))
    assert keep.all()
    ground = data.num_nodes - len(data.net_names) + data.net_names.index("0")
    assert level[ground] == 0
    # with input nets marked, the orientation starts at `in` instead
    data.dag_source = input_net_mask(data)
    inp = data.num_nodes - len(data.net_names) + data.net_names.index("in")
    assert data.dag_source.nonzero().squeeze(1).tolist() == [inp]
    level = flat_levels(data)
    assert level[inp] == 0 and level[ground] > 0


def test_gps_positional_encodings_stored_or_computed_agree() -> None:
    graphs = flat_graphs()
    batch = next(iter(loader(graphs, 8)))
    computed = positional_encoding(batch, "rw", 4)
    for g in graphs:
        g.random_walk_pe = positional_encoding(g, "rw", 4)
    stored_batch = next(iter(loader(graphs, 8)))
    assert torch.allclose(stored_batch.random_walk_pe, computed)
    lap = positional_encoding(batch, "lap", 16)  # wider than the smallest graph: zero-padded
    assert lap.shape == (batch.num_nodes, 16) and torch.isfinite(lap).all()
    assert (lap[batch.batch == 0][:, graphs[0].num_nodes - 1:] == 0).all()
    with pytest.raises(ModelConfigError, match="columns"):
        positional_encoding(stored_batch, "rw", 6)


def test_bad_input_is_a_typed_error() -> None:
    with pytest.raises(ModelConfigError, match="unknown encoder"):
        build_encoder({"name": "cktgnn"})
    with pytest.raises(ModelConfigError, match="gin.*widht"):
        build_encoder({"name": "gin", "widht": 3})
    with pytest.raises(ModelConfigError, match="pooling"):
        build_encoder({"name": "gcn", "pool": "median"})
    with pytest.raises(ModelConfigError, match="TwoLevelData"):
        encoder("two_level")(flat_graphs()[0])
    with pytest.raises(ModelConfigError, match="block type 3 is outside"):
        build_encoder({"name": "two_level", "num_block_types": 3})(ocb_like(1e-3, 1e-3, 1e-12)[0])
    from torch_geometric.loader import DataLoader

    unfollowed = next(iter(DataLoader(two_level_graphs(), batch_size=3)))
    with pytest.raises(ModelConfigError, match="follow_batch"):
        encoder("two_level")(unfollowed)


def test_dagnn_on_the_pin_view_starts_at_the_rails() -> None:
    from ckt.graph.to_pyg import to_pins_pyg
    from ckt.netlist import parse_spice

    data = to_pins_pyg(parse_spice("* p\nV1 vdd 0 DC 1\nR1 vdd a 1k\nR2 a 0 1k\n.end\n"))
    level = flat_levels(data)
    first_net = data.num_nodes - len(data.net_names)
    rails = [first_net + data.net_names.index(n) for n in ("vdd", "0")]
    assert level[rails].tolist() == [0, 0] and (level[first_net + data.net_names.index("a")] > 0)
    z = encoder("dagnn", in_dim=data.x.size(1), num_edge_types=4)
    assert z(data).shape == (1, 8)


def test_dagnn_sees_edge_types() -> None:
    enc = encoder("dagnn")
    data = cs_amp(2e-6)
    other = data.clone()
    other.edge_type = torch.zeros_like(data.edge_type)
    assert not torch.allclose(embed(enc, [data]), embed(enc, [other]), atol=1e-5)


def test_register_encoder_adds_a_name_once() -> None:
    from ckt.nn.encoders import GIN
    from ckt.nn.model import register_encoder

    class Wide(GIN):
        name = "wide_gin_test"

    try:
        register_encoder(Wide)
        assert isinstance(build_encoder({"name": "wide_gin_test", **SMALL}), Wide)
        assert register_encoder(Wide) is Wide  # the same class again is fine

        class Other(GIN):
            name = "wide_gin_test"

        with pytest.raises(ModelConfigError, match="already registered"):
            register_encoder(Other)
    finally:
        ENCODERS.pop("wide_gin_test", None)


def test_dagnn_batch_with_and_without_marked_inputs_matches_one_by_one() -> None:
    enc = encoder("dagnn")
    marked, unmarked = rc_ladder(1e3, 1e-12, 3), rc_ladder(2e3, 1e-12, 2)
    marked.dag_source = input_net_mask(marked)
    unmarked.dag_source = torch.zeros(unmarked.num_nodes, dtype=torch.bool)
    together = embed(enc, [marked, unmarked])
    assert torch.allclose(together, torch.cat([embed(enc, [marked]), embed(enc, [unmarked])]), atol=1e-5)
    # the unmarked graph falls back to its rails, as it does with no mask at all
    del unmarked.dag_source
    assert torch.allclose(together[1], embed(enc, [unmarked])[0], atol=1e-5)
