"""Reading component-dict netlists (the Image2Net format) into the IR.

The format is a Python literal (or JSON) ``{"ckt_type": ..., "ckt_netlist": [{"component_type":
"NMOS", "port_connection": {"Drain": "n1", ...}}, ...]}``. It is parsed with ``ast`` (never
``eval``), which also gives each component its line for diagnostics.

Choices, all deterministic:

* Components have no names: each gets its kind letter and a running index per letter (``M1``,
  ``M2``, ``R1``...), in file order.
* ``ckt_type`` becomes ``Netlist.title``; net names are kept verbatim (``GND`` stays ``GND``,
  ``VOUT\\-`` keeps its backslash) except that whitespace, which no netlist syntax allows in a
  name (Image2Net ``039.txt`` has ``NON-INVERTING INPUT``), becomes ``_``, with a warning; a clash
  with a net already so named adds ``__2``.
* A MOSFET drawn without a body pin gets its body tied to its source, with an info diagnostic: the
  IR MOSFET has four pins and a simulator needs them, and source-tied is what a schematic that
  omits the body means when it has no body effect to show. A synthetic net would float instead.
* ``Current`` ``In``/``Out``: the current flows from ``In`` through the source to ``Out``, which
  is SPICE's ``I n+ n-`` convention, so ``In`` -> ``p`` and ``Out`` -> ``n``. ``Diode`` ``In`` is
  the anode (``p``), ``Out`` the cathode (``n``).
* Amplifier blocks (``Diso_amp``, ``Dido_amp``, ``Siso_amp``) are ``SUBCKT`` instances of
  behavioural blocks of the same lower-case name, with pins named from the dict keys.
"""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from ckt.errors import NetlistParseError
from ckt.netlist.ir import Device, DeviceKind, Diagnostic, Netlist, SourceLoc

COMPONENTS: dict[str, tuple[DeviceKind, str | None, tuple[tuple[str, str], ...]]] = {
    "NMOS": (DeviceKind.MOSFET, "nmos", (("Drain", "d"), ("Gate", "g"), ("Source", "s"), ("Body", "b"))),
    "PMOS": (DeviceKind.MOSFET, "pmos", (("Drain", "d"), ("Gate", "g"), ("Source", "s"), ("Body", "b"))),
    "NPN": (DeviceKind.BJT, "npn", (("Collector", "c"), ("Base", "b"), ("Emitter", "e"))),
    "PNP": (DeviceKind.BJT, "pnp", (("Collector", "c"), ("Base", "b"), ("Emitter", "e"))),
    "Res": (DeviceKind.RESISTOR, None, (("Pos", "p"), ("Neg", "n"))),
    "Cap": (DeviceKind.CAPACITOR, None, (("Pos", "p"), ("Neg", "n"))),
    "Voltage": (DeviceKind.VSOURCE, None, (("Positive", "p"), ("Negative", "n"))),
    "Current": (DeviceKind.ISOURCE, None, (("In", "p"), ("Out", "n"))),
    "Diode": (DeviceKind.DIODE, "diode", (("In", "p"), ("Out", "n"))),
    "Diso_amp": (DeviceKind.SUBCKT, "diso_amp", (("InP", "inp"), ("InN", "inn"), ("Out", "out"))),
    "Dido_amp": (DeviceKind.SUBCKT, "dido_amp",
                 (("InP", "inp"), ("InN", "inn"), ("OutP", "outp"), ("OutN", "outn"))),
    "Siso_amp": (DeviceKind.SUBCKT, "siso_amp", (("In", "in"), ("Out", "out"))),
}
"""component_type -> (kind, model, (dict key, IR pin) in IR pin order)."""

OPTIONAL_PINS = {("NMOS", "Body"), ("PMOS", "Body")}


