"""Turning a netlist into a deck ngspice can run from anywhere.

This module owns deck preparation: ``.param`` overrides (what ``--set`` and sizing change), binding
generic ``nmos4``/``pmos4`` devices to a PDK, extra model files, temperature, and making every
``.include``/``.lib`` path absolute (relative to the file that names it) so a worker process running
in another directory, or on another machine, reads the same models. The model files are listed for
``SimJob.files`` (cache keys, shipping to Ray workers).

A bring-your-own-testbench deck (its own analyses and ``.meas`` lines) runs as is through
``prepare_deck``; a built-in testbench keeps only the circuit library (subcircuits, models, params,
options) and supplies its own top level through ``PreparedNetlist.deck(top=...)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ckt.errors import CktError, NetlistError, PdkError
from ckt.netlist.ir import Include, Netlist, Statement
from ckt.netlist.units import parse_number

if TYPE_CHECKING:
    from ckt.pdk.registry import Pdk

LIBRARY_KEYWORDS = frozenset({"option", "options", "opt", "temp", "func", "global", "csparam"})
"""Top-level statements a built-in testbench keeps from the user's netlist: they configure the circuit,
not an analysis (everything else, ``.ac``/``.meas``/``.control``/``.save``..., belongs to the user's own
testbench and is dropped)."""


def parse_quantity(text: str | float, what: str = "value") -> float:
    """A number with optional SPICE engineering suffix (``2p``, ``1.2``, ``10meg``) as a float.

    Raises:
        CktError: the text is not a number.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    value = parse_number(str(text).strip().lower())
    if value is None:
        raise CktError(f"{what}: {text!r} is not a number (use SPICE units such as 2p, 10k, 1.2)")
    return value


def load_netlist(source: Netlist | str | os.PathLike[str]) -> Netlist:
    """``source`` itself when it is a ``Netlist``, else the file it names read with ``read_netlist``."""
    if isinstance(source, Netlist):
        return source
    from ckt.netlist.read import read_netlist

    return read_netlist(source)


@dataclass(frozen=True)
class PreparedNetlist:
    """A netlist ready to simulate: overrides applied, PDK bound, includes absolute.

    Attributes:
        netlist: the prepared netlist (its own top level and statements still in place).
        files: every model file the deck reads, absolute, for ``SimJob.files``.
    """

    netlist: Netlist
    files: tuple[str, ...]

    def deck(self, top: Sequence[str] | None = None, *, title: str | None = None) -> str:
        """The deck text.

        Args:
            top: when given, replaces the netlist's own top-level devices and analyses (a built-in
                testbench's sources, DUT instance, analyses); configuration statements (``.option``,
                ``.temp``, ``.func``...) are kept.
            title: the title line (default: the netlist's own).
        """
        from ckt.netlist.write import write_spice

        net = self.netlist
        if any(s.keyword.startswith("#") for s in net.statements):  # other tools' directives: ngspice rejects them
            net = replace(net, statements=tuple(s for s in net.statements if not s.keyword.startswith("#")))
        if top is not None:
            net = replace(net, devices=(), statements=tuple(s for s in net.statements if s.keyword in LIBRARY_KEYWORDS))
        if title is not None:
            net = replace(net, title=title)
        text = write_spice(net)
        if top is None:
            return text
        body, end = text.rsplit(".end", 1)
        return body + "\n".join(top) + "\n.end" + end


def prepare(
    netlist: Netlist | str | os.PathLike[str],
    *,
    overrides: Mapping[str, float | str] = {},  # noqa: B006
    pdk: Pdk | str | None = None,
    models: Sequence[str | os.PathLike[str]] = (),
    corner: str | None = None,
    temp: float | None = None,
) -> PreparedNetlist:
    """Prepare ``netlist`` for simulation (see ``prepare_deck`` for the arguments)."""
    net = load_netlist(netlist)
    base = _base_dir(netlist)
    net = replace(net, includes=tuple(_absolute(inc, base) for inc in net.includes))
    if overrides:
        net = apply_overrides(net, overrides, source=str(netlist) if not isinstance(netlist, Netlist) else None)
    if corner is not None and pdk is None:
        raise PdkError(f"corner {corner!r} needs a PDK (--pdk)")
    if pdk is not None:
        from ckt.pdk.bind import bind
        from ckt.pdk.registry import get_pdk

        pdk = get_pdk(pdk) if isinstance(pdk, str) else pdk
        net = bind(net, pdk, corner=corner)
    extra = []
    for m in models:
        path = Path(m).expanduser()
        if not path.is_file():
            raise CktError(f"{m}: model file not found")
        extra.append(Include(str(path.resolve())))
    have = {(i.path, i.section) for i in net.includes}
    net = replace(net, includes=net.includes + tuple(i for i in extra if (i.path, i.section) not in have))
    if temp is not None:
        statements = tuple(s for s in net.statements if s.keyword != "temp")
        net = replace(net, statements=(Statement("temp", f".temp {temp:g}"), *statements))
    files = _model_files(net)
    if pdk is not None:
        files = tuple(dict.fromkeys([*files, *(str(f) for f in pdk.files)]))
    return PreparedNetlist(net, files)


