"""Binding generic nmos4/pmos4 devices to a PDK, the deck header, the generic cards, and a DC check
that every registered PDK really simulates an inverter bound from generic devices."""

from __future__ import annotations

import re
import subprocess

import pytest

from ckt.errors import PdkError
from ckt.netlist.ir import Device, DeviceKind, Expr, Include, Model, Netlist, Statement, Subckt
from ckt.netlist.write import write_spice
from ckt.pdk import bind, generic_card, get_pdk, list_pdks, models_root, pdk_deck_header
from tests.conftest import requires_ngspice


def mos(name, d, g, s, b, model, **params):
    return Device(name, DeviceKind.MOSFET, (("d", d), ("g", g), ("s", s), ("b", b)), model, None, tuple(params.items()))


def amp() -> Netlist:
    sub = Subckt(
        "cs",
        ("in", "out", "vdd"),
        devices=(
            mos("M1", "out", "in", "0", "0", "NMOS4", w=2e-6, l=Expr("lmin*2"), m=3.0),
            mos("M2", "out", "out", "vdd", "vdd", "pmos4", w=Expr("wp"), l=1e-7, ad=1e-12),
            mos("XM1", "out", "in", "0", "0", "nch", w=1e-6, l=1e-7),
        ),
    )
    top = (
        mos("M9", "a", "b", "0", "0", "nmos4", w=5e-7, l=1.5e-7),
        Device("R1", DeviceKind.RESISTOR, (("p", "a"), ("n", "0")), None, 1e3),
    )
    return Netlist(title="t", devices=top, subckts=(sub,), includes=(Include("/x/pdk_models/generic/ptm45.lib"),))


def test_model_style_renames_the_model_only():
    bound = bind(amp(), get_pdk("ptm45"))
    m1, m2, other = bound.subckts[0].devices
    assert (m1.kind, m1.model, m1.params) == (DeviceKind.MOSFET, "nmos", amp().subckts[0].devices[0].params)
    assert m2.model == "pmos" and other.model == "nch"
    assert bound.devices[0].model == "nmos" and bound.devices[1] == amp().devices[1]
    assert [i.path for i in bound.includes] == [str(models_root() / "ptm" / "ptm45nm_bulk_autockt.txt")]


def test_subckt_style_makes_x_instances_in_microns():
    bound = bind(amp(), get_pdk("sky130"))
    x1, x2, other = bound.subckts[0].devices
    assert x1.kind is DeviceKind.SUBCKT and x1.model == "sky130_fd_pr__nfet_01v8"
    assert x1.name == "XM1_2"  # XM1 is taken in that scope
    assert x1.terminals == (("d", "out"), ("g", "in"), ("s", "0"), ("b", "0"))
    assert x1.params == (("w", 2.0), ("l", Expr("(lmin*2)/1e-06")), ("m", 3.0))
    assert x2.name == "XM2" and x2.params == (("w", Expr("(wp)/1e-06")), ("l", 0.1), ("ad", 1.0))
    assert other.kind is DeviceKind.MOSFET
    top = bound.devices[0]
    assert (top.name, top.params) == ("XM9", (("w", 0.5), ("l", 0.15)))
    assert [(i.path.rsplit("/", 1)[1], i.section) for i in bound.includes] == [("sky130_min_tt.lib.spice", None)]


def test_gf180_binds_to_its_models_with_the_corner_section():
    bound = bind(amp(), get_pdk("gf180"), corner="ff")
    assert bound.devices[0].model == "nmos_3p3" and bound.devices[0].kind is DeviceKind.MOSFET
    assert [i.section for i in bound.includes] == [None, "ff"]


def test_extra_generic_names_and_kept_includes():
    net = Netlist(
        devices=(mos("M1", "d", "g", "0", "0", "nmos"), mos("M2", "d", "g", "v", "v", "PMOS")),
        includes=(Include("mine.lib"),),
    )
    assert bind(net, get_pdk("sky130")).devices[0].kind is DeviceKind.MOSFET  # plain nmos is not generic
    bound = bind(net, get_pdk("sky130"), generic=("nmos", "pmos"))
    assert [d.model for d in bound.devices] == ["sky130_fd_pr__nfet_01v8", "sky130_fd_pr__pfet_01v8"]
    assert bound.includes[0] == Include("mine.lib")  # not a generic card: kept
    with pytest.raises(PdkError, match="generic device name 'fet' must start with 'n' or 'p'"):
        bind(net, get_pdk("sky130"), generic=("fet",))


