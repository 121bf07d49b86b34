"""Which netlist format a text is written in, told from its content and, for ties, its extension.

Extensions alone mislead: AnalogGenie ships Spectre instance lists as ``.cir``, a SPICE extension.
So content decides where it is clear (a dict literal, ckt JSON, ``simulator lang=``, Spectre
instance lines or ``subckt``/``ends`` without dots against SPICE dot-commands) and the extension
only breaks ties. The readers that follow includes of either dialect use it too, so it sits below
them and below ``ckt.netlist.read``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ckt.errors import CktError

FORMATS = ("spice", "spectre", "components", "json")

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
