"""Export of device-level op-amps to sizable DUTs: own small circuits, the real AnalogGenie op-amps, ngspice."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ckt.errors import ExportError
from ckt.gen.export import NC_PORT, ExportedOpAmp, amplifies, export_opamp, input_signs, orient, write_export
from ckt.netlist.ir import Device, DeviceKind, Expr, Netlist
from ckt.netlist.params import global_scope
from ckt.netlist.read import read_netlist
from tests.conftest import requires_ngspice, shared


def mos(name: str, d: str, g: str, s: str, b: str, model: str = "nmos4") -> Device:
    return Device(name, DeviceKind.MOSFET, (("d", d), ("g", g), ("s", s), ("b", b)), model=model)


def two(kind: DeviceKind, name: str, p: str, n: str, model: str | None = None) -> Device:
    return Device(name, kind, (("p", p), ("n", n)), model=model)


# Five-transistor OTA as a generator writes it: VIN2 drives the diode side of the mirror, so VIN2 is
# the non-inverting input and VIN1 the inverting one.
OTA = Netlist(devices=(
    mos("M1", "VOUT1", "VIN1", "tail", "VSS"),
    mos("M2", "x", "VIN2", "tail", "VSS"),
    mos("M3", "x", "x", "VDD", "VDD", "pmos4"),
    mos("M4", "VOUT1", "x", "VDD", "VDD", "pmos4"),
    mos("M5", "tail", "IB1", "VSS", "VSS"),
    mos("M6", "IB1", "IB1", "VSS", "VSS"),
))
OTA_PORTS = ("VDD", "VSS", "VIN1", "VIN2", "VOUT1", "IB1")

# The same OTA with a diode-connected output load: valid and exportable, but no gain at any sizing
# worth the name (gm2 / gm4 with tied mirror halves).
DIODE_LOAD_OTA = Netlist(devices=tuple(mos("M4", "VOUT1", "VOUT1", "VDD", "VDD", "pmos4") if d.name == "M4" else d
                                       for d in OTA.devices))

# Fully differential pair with resistor loads, a PMOS-diode current port, a Miller-like capacitor
# pair, a BJT and a diode, and a bias voltage: every device family the export sizes.
FD = Netlist(devices=(
    mos("M1", "VOUT1", "VIN1", "tail", "VSS"),
    mos("M2", "VOUT2", "VIN2", "tail", "VSS"),
    two(DeviceKind.RESISTOR, "R1", "VDD", "VOUT1"),
    two(DeviceKind.RESISTOR, "R2", "VDD", "VOUT2"),
    two(DeviceKind.CAPACITOR, "C1", "VOUT1", "VSS"),
    two(DeviceKind.CAPACITOR, "C2", "VSS", "VOUT2"),
    mos("M3", "tail", "VB1", "VSS", "VSS"),
    mos("M4", "IB1", "IB1", "VDD", "VDD", "pmos4"),
    mos("M5", "y", "IB1", "VDD", "VDD", "pmos4"),
    Device("Q1", DeviceKind.BJT, (("c", "y"), ("b", "y"), ("e", "z"), ("sub", "0")), model="npn"),
    two(DeviceKind.DIODE, "D1", "z", "VSS", "diode"),
))
FD_PORTS = ("VDD", "VSS", "VIN1", "VIN2", "VOUT1", "VOUT2", "VB1", "IB1")


def params_of(e: ExportedOpAmp, name: str) -> tuple[str, ...]:
    """The ``.param`` names a DUT device reads (its value and keyword parameters)."""
    sub = e.netlist.subckts[0]
    d = next(x for x in sub.devices if x.name.lstrip("X") == name)
    vals = [d.value, *(v for _, v in d.params)]
    return tuple(v.text for v in vals if isinstance(v, Expr))


def test_ota_roles_polarity_and_design_space():
    e = export_opamp(OTA, OTA_PORTS, pdk="ptm180", name="ota")
    roles = dict(e.ports)
    assert (roles["inp"], roles["inn"], roles["out"]) == ("VIN2", "VIN1", "VOUT1") and e.polarity == "rule"
    assert roles["ib1"] == "IB1" and roles["vss"] == "VSS" and roles["vdd"] == "VDD"
    assert e.netlist.subckts[0].ports[:5] == ("VSS", "VDD", "VIN2", "VIN1", "VOUT1")
    assert input_signs(OTA, "VIN1", "VIN2", "VOUT1", set(OTA_PORTS)) == (-1, 1)
    # no automorphism in a single-ended OTA; the input pair is matched by the designer's rule
    assert e.n_device_params == 12 and e.n_tied_params == 10
    assert dict(e.groups)["w_m1"] == ("M1", "M2") and params_of(e, "M2") == ("w_m1", "l_m1")
    names = {v.name for v in e.variables}
    assert names == {f"{k}_m{i}" for k in "wl" for i in (1, 3, 4, 5, 6)} | {"ib1"}
    untied = export_opamp(OTA, OTA_PORTS, match_inputs=False)
    assert untied.n_tied_params == 12 and params_of(untied, "M2") == ("w_m2", "l_m2")
    scope = global_scope(e.netlist)
    for v in e.variables:  # defaults at mid-range (geometric for log ranges)
        mid = math.sqrt(v.lo * v.hi) if v.log else (v.lo + v.hi) / 2
        assert scope[v.name.lower()] == pytest.approx(mid, rel=1e-3)
        assert dict(e.defaults)[v.name] == pytest.approx(mid, rel=1e-3)
    w = next(v for v in e.variables if v.name == "w_m3")
    lv = next(v for v in e.variables if v.name == "l_m1")
    assert (lv.lo, lv.hi, w.lo) == (pytest.approx(180e-9), pytest.approx(1.8e-6), pytest.approx(360e-9))
    assert all(d.model in ("NMOS", "PMOS") for d in e.netlist.subckts[0].devices)  # bound to PTM 180 nm
    sw = e.swapped()
    assert (dict(sw.ports)["inp"], dict(sw.ports)["inn"]) == ("VIN1", "VIN2") and sw.polarity == "swapped"


def test_sky130_binding_scales_the_sizes():
    e = export_opamp(OTA, OTA_PORTS, pdk="sky130")
    d = e.netlist.subckts[0].devices[0]
    assert d.kind is DeviceKind.SUBCKT and d.model == "sky130_fd_pr__nfet_01v8"
    assert dict(d.params)["w"] == Expr("(w_m1)/1e-06")
    assert next(v for v in e.variables if v.name == "l_m1").lo == pytest.approx(0.15e-6)


def test_symmetric_devices_share_parameters_and_every_device_is_sized(tmp_path: Path):
    e = export_opamp(FD, FD_PORTS, name="fd")
    assert params_of(e, "M1") == params_of(e, "M2") == ("w_m1", "l_m1")
    assert params_of(e, "R1") == params_of(e, "R2") == ("r_r1",)
    assert params_of(e, "C1") == params_of(e, "C2") == ("c_c1",)
    assert params_of(e, "Q1") == ("area_q1",) and params_of(e, "D1") == ("area_d1",)
    assert e.n_device_params == 2 * 5 + 6 and e.n_tied_params == 2 * 4 + 4
    groups = dict(e.groups)
    assert groups["w_m1"] == ("M1", "M2") and groups["r_r1"] == ("R1", "R2")
    roles = dict(e.ports)
    assert roles["out"] == "VOUT1" and "VOUT2" not in roles.values() and e.internal == ("VOUT2",)
    assert "VOUT2" in e.netlist.subckts[0].devices[1].nets  # kept as an internal net
    # the PMOS diode on IB1 draws its current out to vss: the role's value is a negative parameter
    scope = global_scope(e.netlist)
    assert scope["ib1"] == -scope["isink_ib1"] < 0 and "isink_ib1" in {v.name for v in e.variables}
    assert scope["vb1"] == pytest.approx(e.vdd / 2)
    assert {m.name for m in e.netlist.subckts[0].models} == {"ckt_npn", "ckt_diode"}
    cir, spec = write_export(e, tmp_path)
    back = read_netlist(cir)
    sub = back.subckt("fd")
    assert sub is not None and len(sub.devices) == len(FD.devices)
    used = {v.text for d in sub.devices for v in (d.value, *(x for _, x in d.params)) if isinstance(v, Expr)}
    assert used <= set(global_scope(back)) and {v.name for v in e.variables} >= used
    from ckt.opt.spec import load_spec

    loaded = load_spec(str(spec))
    assert loaded.variables == e.variables and loaded.pdk == "ptm180"
    assert dict(loaded.testbench.ports) == roles and loaded.testbench.dut == "fd"


def test_single_input_gets_an_unconnected_inn():
    net = Netlist(devices=(mos("M1", "VOUT1", "VIN1", "VSS", "VSS"), mos("M2", "VOUT1", "VB1", "VDD", "VDD", "pmos4")))
    e = export_opamp(net, ("VDD", "VSS", "VIN1", "VOUT1", "VB1"))
    assert dict(e.ports)["inp"] == "VIN1" and dict(e.ports)["inn"] == NC_PORT and e.polarity == "single"
    assert NC_PORT in e.netlist.subckts[0].ports
    assert all(NC_PORT not in d.nets for d in e.netlist.subckts[0].devices)
    with pytest.raises(ExportError, match="no input to swap"):
        e.swapped()


def test_extra_outputs_stay_internal_and_other_ports_are_biases():
    net = Netlist(devices=(
        mos("M1", "VOUT1", "VIN1", "t", "VSS"), mos("M2", "IOUT1", "VIN2", "t", "VSS"),
        mos("M3", "t", "IIN1", "VSS", "VSS"), mos("M4", "IIN1", "IIN1", "VSS", "VSS"),
        mos("M5", "VOUT1", "VREF1", "VDD", "VDD", "pmos4"), mos("M6", "IOUT1", "VREF1", "VDD", "VDD", "pmos4"),
    ))
    e = export_opamp(net, ("VDD", "VSS", "VIN1", "VIN2", "VOUT1", "IOUT1", "IIN1", "VREF1", "VB9"))
    roles = dict(e.ports)
    assert roles["out"] == "VOUT1" and e.internal == ("IOUT1",) and "IOUT1" not in roles.values()
    assert roles["iin1"] == "IIN1" and roles["vref1"] == "VREF1"
    assert "vb9" not in roles  # a listed port no device touches is no port of the DUT
    assert set(e.netlist.subckts[0].ports) == {"VDD", "VSS", "VIN1", "VIN2", "VOUT1", "IIN1", "VREF1"}


@pytest.mark.parametrize("net, ports, match", [
    (OTA, ("VSS", "VIN1", "VIN2", "VOUT1", "IB1"), None),  # VDD is a net though not listed: still a supply
    (Netlist(devices=(mos("M1", "VOUT1", "VIN1", "VSS", "VSS"),)), ("VSS", "VIN1", "VOUT1"), "no VDD net"),
    (Netlist(devices=(mos("M1", "VOUT1", "VB1", "VSS", "VDD"),)), ("VDD", "VSS", "VB1", "VOUT1"), "no voltage input"),
    (Netlist(devices=(mos("M1", "x", "VIN1", "VSS", "VDD"),)), ("VDD", "VSS", "VIN1"), "no output"),
    (Netlist(devices=(Device("X1", DeviceKind.SUBCKT, (("A", "VIN1"), ("B", "VOUT1")), model="INVERTER"),
                      mos("M1", "VOUT1", "VIN1", "VSS", "VDD"))),
     ("VDD", "VSS", "VIN1", "VOUT1"), "instance of INVERTER"),
    (Netlist(devices=(mos("M1", "VOUT1", "VIN1", "VSS", "VDD", "nch"),)), ("VDD", "VSS", "VIN1", "VOUT1"),
     "expected nmos4 or pmos4"),
])
def test_bad_circuits_are_typed_errors(net, ports, match):
    if match is None:
        assert dict(export_opamp(net, ports).ports)["vdd"] == "VDD"
        return
    with pytest.raises(ExportError, match=match):
        export_opamp(net, ports)


def test_only_opamps():
    with pytest.raises(ExportError, match="only op-amps"):
        export_opamp(OTA, OTA_PORTS, ckt_type="LDO")


@pytest.fixture(scope="module")
def opamps():
    from ckt.data.analoggenie import read_archive

    raw = read_archive(str(shared("analoggenie", "analoggenie-dataset.tar.gz")))
    return [c for c in raw.circuits if c.ckt_type == "Opamp"]


def test_real_opamps_export_parse_back_and_cover_every_device(opamps, tmp_path: Path):
    done = 0
    for c in opamps[:60]:
        try:
            e = export_opamp(c.netlist, c.ports, name=f"opamp{c.id}")
        except ExportError:
            continue
        done += 1
        covered = [n for _, devs in e.groups for n in devs]
        assert sorted(set(covered)) == sorted(d.name for d in c.netlist.devices)
        cir, _ = write_export(e, tmp_path)
        back = read_netlist(cir)
        sub = back.subckt(e.name)
        assert sub is not None and len(sub.devices) == len(c.netlist.devices)
        scope = global_scope(back)
        for d in sub.devices:
            reads = [v for v in (d.value, *(x for _, x in d.params)) if isinstance(v, Expr)]
            assert reads, f"{c.id}: {d.name} reads no size parameter"
        for var, devs in e.groups:  # tied devices read the same parameter
            assert var.lower() in scope and len(devs) >= 1
    assert done >= 40


@pytest.fixture(scope="module")
def executor():
    from ckt.sim.executor import make_executor

    with make_executor("local", workers=1) as ex:
        yield ex


def op_point(e: ExportedOpAmp, executor):
    from ckt.sim.testbench.opamp import OpAmpTestbench

    tb = OpAmpTestbench(e.netlist, e.name, ports=dict(e.ports), pdk=e.pdk, vdd=e.vdd,
                        metric_names=("gain_db", "power_w"))
    return tb.metrics(list(executor.map(tb.jobs({}))))


@pytest.mark.ngspice
@requires_ngspice
def test_ota_operating_point_converges_and_the_rule_picked_the_right_input(executor):
    e = export_opamp(OTA, OTA_PORTS, name="ota")
    m = op_point(e, executor)
    assert not m.failed and m.values["gain_db"] > 20 and m.values["power_w"] > 0
    wrong = op_point(e.swapped(), executor)
    assert "inverting" in wrong.missing["gain_db"]
    assert orient(e, executor) == e
    fixed = orient(e.swapped(), executor)
    assert fixed.polarity == "simulated" and fixed.ports == e.ports


@pytest.mark.ngspice
@requires_ngspice
def test_real_opamp_operating_point_converges(opamps, executor):
    c = next(c for c in opamps if c.id == "1915")
    m = op_point(export_opamp(c.netlist, c.ports, name="opamp1915"), executor)
    assert not m.failed and "power_w" in m.values


@pytest.mark.ngspice
@requires_ngspice
def test_a_short_sizing_run_completes(tmp_path: Path, executor):
    from ckt.opt.evaluator import SimEvaluator
    from ckt.opt.run import RunOptions, size

    e = export_opamp(FD, FD_PORTS, name="fd")
    spec = e.spec()
    evaluator = SimEvaluator(e.netlist, spec, executor, timeout_s=20)
    assert evaluator.initial == pytest.approx(dict(e.defaults))
    result = size(spec, evaluator, tmp_path / "run", RunOptions(budget=4, batch=2, progress=False),
                  initial=evaluator.initial, netlist=e.netlist)
    assert result.n_sims == 4 and result.best is not None
    assert (tmp_path / "run" / "result.json").is_file()


@pytest.mark.ngspice
@requires_ngspice
def test_a_short_sizing_run_of_a_real_opamp_completes(opamps, tmp_path: Path, executor):
    from ckt.opt.evaluator import SimEvaluator
    from ckt.opt.run import RunOptions, size

    c = next(c for c in opamps if c.id == "1915")
    e = export_opamp(c.netlist, c.ports, name="opamp1915")
    spec = e.spec()
    evaluator = SimEvaluator(e.netlist, spec, executor, timeout_s=20)
    result = size(spec, evaluator, tmp_path / "run", RunOptions(budget=4, batch=2, progress=False),
                  initial=evaluator.initial, netlist=e.netlist)
    assert result.n_sims == 4 and result.best is not None and result.best["status"] == "ok"


@pytest.mark.ngspice
@requires_ngspice
def test_amplifies_tells_a_working_ota_from_one_without_gain(executor):
    e = export_opamp(OTA, OTA_PORTS, name="ota")
    assert amplifies(e, executor) and not amplifies(e.swapped(), executor)  # the inverting mapping does not count
    dead = orient(export_opamp(DIODE_LOAD_OTA, OTA_PORTS, name="dead"), executor)
    assert not amplifies(dead, executor) and not amplifies(dead.swapped(), executor)


@pytest.mark.ngspice
@requires_ngspice
def test_the_screen_sizes_only_op_amps_that_amplify(tmp_path: Path, executor):
    from ckt.gen.sizing import SCREENED_OUT, size_opamp

    dead = size_opamp(DIODE_LOAD_OTA, OTA_PORTS, tmp_path, name="dead", budget=2,
                      executor=executor, screen=True)
    assert dead.reason.startswith(SCREENED_OUT) and dead.n_sims == 0 and not (tmp_path / "dead" / "run").exists()
    live = size_opamp(OTA, OTA_PORTS, tmp_path, name="ota", budget=2, executor=executor, screen=True)
    assert live.reason == "" and live.n_sims == 2 and (tmp_path / "ota" / "run" / "result.json").is_file()
    unscreened = size_opamp(DIODE_LOAD_OTA, OTA_PORTS, tmp_path, name="dead2", budget=2, executor=executor)
    assert unscreened.reason == "" and unscreened.n_sims == 2  # without the screen it is sized like any other
    no_input = size_opamp(OTA, ("VDD", "VSS", "VOUT1", "IB1"), tmp_path, name="noin", budget=2, executor=executor,
                          screen=True)
    assert no_input.reason.startswith(f"{SCREENED_OUT}: not exported:") and no_input.n_sims == 0
