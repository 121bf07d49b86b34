"""Netlists: the typed IR and its readers and writers (SPICE today; others add theirs here)."""

from __future__ import annotations

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
from ckt.netlist.parse_spice import parse_spice, read_spice
from ckt.netlist.units import format_number, parse_number
from ckt.netlist.write import write_spice

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
    "format_number",
    "parse_number",
    "parse_spice",
    "read_spice",
    "write_spice",
]
