"""Per-device-kind standardisation of the numeric node features."""

from __future__ import annotations

import torch

from ckt.graph.features import BIPARTITE_NODE_COLUMNS
from ckt.graph.to_pyg import to_pins_pyg
from ckt.netlist import parse_spice
from ckt.nn.normalise import FeatureNormaliser
from tests.nn.circuits import ocb_like

VALUE = BIPARTITE_NODE_COLUMNS.index("value:log10")
MASK = BIPARTITE_NODE_COLUMNS.index("value:mask")
KIND = {c: i for i, c in enumerate(BIPARTITE_NODE_COLUMNS)}


def test_each_kind_is_standardised_on_its_own() -> None:
    values = ((1e-3, 2e-3, 1e-12), (4e-3, 1e-4, 3e-12), (2e-4, 1e-3, None))
    graphs = [ocb_like(gm1, gm2, cc)[0] for gm1, gm2, cc in values]
    x = torch.cat([g.x for g in graphs])
    norm = FeatureNormaliser(x.size(1))
    assert torch.equal(norm(x), x)  # identity before fit
    norm.fit(x)
    out = norm(x)
    for kind in ("kind:VCCS", "kind:CAPACITOR"):
        rows = (x[:, KIND[kind]] == 1) & (x[:, MASK] == 1)
        assert rows.sum() >= 6
        assert abs(float(out[rows, VALUE].mean())) < 1e-5
        assert abs(float(out[rows, VALUE].std(unbiased=False)) - 1) < 1e-4
    # every resistor is 1 MOhm: a constant column within its kind centres to 0 and stays finite
    resistors = x[:, KIND["kind:RESISTOR"]] == 1
    assert torch.allclose(out[resistors, VALUE], torch.zeros(int(resistors.sum())), atol=1e-5)
    # nets (mask 0) keep 0 and the one-hot columns pass unchanged
    nets = x[:, MASK] == 0
    assert (out[nets, VALUE] == 0).all()
    others = [i for i, c in enumerate(BIPARTITE_NODE_COLUMNS) if not c.endswith(":log10")]
    assert torch.equal(out[:, others], x[:, others])
    # the statistics are part of the state dict, so a checkpoint carries them
    again = FeatureNormaliser(x.size(1))
    again.load_state_dict(norm.state_dict())
    assert torch.equal(again(x), out)


def test_pin_view_layout_and_unknown_layouts() -> None:
    deck = "* pins\nR1 a 0 1k\nR2 a b 10k\nC1 b 0 1p\n.end\n"
    x = to_pins_pyg(parse_spice(deck)).x
    norm = FeatureNormaliser(x.size(1))
    norm.fit(x)
    assert norm.value_columns.numel() == 4 and norm.kind_columns.numel() == 21
    plain = torch.tensor([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    other = FeatureNormaliser(2)
    other.fit(plain)
    assert torch.allclose(other(plain), torch.tensor([[-1.2247, 0.0], [0.0, 0.0], [1.2247, 0.0]]), atol=1e-4)