class _Reader:
    def __init__(self, file: str | None) -> None:
        self.file = file
        self.diags: list[Diagnostic] = []

    def error(self, line: int | None, message: str, code: str) -> None:
        self.diags.append(Diagnostic("error", message, self.file, line, code))

    def load(self, text: str) -> tuple[Any, dict[int, int]]:
        """The literal and, per component index, its line (empty when read as JSON)."""
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            try:
                return json.loads(text), {}
            except json.JSONDecodeError:
                self.error(exc.lineno, f"not a Python literal or JSON: {exc.msg}", "syntax")
                return None, {}
        try:
            obj = ast.literal_eval(tree)
        except ValueError as exc:
            self.error(getattr(tree.body, "lineno", 1), f"not a plain literal ({exc})", "syntax")
            return None, {}
        lines: dict[int, int] = {}
        body = tree.body
        if isinstance(body, ast.Dict):
            for k, v in zip(body.keys, body.values):
                if isinstance(k, ast.Constant) and k.value == "ckt_netlist" and isinstance(v, ast.List):
                    lines = {i: e.lineno for i, e in enumerate(v.elts)}
        return obj, lines

    def build(self, obj: Any, lines: dict[int, int]) -> Netlist | None:
        if not isinstance(obj, dict) or not isinstance(obj.get("ckt_netlist"), list):
            self.error(1, "expected a dict with a 'ckt_netlist' list", "schema")
            return None
        title = obj.get("ckt_type", "")
        if not isinstance(title, str):
            self.error(1, f"ckt_type must be a string, not {type(title).__name__}", "schema")
            title = ""
        counters: dict[str, int] = {}
        devices: list[Device] = []
        self.renamed: dict[str, str] = {}
        self.nets = {v for c in obj["ckt_netlist"] if isinstance(c, dict)
                     and isinstance(c.get("port_connection"), dict)
                     for v in c["port_connection"].values() if isinstance(v, str)}
        for i, comp in enumerate(obj["ckt_netlist"]):
            dev = self._device(i, comp, lines.get(i), counters)
            if dev is not None:
                devices.append(dev)
        if any(d.severity == "error" for d in self.diags):
            return None
        self._case_clashes(devices)
        return Netlist(title=title, devices=tuple(devices), diagnostics=tuple(self.diags))

    def _device(self, index: int, comp: Any, line: int | None, counters: dict[str, int]) -> Device | None:
        where = f"component {index + 1}"
        if not isinstance(comp, dict) or not isinstance(comp.get("port_connection"), dict):
            self.error(line, f"{where}: expected a dict with 'component_type' and a 'port_connection' dict",
                       "schema")
            return None
        ctype = comp.get("component_type")
        if ctype not in COMPONENTS:
            self.error(line, f"{where}: unknown component_type {ctype!r} (known: {', '.join(COMPONENTS)})",
                       "unknown-type")
            return None
        kind, model, pins = COMPONENTS[ctype]
        ports = comp["port_connection"]
        known = {key for key, _ in pins}
        extra = [k for k in ports if k not in known]
        missing = [k for k, _ in pins if k not in ports and (ctype, k) not in OPTIONAL_PINS]
        bad = [k for k, v in ports.items() if not isinstance(v, str) or not v.strip()]
        if extra or missing or bad:
            problems = [f"unknown port(s) {', '.join(map(str, extra))}" if extra else "",
                        f"missing port(s) {', '.join(missing)}" if missing else "",
                        f"port(s) {', '.join(map(str, bad))} without a net name" if bad else ""]
            self.error(line, f"{where} ({ctype}): " + "; ".join(p for p in problems if p), "ports")
            return None
        letter = kind.letter
        counters[letter] = counters.get(letter, 0) + 1
        name = f"{letter}{counters[letter]}"
        terminals = []
        for key, pin in pins:
            if key in ports:
                terminals.append((pin, self._net(ports[key], line)))
            elif kind is DeviceKind.MOSFET:
                source = self._net(ports["Source"], line)
                terminals.append((pin, source))
                self.diags.append(Diagnostic("info", f"{name} ({ctype}) has no body pin; body tied to its "
                                             f"source {source}", self.file, line, "body-to-source"))
        return Device(name, kind, tuple(terminals), model, loc=SourceLoc(self.file, line) if line is not None else None)


    def _case_clashes(self, devices: list[Device]) -> None:
        """Warn about nets whose names differ only in case: kept apart here (as Spectre would),
        SPICE reads them as one net (Image2Net ``002.txt`` has ``000q`` and ``000Q``)."""
        first: dict[str, str] = {}  # lower-case name -> first spelling
        warned: set[tuple[str, str]] = set()
        for dev in devices:
            for net in dev.nets:
                seen = first.setdefault(net.lower(), net)
                if seen != net and (seen, net) not in warned:
                    warned.add((seen, net))
                    self.diags.append(Diagnostic(
                        "warning", f"nets {seen!r} and {net!r} differ only in case; SPICE would read them as "
                        "one net", self.file, dev.loc.line if dev.loc else None, "net-case"))

    def _net(self, net: str, line: int | None) -> str:
        """``net``, or its whitespace-free spelling (warned once per net)."""
        if not any(c.isspace() for c in net):
            return net
        if net not in self.renamed:
            new = base = "_".join(net.split())
            k = 2
            while new in self.nets or new in self.renamed.values():
                new, k = f"{base}__{k}", k + 1
            self.renamed[net] = new
            self.diags.append(Diagnostic("warning", f"net name {net!r} holds whitespace; renamed {new}",
                                         self.file, line, "net-renamed"))
        return self.renamed[net]


def parse_components(obj_or_text: Any, *, path: str | Path | None = None) -> Netlist:
    """Read a component-dict netlist, given as text (Python literal or JSON) or as the dict itself.

    Raises:
        NetlistParseError: with every problem found (file, line of the component).
    """
    reader = _Reader(str(path) if path is not None else None)
    decoded: tuple[Diagnostic, ...] = ()
    if isinstance(obj_or_text, (str, bytes)):
        from ckt.netlist.source import check_text, decode_source

        if isinstance(obj_or_text, bytes):
            source = decode_source(obj_or_text, reader.file)
            text, decoded = source.text, source.diagnostics
        else:
            text = check_text(obj_or_text, reader.file)
        obj, lines = reader.load(text)
    else:
        obj, lines = obj_or_text, {}
    netlist = reader.build(obj, lines) if not reader.diags else None
    if netlist is None:
        raise NetlistParseError(reader.diags)
    return replace(netlist, diagnostics=decoded + netlist.diagnostics) if decoded else netlist
