"""The SPICE reader's fast paths (plain R/C/L, MOSFET, diode, 3-node BJT, instance of a known
subcircuit) give exactly what the general path gives: every device, source location and
diagnostic, on decks that mix each fast form with the variants that must leave it."""

from __future__ import annotations

import dataclasses
import enum
import pickle
import random

import pytest

from ckt.errors import NetlistParseError
from ckt.netlist.ir import Device, DeviceKind, Netlist, SourceLoc
from ckt.netlist.parse_spice import _device, _DeviceSlots, _loc, _NetlistSlots, _Reader, _SourceLocSlots, parse_spice

MIXED = """fast paths against the general path
.model nch nmos level=1
.model NPN1 npn
.model dmod d
.model rmod r rsh=10
.param rval=1k wp=1u ln=180n rq=2k
.subckt inv a y
M1 y a 0 0 nch
R1 a y 1k
.ends
.subckt cell3 a b c params: g=1
R1 a b 1k
Q1 a b c NPN1
D1 b c dmod
X1 a b inv
.ends
* R, C, L: the plain form, then what must leave it
R1 a b 1k
r2 A B 2.2MEG
R3 a b 1k ; inline comment
R4 a b 1k $ dollar comment
R5 a b 1k // slashes
R6 a b {rval*2}
R7 a b 'rq'
R8 a b rmod
R9 a b 1k rmod
R10 a b 1k tc1=0.1
R11 a b r=5k
R12 a b r = 5k
R13 a
+ b 3k
R14 a b
* a comment between the pieces
+ 4k
R15 a b 1k rmod extra
R16 a b rlater
R18\ta\tb\t7k
R19 a b 10Ohm
R20 a b params: 1k
C1 a 0 1p
c2 a 0 1P ic=0
C3 a 0 {2*1p}
L1 a b 1u
L2 a b 1u 2u
* MOSFETs
M1 d g s b nch
M2 d g s b nch w=1u l=180n m=2
M3 d g s b nch W = 2u L=1u
M4 d g s b nch w={wp*2} l='ln'
M5 d g s vdm
M6 d g s b nch off
M7 d g s tj tc vdm thermal
m8 D G S B NCH
M9 d g s b nch
+ w=1u
M10 d g s b nch w=1u extra
M11 d g s b nch w= 1u
M12 d g s b nch w=1u l=180n m=2
M13 d g s b nch w=1u  l=180n m=2
M14 d g s tj tc vdm w=1u thermal
M15 d g s b nch w=1u extra
* subcircuit instances
X1 a y inv
x2 A Y INV
X3 a y inv params:
X4 a y inv w=1
X5 a b c cell3 g=2
X6 a b c cell3
X7 a y later
X8 a y {inv}
* BJTs
Q1 c b e NPN1
q2 c b e npn1
Q3 c b e s NPN1
Q4 c b e NPN1 2
Q5 c b e NPN1 area=2
Q6 c b e qlater
Q7 c b e 'NPN1'
* diodes
D1 a b dmod
d2 a b DMOD
D3 a b dmod 2
D4 a b dmod area=3
D5 a b dmod off
D6 a b=1 dmod
D7 a b {dmod}
* names and nets that differ only in case, and a duplicate of each fast form
R1 Out b 1k
r1 OUT b 1k
M1 d g s b nch
X1 a y inv
Q1 c b e NPN1
D1 a b dmod
.subckt later a y
R1 a y 1k
.ends
.model qlater npn
.model rlater r
.model vdm vdmos
.end
"""

BROKEN = """fast-path shapes that are errors
.model dmod d
.subckt inv a y
R1 a y 1k
.ends
R1 a b 1e999
X1 a y b inv
X2 inv
D1 a
Q1 c b
M1 d g
R2 a b 1k )
C1 a b {1p
D2 a b dmod
R3 a b=1 1k
M2 d g s w=1u nch
M3 First g s b vdm r=1k thermal
M4 first g s b nch
"""


def _walk(o):
    """Every field of a parse result, including those that do not take part in ``==`` (source
    locations, diagnostics, include details), with each object's class."""
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return (type(o), *((f.name, _walk(getattr(o, f.name))) for f in dataclasses.fields(o)))
    if isinstance(o, enum.Enum):
        return o
    if isinstance(o, (tuple, list)):
        return tuple(_walk(x) for x in o)
    if isinstance(o, float):
        return repr(o)  # tells -0.0 from 0.0 and keeps nan comparable
    return o


def _read(text: str):
    try:
        return _walk(parse_spice(text))
    except NetlistParseError as exc:
        return ("error", _walk(list(exc.diagnostics)))


def _both(text: str, monkeypatch) -> tuple:
    fast = _read(text)
    with monkeypatch.context() as m:
        m.setattr(_Reader, "fast_paths", False)
        general = _read(text)
    return fast, general


def test_a_deck_of_every_fast_form_and_its_variants_reads_as_the_general_path_reads_it(monkeypatch):
    fast, general = _both(MIXED, monkeypatch)
    assert fast[0] is Netlist
    assert fast == general


def test_fast_form_errors_are_the_general_path_errors(monkeypatch):
    fast, general = _both(BROKEN, monkeypatch)
    assert fast[0] == "error"
    assert fast == general


