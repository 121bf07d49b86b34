"""PyG views: feature columns, edge layout, exact rebuild (also via networkx and JSON), safe files."""

from __future__ import annotations

import json
import math
import pickle
import warnings
from pathlib import Path

import pytest
import torch

from ckt.errors import CktError, NetlistError
from ckt.graph import (
    BIPARTITE_NODE_COLUMNS,
    EDGE_TYPES,
    NODE_TYPES,
    PIN_NODE_COLUMNS,
    PYG_EDGE_TYPES,
    from_bipartite_nx,
    from_bipartite_pyg,
    from_pins_nx,
    from_pins_pyg,
    graph_from_json,
    graph_to_json,
    load_graph,
    save_graph,
    to_bipartite_nx,
    to_bipartite_pyg,
    to_pins_nx,
    to_pins_pyg,
)
from ckt.netlist.ir import (
    TERMINALS,
    Device,
    DeviceKind,
    Diagnostic,
    Expr,
    Include,
    Model,
    Netlist,
    Param,
    Statement,
    Subckt,
)

ROOT = Path(__file__).resolve().parents[2]
K = DeviceKind


def every_kind() -> Netlist:
    """One device of every kind, plus every kind of non-device content a netlist carries."""
    devices = []
    for i, kind in enumerate(K):
        pins = TERMINALS.get(kind) or ({K.SUBCKT: ("a", "b"), K.UNKNOWN: ("1", "2", "3")}.get(kind, ()))
        nets = [("0", "vdd", "out", "in")[(i + j) % 4] for j in range(len(pins))]
        devices.append(
            Device(
                name=f"{kind.letter if kind is not K.UNKNOWN else 'U'}{i}",
                kind=kind,
                terminals=tuple(zip(pins, nets)),
                model={K.MOSFET: "nch", K.BJT: "qp", K.SUBCKT: "cell"}.get(kind),
                value={K.RESISTOR: 1e3, K.CAPACITOR: Expr("cval*2"), K.VSOURCE: 0.0, K.MUTUAL: 0.9,
                       K.ISOURCE: math.inf}.get(kind),
                params=(("w", 2e-6), ("l", Expr("lmin")), ("m", 4.0)) if kind is K.MOSFET else (),
                spec={K.VSOURCE: "AC 1 SIN(0 1 1k)", K.MUTUAL: "L1 L2"}.get(kind, ""),
            )
        )
    devices.append(Device("Mdiode", K.MOSFET, (("d", "x"), ("g", "x"), ("s", "0"), ("b", "0")), model="pmos_lvt"))
    inner = Netlist(title="lib", models=(Model("qp", "pnp"),), params=(Param("lmin", 1e-7),))
    return Netlist(
        title="every kind",
        devices=tuple(devices),
        subckts=(
            Subckt("cell", ("a", "b"), devices=(Device("R1", K.RESISTOR, (("p", "a"), ("n", "b")), value=5.0),),
                   params=(Param("k", Expr("2*k0")),), subckts=(Subckt("leaf", ("z",)),)),
        ),
        params=(Param("cval", 1e-12), Param("k0", 3.0)),
        models=(Model("nch", "nmos", (("level", 1.0), ("vto", Expr("vt0")))),),
        includes=(Include("lib.inc", "tt", netlist=inner),),
        statements=(Statement("ac", ".ac dec 10 1 1g"), Statement("control", ".control\nrun\n.endc")),
        globals=("vdd",),
        diagnostics=(Diagnostic("warning", "made up", "x.cir", 3, "W1"),),
    )


VIEWS = {
    "bipartite-nx": (to_bipartite_nx, from_bipartite_nx),
    "pins-nx": (to_pins_nx, from_pins_nx),
    "bipartite-pyg": (to_bipartite_pyg, from_bipartite_pyg),
    "pins-pyg": (to_pins_pyg, from_pins_pyg),
}


