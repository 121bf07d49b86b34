"""One entry point for every netlist format: pick the reader by extension and by content.

Extensions alone mislead: AnalogGenie ships Spectre instance lists as ``.cir``, a SPICE extension.
So content decides where it is clear (a dict literal, ckt JSON, ``simulator lang=``, Spectre
instance lines or ``subckt``/``ends`` without dots against SPICE dot-commands) and the extension
only breaks ties.
"""

from __future__ import annotations

import re
from pathlib import Path

from ckt.errors import CktError
from ckt.netlist.ir import Netlist

FORMATS = ("spice", "spectre", "components", "json")

SPICE_EXTENSIONS = frozenset({".sp", ".spi", ".spice", ".cir", ".net", ".ckt", ".lib", ".inc", ".mod",
                              ".pm", ".cdl", ".subckt", ".ngspice"})
SPECTRE_EXTENSIONS = frozenset({".scs", ".spectre"})

_SPECTRE_INSTANCE = re.compile(r"^[^\s.*+;$/(][^\s(]*\s*\([^()]*\)\s*[A-Za-z_][\w!]*(\s|$)")
_SPECTRE_KEYWORD = re.compile(r"^(subckt|inline\s+subckt|ends|parameters|include\s+\")(\s|$)", re.IGNORECASE)
_SIMULATOR = re.compile(r"^\s*simulator\s+lang\s*=", re.IGNORECASE)
_SNIFF_LINES = 400


def read_text(path: str | Path) -> str:
    """The text of ``path``; a missing file, a folder or an unreadable file is a ``CktError``."""
    path = Path(path)
    if not path.exists():
        raise CktError(f"{path}: no such file")
    if path.is_dir():
        raise CktError(f"{path}: is a folder, not a netlist file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CktError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Netlists written by old tools carry Latin-1 comments; every byte maps, nothing is lost.
        return data.decode("latin-1")


def detect_format(path: str | Path | None, text: str) -> str:
    """Which of ``FORMATS`` ``text`` (read from ``path``) is written in.

    Raises:
        CktError: when neither the content nor the extension tells.
    """
    head = text.lstrip()
    if head.startswith("{"):
        return "json" if re.match(r'\{\s*"schema"\s*:\s*"ckt\.netlist/', head) else "components"
    spectre = spice = 0
    for line in text.splitlines()[:_SNIFF_LINES]:
        s = line.strip()
        if not s:
            continue
        if _SIMULATOR.match(s):
            return "spectre"
        if s.startswith("//") or _SPECTRE_INSTANCE.match(s) or _SPECTRE_KEYWORD.match(s):
            spectre += 1
        elif s.startswith("."):
            spice += 1
    suffix = Path(path).suffix.lower() if path is not None else ""
    if spectre > spice:
        return "spectre"
    if spice > spectre:
        return "spice"
    if suffix in SPECTRE_EXTENSIONS:
        return "spectre"
    if suffix in SPICE_EXTENSIONS:
        return "spice"
    if suffix == ".json":
        return "json"
    raise CktError(f"{path or '<string>'}: cannot tell the netlist format; pass format= one of "
                   f"{', '.join(FORMATS)}")


def parse_netlist(text: str, format: str | None = None, path: str | Path | None = None) -> Netlist:
    """Read netlist ``text`` in ``format`` (detected when None); ``path`` names it in diagnostics
    and anchors relative includes."""
    fmt = detect_format(path, text) if format is None else format.lower()
    if fmt == "spectre":
        from ckt.netlist.parse_spectre import parse_spectre

        return parse_spectre(text, path=path)
    if fmt == "spice":
        from ckt.netlist.parse_spice import parse_spice

        return parse_spice(text, path=path)
    if fmt == "components":
        from ckt.netlist.parse_components import parse_components

        return parse_components(text, path=path)
    if fmt == "json":
        from ckt.netlist.serialize import loads

        return loads(text)
    raise CktError(f"unknown netlist format {format!r}; use one of {', '.join(FORMATS)}")


def read_netlist(path: str | Path, format: str | None = None) -> Netlist:
    """Read the netlist file ``path`` in ``format`` (detected when None; see ``detect_format``)."""
    path = Path(path)
    return parse_netlist(read_text(path), format=format, path=path)
