"""One entry point for every netlist format: pick the reader by extension and by content.

Extensions alone mislead: AnalogGenie ships Spectre instance lists as ``.cir``, a SPICE extension.
So content decides where it is clear (a dict literal, ckt JSON, ``simulator lang=``, Spectre
instance lines or ``subckt``/``ends`` without dots against SPICE dot-commands) and the extension
only breaks ties.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ckt.errors import CktError, NetlistParseError
from ckt.netlist.ir import Netlist
from ckt.netlist.source import check_text, read_source

FORMATS = ("spice", "spectre", "components", "json")

MISSING_INCLUDE = "include-missing"
"""Diagnostic code of an include the readers could not find (a warning unless ``strict``)."""

SPICE_EXTENSIONS = frozenset({".sp", ".spi", ".spice", ".cir", ".net", ".ckt", ".lib", ".inc", ".mod",
                              ".pm", ".cdl", ".subckt", ".ngspice"})
SPECTRE_EXTENSIONS = frozenset({".scs", ".spectre"})

_SPECTRE_INSTANCE = re.compile(r"^[^\s.*+;$/(][^\s(]*\s*\([^()]*\)\s*[A-Za-z_][\w!]*(\s|$)")
_SPECTRE_KEYWORD = re.compile(r"^(subckt|inline\s+subckt|ends|parameters|include\s+\")(\s|$)", re.IGNORECASE)
_SIMULATOR = re.compile(r"^\s*simulator\s+lang\s*=", re.IGNORECASE)
_SPICE_ELEMENT = re.compile(r"^[rclmqdvixeghfjkbswtz]\w*\s+[^\s=]+\s+[^\s=]+", re.IGNORECASE)
_SPECTRE_WORDS = frozenset({"model", "parameters", "include", "save", "global", "section", "endsection",
                            "library", "endlibrary", "statistics", "ic", "nodeset", "real", "ahdl_include"})
_SNIFF_LINES = 400


def read_text(path: str | Path) -> str:
    """The decoded text of ``path`` (see ``ckt.netlist.source``); a missing file, a folder, an
    unreadable or a binary file is a ``CktError``."""
    return read_source(path).text


def detect_format(path: str | Path | None, text: str) -> str:
    """Which of ``FORMATS`` ``text`` (read from ``path``) is written in.

    Raises:
        CktError: when neither the content nor the extension tells.
    """
    head = text.lstrip()
    if head.startswith("{"):
        return "json" if re.match(r'\{\s*"schema"\s*:\s*"ckt\.netlist/', head) else "components"
    spectre = spice = elements = lines = 0
    for line in text.splitlines()[:_SNIFF_LINES]:
        s = line.strip()
        if not s or s.startswith("*"):
            continue
        lines += 1
        if _SIMULATOR.match(s):
            return "spectre"
        if s.startswith("//") or _SPECTRE_INSTANCE.match(s) or _SPECTRE_KEYWORD.match(s):
            spectre += 1
        elif s.startswith("."):
            spice += 1
        elif _SPICE_ELEMENT.match(s) and s.split(None, 1)[0].lower() not in _SPECTRE_WORDS:
            elements += 1
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
    if elements and elements * 2 >= lines - 1:
        return "spice"  # a plain deck of element lines (a title line besides), e.g. in a .txt file
    raise CktError(f"{path or '<string>'}: cannot tell the netlist format; pass format= one of "
                   f"{', '.join(FORMATS)}")


def parse_netlist(
    text: str,
    format: str | None = None,
    path: str | Path | None = None,
    *,
    include_path: Sequence[str | Path] = (),
) -> Netlist:
    """Read netlist ``text`` in ``format`` (detected when None).

    Args:
        text: the netlist.
        format: one of ``FORMATS``; detected from content and extension when None.
        path: names it in diagnostics and anchors relative includes.
        include_path: folders searched for SPICE includes after the including file's own folder
            (then ``CKT_INCLUDE_PATH``; see ``parse_spice``).
    """
    text = check_text(text, str(path) if path is not None else None)
    fmt = detect_format(path, text) if format is None else format.lower()
    if fmt == "spectre":
        from ckt.netlist.parse_spectre import parse_spectre

        return parse_spectre(text, path=path)
    if fmt == "spice":
        from ckt.netlist.parse_spice import parse_spice

        return parse_spice(text, path=path, include_path=include_path)
    if fmt == "components":
        from ckt.netlist.parse_components import parse_components

        return parse_components(text, path=path)
    if fmt == "json":
        from ckt.netlist.serialize import loads

        return loads(text)
    raise CktError(f"unknown netlist format {format!r}; use one of {', '.join(FORMATS)}")


def read_netlist(
    path: str | Path,
    format: str | None = None,
    *,
    include_path: Sequence[str | Path] = (),
    strict: bool = False,
) -> Netlist:
    """Read the netlist file ``path`` in ``format`` (detected when None; see ``detect_format``).

    Args:
        path: the file.
        format: one of ``FORMATS``, or None to detect it.
        include_path: folders searched for SPICE includes (see ``parse_spice``).
        strict: an include that cannot be found is an error instead of a warning.

    Decoding warnings (a Latin-1 fallback) join the netlist's diagnostics.

    Raises:
        NetlistParseError: the netlist cannot be read (or, with ``strict``, an include is missing).
    """
    path = Path(path)
    source = read_source(path)
    netlist = parse_netlist(source.text, format=format, path=path, include_path=include_path)
    if source.diagnostics:
        netlist = replace(netlist, diagnostics=source.diagnostics + netlist.diagnostics)
    missing = [d for d in netlist.diagnostics if d.code == MISSING_INCLUDE]
    if strict and missing:
        raise NetlistParseError([replace(d, severity="error") for d in missing])
    return netlist