@pytest.mark.parametrize("view", VIEWS)
def test_every_kind_rebuilds_exactly(view):
    to, back = VIEWS[view]
    n = every_kind()
    rebuilt = back(to(n))
    assert rebuilt == n
    assert [d.terminals for d in rebuilt.devices] == [d.terminals for d in n.devices]
    assert rebuilt.diagnostics == n.diagnostics
    assert [m.name for m in rebuilt.all_models()] == [m.name for m in n.all_models()]


@pytest.mark.parametrize("view", ["bipartite-nx", "pins-nx"])
def test_node_link_json_round_trip(view):
    to, back = VIEWS[view]
    n = every_kind()
    text = json.dumps(graph_to_json(to(n)), allow_nan=False)  # strict JSON: inf is encoded
    assert back(graph_from_json(json.loads(text))) == n


@pytest.mark.parametrize("view", ["bipartite-pyg", "pins-pyg"])
def test_saved_file_loads_with_weights_only_and_rebuilds(view, tmp_path):
    to, back = VIEWS[view]
    n = every_kind()
    data = to(n)
    path = tmp_path / "g.pt"
    save_graph(data, path)
    raw = torch.load(path, weights_only=True)  # builtins and tensors only: no allow-list needed
    assert raw["format"] == "ckt.graph"
    loaded = load_graph(path)
    assert torch.equal(loaded.x, data.x) and torch.equal(loaded.edge_index, data.edge_index)
    assert back(loaded) == n


class _Boom:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_load_graph_never_unpickles_classes(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"format": "ckt.graph", "version": 1, "data": _Boom()}, path)
    with pytest.raises(CktError, match="not a ckt graph"):
        load_graph(path)
    assert "unpickled!" not in capsys.readouterr().out


def test_load_graph_refuses_foreign_files(tmp_path):
    other = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, other)
    with pytest.raises(CktError, match="not a ckt graph"):
        load_graph(other)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(pickle.dumps([1, 2], protocol=2) + b"garbage")
    with pytest.raises(CktError, match="not a ckt graph"):
        load_graph(junk)


def _row(data, columns, node: int) -> dict[str, float]:
    return {c: float(v) for c, v in zip(columns, data.x[node]) if v != 0}


def test_bipartite_feature_columns():
    n = every_kind()
    data = to_bipartite_pyg(n)
    n_dev, n_net = len(n.devices), len(n.nets)
    assert data.x.shape == (n_dev + n_net, len(BIPARTITE_NODE_COLUMNS)) == (n_dev + n_net, 45)
    assert data.node_type.tolist() == [0] * n_dev + [1] * n_net
    mos = _row(data, BIPARTITE_NODE_COLUMNS, 0)
    assert mos == {
        "node:device": 1.0, "kind:MOSFET": 1.0, "polarity:n": 1.0,  # from the .model card type
        "w:log10": pytest.approx(math.log10(2e-6)), "w:mask": 1.0,  # l is an expression: no column
        "m:log10": pytest.approx(math.log10(4.0)), "m:mask": 1.0,
    }
    names = data.device_names
    assert _row(data, BIPARTITE_NODE_COLUMNS, names.index("Q1")).get("polarity:p") == 1.0  # pnp card in include
    assert _row(data, BIPARTITE_NODE_COLUMNS, names.index("Mdiode")).get("polarity:p") == 1.0  # by name
    r = _row(data, BIPARTITE_NODE_COLUMNS, names.index("R5"))
    assert (r["value:log10"], r["value:mask"]) == (3.0, 1.0)
    assert "value:mask" not in _row(data, BIPARTITE_NODE_COLUMNS, names.index("C6"))  # expression
    assert "value:mask" not in _row(data, BIPARTITE_NODE_COLUMNS, names.index("V9"))  # zero
    assert "value:mask" not in _row(data, BIPARTITE_NODE_COLUMNS, names.index("I10"))  # infinite
    nets = {name: _row(data, BIPARTITE_NODE_COLUMNS, n_dev + i) for i, name in enumerate(data.net_names)}
    assert nets["0"] == {"node:net": 1.0, "net:ground": 1.0}
    assert nets["vdd"] == {"node:net": 1.0, "net:supply": 1.0}
    assert nets["out"] == {"node:net": 1.0, "role:output": 1.0}  # a net's role by its name
    assert data.x.dtype == torch.float32