def test_a_mosfet_line_with_a_parameter_among_its_nodes_or_a_misplaced_thermal_flag_is_an_error_that_names_no_net():
    """The MOSFET fast path once took ``w=1u`` for a bulk net, and registered the nets of a line
    that then failed (so a later spelling was warned about against a net of no device)."""
    with pytest.raises(NetlistParseError) as err:
        parse_spice(BROKEN)
    found = {(d.line, d.code, d.message) for d in err.value.diagnostics}
    lines = BROKEN.splitlines()
    assert (lines.index("M2 d g s w=1u nch") + 1, "syntax", "M2: too few nodes (3 of 4)") in found
    assert (lines.index("M3 First g s b vdm r=1k thermal") + 1, "syntax", "M3: missing model name") in found
    assert not [d for d in err.value.diagnostics if d.code == "net-case"]


def test_fast_forms_read_as_documented():
    n = parse_spice(MIXED)
    r, m, x, q, d = (n.device(k) for k in ("R1", "M2", "x2", "Q1", "d2"))
    r1_line = MIXED.splitlines().index("* R, C, L: the plain form, then what must leave it") + 2
    assert (r.kind, r.terminals, r.model, r.value, r.loc) == (
        DeviceKind.RESISTOR, (("p", "a"), ("n", "b")), None, 1e3, SourceLoc(None, r1_line))
    assert (m.nets, m.model, m.params) == (("d", "g", "s", "b"), "nch", (("w", 1e-6), ("l", 180e-9), ("m", 2.0)))
    assert (x.kind, x.terminals, x.model) == (DeviceKind.SUBCKT, (("a", "a"), ("y", "y")), "INV")
    assert (q.kind, q.terminals, q.model, q.value) == (
        DeviceKind.BJT, (("c", "c"), ("b", "b"), ("e", "e")), "NPN1", None)
    assert (d.kind, d.nets, d.model) == (DeviceKind.DIODE, ("a", "b"), "DMOD")
    assert n.device("R1__2").nets == n.device("r1__3").nets == ("Out", "b")  # the first spelling is kept
    assert [w.code for w in n.warnings].count("duplicate-name") == 6
    assert all(type(dev) is Device and type(dev.loc) is SourceLoc for dev in n.devices)


_NETS = ["a", "A", "b", "n1", "N1", "0", "gnd", "out", "Out"]
_WORDS = ["nch", "NCH", "qn", "dd", "rm", "inv", "INV", "amp", "undef", "1k", "1p", "2.5MEG", "3u", "10",
          "1a", "{x*2}", "'y+1'", "w=1u", "W = 2u", "l= 1u", "m =2", "area=2", "r=1k", "params:", "off",
          "thermal", "dc", "ac 1", "sin(0 1 1k)"]
_DEFS = [".model nch nmos", ".model qn npn", ".model dd d", ".model rm r", ".model NCH pmos",
         ".subckt inv a y\nR1 a y 1k\n.ends", ".subckt amp p q z\nR1 p q 1k\n.ends", ".param x=1 y=2"]


def _random_deck(seed: int) -> str:
    """A deck of fast-form lines with random nets, words and layout (comments, continuations,
    tabs), definitions before and after their uses."""
    rng = random.Random(seed)
    lines = ["random deck"]
    for i in range(rng.randint(5, 25)):
        if rng.random() < 0.15:
            lines.append(rng.choice(_DEFS))
            continue
        letter = rng.choice("RCLMXQDrmxqd")
        toks = [f"{letter}{rng.choice([i, 1])}"] + [rng.choice(_NETS) for _ in range(rng.randint(2, 5))]
        toks += [rng.choice(_WORDS) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        text = " ".join(toks)
        layout = rng.random()
        if layout < 0.1:
            text += rng.choice([" ; c", " $ c", " // c"])
        elif layout < 0.2 and len(toks) > 2:
            cut = rng.randrange(1, len(toks))
            text = " ".join(toks[:cut]) + "\n* between\n+ " + " ".join(toks[cut:])
        elif layout < 0.25:
            text = text.replace(" ", "\t")
        lines.append(text)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(150))
def test_random_decks_of_fast_forms_read_as_the_general_path_reads_them(seed, monkeypatch):
    fast, general = _both(_random_deck(seed), monkeypatch)
    assert fast == general


def test_the_builders_set_every_field_and_give_the_frozen_ir_class():
    loc = _loc("f.cir", 3)
    dev = _device("R1", DeviceKind.RESISTOR, (("p", "a"), ("n", "b")), None, 1.0, (), "", loc)
    ref = Device("R1", DeviceKind.RESISTOR, (("p", "a"), ("n", "b")), None, 1.0, (), "", SourceLoc("f.cir", 3))
    assert (type(dev), type(loc)) == (Device, SourceLoc)
    assert dev == ref and hash(dev) == hash(ref) and dev.loc == ref.loc
    with pytest.raises(dataclasses.FrozenInstanceError):
        dev.name = "R2"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(dev)) == dev and dataclasses.replace(dev, name="R2").name == "R2"
    for builder, cls in ((_DeviceSlots, Device), (_SourceLocSlots, SourceLoc), (_NetlistSlots, Netlist)):
        params = builder.__init__.__code__.co_varnames[1 : builder.__init__.__code__.co_argcount]
        assert params == tuple(f.name for f in dataclasses.fields(cls)) == cls.__slots__
