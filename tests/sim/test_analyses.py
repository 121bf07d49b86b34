"""Typed analyses render to the ngspice text they stand for, and nothing else formats SPICE."""

from __future__ import annotations

import pytest

from ckt.errors import CktError
from ckt.netlist.ir import Device, DeviceKind, Netlist
from ckt.netlist.parse_spice import parse_spice
from ckt.netlist.write import write_spice
from ckt.sim import analyses as an


def test_render_each_analysis():
    sweep = an.Ac(1.0, 100e9, 100)
    assert an.render(an.Op()) == ".op"
    assert an.render(sweep) == ".ac dec 100 1 0.1t"
    assert an.render(an.Dc("Vsrc", 0.0, 1.8, 0.009)) == ".dc Vsrc 0 1.8 9m"
    assert an.render(an.Tran(1e-9, 2e-6)) == ".tran 1n 2u"
    assert an.render(an.Tran(1e-9, 2e-6, 5e-10)) == ".tran 1n 2u 0 0.5n"
    assert an.render(an.Noise("out", "Vin", an.Ac(1, 1e6, 10))) == ".noise v(out) Vin dec 10 1 1meg"
    assert an.render(an.Pz("in", "0", "out", "0")) == ".pz in 0 out 0 vol pol"
    assert an.render(an.Options((("reltol", 1e-6), ("abstol", 1e-15)))) == ".options reltol=1u abstol=1f"


def test_scaled_tran_is_one_control_script():
    text = an.render(an.ScaledTran(an.Ac(1, 1e9, 20), "out", 40, 1e-9, 1000))
    lines = text.splitlines()
    assert lines[0] == ".control" and lines[-1] == ".endc"
    assert "ac dec 20 1 1g" in lines
    assert "let tb_level = vdb(out)[0] + -3" in lines
    assert "let tb_tstop = 40/tb_fscale" in lines and "let tb_tstep = tb_tstop/1000" in lines
    assert lines[-2] == "tran $&tb_tstep $&tb_tstop 0 $&tb_tstep"


def test_bad_analyses_are_typed_errors():
    with pytest.raises(CktError, match="stop"):
        an.Ac(10.0, 1.0)
    with pytest.raises(CktError, match="positive"):
        an.Tran(0.0, 1e-6)
    with pytest.raises(CktError, match="kind pol, zer or pz"):
        an.Pz("a", "0", "b", "0", kind="poles")
    with pytest.raises(CktError, match="not an analysis"):
        an.render("ac")  # type: ignore[arg-type]


def test_statements_render_through_the_netlist_writer():
    devices = (Device("V1", DeviceKind.VSOURCE, (("p", "in"), ("n", "0")), value=0.0, spec="AC 1"),
               Device("R1", DeviceKind.RESISTOR, (("p", "in"), ("n", "out")), value=1e3),
               Device("C1", DeviceKind.CAPACITOR, (("p", "out"), ("n", "0")), value=1e-9))
    stmts = an.statements([an.Op(), an.Ac(1, 1e6, 10)])
    assert [s.keyword for s in stmts] == ["op", "ac"]
    text = write_spice(Netlist(title="rc", devices=devices, statements=stmts))
    assert text.endswith("V1 in 0 DC 0 AC 1\nR1 in out 1k\nC1 out 0 1n\n.op\n.ac dec 10 1 1meg\n.end\n")
    back = parse_spice(text)
    assert [s.keyword for s in back.statements] == ["op", "ac"]
    assert an.statements([an.ScaledTran(an.Ac(1, 1e6, 10), "out", 10, 1e-9)])[0].keyword == "control"