@pytest.mark.parametrize(("net", "role"), [
    ("VIN1", "input"), ("inp", "input"), ("in_n", "input"), ("IIN2", "input"), ("VOUT3", "output"),
    ("outp", "output"), ("VB2", "bias"), ("ibias_n", "bias"), ("IREF1", "bias"), ("vbp", "bias"),
    ("VREF1", "reference"), ("VCM1", "common_mode"), ("CLK", "clock"), ("VCLK2", "clock"),
    ("VCTRL", "control"), ("VCONT1", "control"), ("VLO1", "rf"), ("rf_p", "rf"), ("VLATCH1", "logic"),
    ("VDD", None), ("0", None), ("net7", None), ("vbat", None), ("bin", None), ("inv", None), ("outer", None),
])
def test_net_roles_follow_designers_pin_names(net: str, role: str | None) -> None:
    from ckt.graph.features import net_columns

    roles = [c.removeprefix("role:") for c in net_columns(net) if c.startswith("role:")]
    assert roles == ([role] if role else [])


def test_bipartite_edges_both_ways_with_one_hot_types():
    n = every_kind()
    data = to_bipartite_pyg(n)
    g = to_bipartite_nx(n)
    e = g.number_of_edges()
    assert data.edge_index.shape == (2, 2 * e) == (2, 2 * len(data.edge_pins))
    assert torch.equal(data.edge_index[:, e:], data.edge_index[:, :e].flip(0))
    assert bool((data.edge_index[0, :e] < len(n.devices)).all())
    assert data.edge_attr.shape == (2 * e, len(EDGE_TYPES))
    assert torch.equal(data.edge_attr.argmax(1), data.edge_type) and bool((data.edge_attr.sum(1) == 1).all())
    for (a, b), t in zip(data.edge_index[:, :e].t().tolist(), data.edge_type[:e].tolist()):
        assert g.edges[a, b]["etype"] == t
    diode = data.device_names.index("Mdiode")
    pairs = zip(data.edge_index.t().tolist(), data.edge_type.tolist())
    types = {EDGE_TYPES[t] for (a, _), t in pairs if a == diode}
    assert types == {"mosfet:d+g", "mosfet:s+b"}


def test_pin_view_columns_and_edges():
    n = every_kind()
    data = to_pins_pyg(n)
    n_dev, n_pin, n_net = len(n.devices), sum(len(d.terminals) for d in n.devices), len(n.nets)
    assert data.x.shape == (n_dev + n_pin + n_net, len(PIN_NODE_COLUMNS)) == (n_dev + n_pin + n_net, 62)
    assert data.node_type.tolist() == [0] * n_dev + [1] * n_pin + [2] * n_net
    assert data.edge_index.shape == (2, 4 * n_pin)
    assert data.edge_type.tolist() == [0] * n_pin + [1] * n_pin + [2] * n_pin + [3] * n_pin
    assert torch.equal(data.edge_index[:, 2 * n_pin:], data.edge_index[:, : 2 * n_pin].flip(0))
    first_pin = _row(data, PIN_NODE_COLUMNS, n_dev)  # M0's drain
    assert first_pin == {"node:pin": 1.0, "pin:d": 1.0}
    x_pin = data.pin_names.index("a")  # the subcircuit instance's first port
    assert _row(data, PIN_NODE_COLUMNS, n_dev + x_pin) == {"node:pin": 1.0, "pin:other": 1.0}
    hetero = data.to_heterogeneous(node_type_names=list(NODE_TYPES), edge_type_names=list(PYG_EDGE_TYPES))
    assert hetero["pin"].num_nodes == n_pin
    assert hetero["device", "device-pin", "pin"].edge_index[1].max().item() == n_pin - 1
    assert hetero["pin", "pin-net", "net"].edge_index[1].max().item() == n_net - 1


