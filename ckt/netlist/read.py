"""One entry point for every netlist format: detect it (``ckt.netlist.detect``), decode the bytes
(``ckt.netlist.source``) and hand the text to its reader."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ckt.errors import CktError, NetlistParseError
from ckt.netlist.detect import FORMATS, detect_format
from ckt.netlist.ir import Netlist
from ckt.netlist.source import check_text, read_source

MISSING_INCLUDE = "include-missing"
"""Diagnostic code of an include the readers could not find (a warning unless ``strict``)."""


def read_text(path: str | Path) -> str:
    """The decoded text of ``path`` (see ``ckt.netlist.source``); a missing file, a folder, an
    unreadable or a binary file is a ``CktError``."""
    return read_source(path).text


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
    path: str | os.PathLike[str],
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