def prepare_deck(
    netlist: Netlist | str | os.PathLike[str],
    *,
    overrides: Mapping[str, float | str] = {},  # noqa: B006
    pdk: Pdk | str | None = None,
    models: Sequence[str | os.PathLike[str]] = (),
    corner: str | None = None,
    temp: float | None = None,
) -> tuple[str, tuple[str, ...]]:
    """A netlist (object or file) as a self-contained deck plus the model files it reads.

    Args:
        netlist: a ``Netlist`` or a netlist file (any format ``read_netlist`` knows).
        overrides: ``.param`` name -> new value (float, or text with SPICE units such as ``2p``).
            Parameters derived from an overridden one follow it.
        pdk: a PDK name or ``Pdk``: generic ``nmos4``/``pmos4`` become its devices, its model
            files are included.
        models: extra model files to ``.include``.
        corner: the PDK corner (default: the PDK's default corner).
        temp: simulation temperature in Celsius (replaces the netlist's own ``.temp``).

    Returns:
        ``(deck_text, files)``: the deck, runnable from any directory, and its model files.

    Raises:
        NetlistError: an override names a parameter the netlist does not define (the message lists
            the parameters it does define).
        PdkError: unknown PDK or corner, or a corner without a PDK.
        CktError: a model file or an include is missing, or an override value is not a number.
    """
    prepared = prepare(netlist, overrides=overrides, pdk=pdk, models=models, corner=corner, temp=temp)
    return prepared.deck(), prepared.files


def apply_overrides(netlist: Netlist, overrides: Mapping[str, float | str], *, source: str | None = None) -> Netlist:
    """``netlist`` with global ``.param`` values replaced; unknown names are an error, not a new param.

    Raises:
        NetlistError: a name is not a global parameter of the netlist (the message lists them).
        CktError: a value is not a number.
    """
    from ckt.netlist.params import with_params

    known = {p.name.lower(): p.name for p in netlist.all_params()}
    unknown = [k for k in overrides if k.lower() not in known]
    if unknown:
        where = f"{source}: " if source else ""
        listing = ", ".join(sorted(known.values(), key=str.lower)) or "(none)"
        raise NetlistError(f"{where}no .param named {', '.join(map(repr, unknown))}; parameters: {listing}")
    values = {k: parse_quantity(v, f"--set {k}") for k, v in overrides.items()}
    return with_params(netlist, values)


def _base_dir(source: Netlist | str | os.PathLike[str]) -> Path:
    if isinstance(source, Netlist):
        return Path.cwd()
    return Path(source).expanduser().resolve().parent


def _absolute(inc: Include, base: Path) -> Include:
    """``inc`` with its path made absolute: where the reader found it (its search path included),
    else against the file that named it (``base`` for in-memory text). Simulation needs the file, so
    one the reader could not find (a warning there) is an error here."""
    path = Path(os.path.expanduser(inc.file or inc.path))
    if not path.is_absolute():
        anchor = Path(inc.loc.file).expanduser().resolve().parent if inc.loc is not None and inc.loc.file else base
        path = anchor / path
    if not path.is_file():
        where = f"{inc.loc}: " if inc.loc is not None else ""
        raise CktError(f"{where}included file not found: {inc.path} (looked for {path})")
    return replace(inc, path=os.path.normpath(str(path)))


def _model_files(net: Netlist) -> tuple[str, ...]:
    """Absolute paths of every included file, nested includes of resolved ones too."""
    files: list[str] = []

    def walk(n: Netlist, base: Path | None) -> None:
        for inc in n.includes:
            path = Path(os.path.expanduser(inc.path))
            if not path.is_absolute():
                if base is None:
                    continue
                path = base / path
            key = os.path.normpath(str(path))
            if key not in files:
                files.append(key)
                if inc.netlist is not None:
                    walk(inc.netlist, Path(key).parent)

    walk(net, None)
    return tuple(files)
