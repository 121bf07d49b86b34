"""Netlists: the typed IR, its readers (SPICE, Spectre, component lists, JSON) and writers."""

from __future__ import annotations

from ckt.netlist.detect import detect_format
from ckt.netlist.ir import (
    LETTER_KIND,
    TERMINALS,
    Device,
    DeviceKind,
    Diagnostic,
    Expr,
    Include,
    Model,
    Netlist,
    Param,
    SourceLoc,
    Statement,
    Subckt,
    Value,
)
from ckt.netlist.parse_components import parse_components
from ckt.netlist.parse_spectre import parse_spectre
from ckt.netlist.parse_spice import parse_spice, read_spice
from ckt.netlist.read import parse_netlist, read_netlist
from ckt.netlist.units import format_number, parse_number
from ckt.netlist.write import write_spice
from ckt.netlist.write_spectre import write_spectre

__all__ = [
    "LETTER_KIND",
    "TERMINALS",
    "Device",
    "DeviceKind",
    "Diagnostic",
    "Expr",
    "Include",
    "Model",
    "Netlist",
    "Param",
    "SourceLoc",
    "Statement",
    "Subckt",
    "Value",
    "detect_format",
    "format_number",
    "parse_components",
    "parse_netlist",
    "parse_spectre",
    "read_netlist",
    "write_spectre",
    "parse_number",
    "parse_spice",
    "read_spice",
    "write_spice",
]