def test_resolved_generic_card_include_is_dropped():
    card = Netlist(models=(Model("nmos4", "nmos"), Model("pmos4", "pmos")))
    net = Netlist(devices=(mos("M1", "d", "g", "0", "0", "nmos4"),), includes=(Include("../g.lib", netlist=card),))
    assert [i.path.rsplit("/", 1)[1] for i in bind(net, get_pdk("ptm22")).includes] == ["ptm22nm_hkmg_TDC.pm"]


def test_deck_header_lines():
    header = pdk_deck_header(get_pdk("gf180"))
    root = models_root()
    assert header[1:] == [
        "* run with: set ngbehavior=hs (in .spiceinit or before loading)",
        f'.include "{root}/gf180/design.ngspice"',
        f'.lib "{root}/gf180/sm141064.ngspice" typical',
        ".temp 27",
    ]


@pytest.mark.parametrize("name", [p.name for p in list_pdks() if p.name.startswith("ptm")])
def test_shipped_generic_cards_are_current(name):
    shipped = (models_root() / "generic" / f"{name}.lib").read_text()
    assert shipped == generic_card(get_pdk(name))
    assert re.findall(r"^\.model\s+(\S+)", shipped, re.M | re.I) == ["nmos4", "pmos4"]


def test_generic_card_refuses_subckt_pdks():
    with pytest.raises(PdkError, match="PDK sky130: a generic card needs a single-file model-style PDK"):
        generic_card(get_pdk("sky130"))


def inverter(pdk) -> str:
    length = 2 * pdk.node_nm * 1e-9
    vdd = pdk.vdd
    net = Netlist(
        title=f"inverter {pdk.name}",
        devices=(
            mos("MP", "out", "in", "vdd", "vdd", "pmos4", w=2e-6, l=length),
            mos("MN", "out", "in", "0", "0", "nmos4", w=1e-6, l=length),
            Device("VDD", DeviceKind.VSOURCE, (("p", "vdd"), ("n", "0")), None, vdd),
            Device("VIN", DeviceKind.VSOURCE, (("p", "in"), ("n", "0")), None, 0.0),
        ),
        statements=(
            Statement("save", ".save all"),
            Statement("dc", f".dc vin 0 {vdd} {vdd / 20}"),
            Statement("meas", ".meas dc vhigh find v(out) at=0"),
            Statement("meas", f".meas dc vswitch when v(out)={vdd / 2}"),
            Statement("meas", f".meas dc vlow find v(out) at={0.99 * vdd:.4g}"),
        ),
    )
    return write_spice(bind(net, pdk))


@pytest.mark.ngspice
@requires_ngspice
@pytest.mark.parametrize("name", [p.name for p in list_pdks()])
def test_every_pdk_simulates_a_bound_inverter(name, tmp_path):
    pdk = get_pdk(name)
    (tmp_path / "inv.cir").write_text(inverter(pdk))
    args = [a for opt in pdk.spice_options for a in ("-D", opt.removeprefix("set ").strip())]
    run = subprocess.run(["ngspice", *args, "-b", "inv.cir"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    found = dict(re.findall(r"^(vhigh|vswitch|vlow)\s+=\s+(\S+)", run.stdout, re.M))
    assert set(found) == {"vhigh", "vswitch", "vlow"}, run.stdout[-2000:] + run.stderr[-2000:]
    v = {k: float(x) for k, x in found.items()}
    assert v["vhigh"] > 0.95 * pdk.vdd
    assert v["vlow"] < 0.05 * pdk.vdd
    assert 0.2 * pdk.vdd < v["vswitch"] < 0.8 * pdk.vdd  # switches inside the supply range