def test_features_are_deterministic():
    a, b = to_bipartite_pyg(every_kind()), to_bipartite_pyg(every_kind())
    for key in ("x", "edge_index", "edge_type", "edge_attr", "node_type"):
        assert torch.equal(a[key], b[key]), key


def test_pyg_rebuild_refuses_tampered_graphs():
    data = to_bipartite_pyg(every_kind())
    data.edge_index = data.edge_index[:, :-2]
    with pytest.raises(NetlistError, match="edge_index has shape"):
        from_bipartite_pyg(data)
    with pytest.raises(NetlistError, match="not a pins netlist graph"):
        from_pins_pyg(to_bipartite_pyg(every_kind()))
    pins = to_pins_pyg(every_kind())
    pins.edge_index = pins.edge_index.clone()
    pins.edge_index[1, 0] = 0  # device -> device
    with pytest.raises(NetlistError, match="does not fit a pin-level graph"):
        from_pins_pyg(pins)
    short = to_pins_pyg(every_kind())
    short.device_specs = short.device_specs[:-1]
    with pytest.raises(NetlistError, match="differ in length"):
        from_pins_pyg(short)


def _round_trips(netlists) -> None:
    for n in netlists:
        for view, (to, back) in VIEWS.items():
            assert back(to(n)) == n, f"{view}: {n.title}"


def test_project_netlists_rebuild_exactly():
    from ckt.netlist.read import read_netlist

    files = sorted(p for p in (ROOT / "netlists").iterdir() if p.suffix in {".cir", ".sp", ".spice", ".scs"})
    assert files
    _round_trips(read_netlist(p) for p in files)


def _analoggenie(root: Path, step: int, circuits_only: bool = False) -> list[Netlist]:
    """Every ``step``-th ``.cir`` file; ``circuits_only`` keeps ``{ID}/{ID}.cir`` (not the op-amp
    blocks and ``_full`` variants)."""
    from ckt.netlist.read import read_netlist

    files = [p for p in sorted(root.glob("*/*.cir")) if not circuits_only or p.stem == p.parent.name]
    assert files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reused instance names are renamed with a warning
        return [read_netlist(p) for p in files[::step]]


def test_analoggenie_sample_rebuilds_exactly(analoggenie_dir):
    """Every 50th file: circuits, the op-amp blocks and the ``_full`` variants with subcircuits."""
    _round_trips(_analoggenie(analoggenie_dir, 50))


@pytest.mark.slow
def test_analoggenie_all_rebuild_exactly(analoggenie_dir):
    """All 3,350 circuits, every view (37 s on the loaded 2-core VM, plus reading them)."""
    netlists = _analoggenie(analoggenie_dir, 1, circuits_only=True)
    assert len(netlists) == 3350
    _round_trips(netlists)


def test_docs_list_every_feature_column():
    doc = (ROOT / "docs" / "graphs.md").read_text()
    for name in dict.fromkeys(BIPARTITE_NODE_COLUMNS + PIN_NODE_COLUMNS):
        assert f"`{name}`" in doc or (name.startswith("kind:") and name[5:] in doc), name
    assert "| 134 | `other` |" in doc and EDGE_TYPES.index("other") == 134
    assert EDGE_TYPES.index("tline:p1") == 119 and EDGE_TYPES.index("bjt:c") == 15


def test_image2net_netlists_rebuild_exactly(image2net_dir):
    from ckt.netlist.read import read_netlist

    files = sorted(image2net_dir.glob("*.txt"))
    assert len(files) == 346
    _round_trips(read_netlist(p) for p in files)
