"""CLI commands that draw on several layers (simulation plus reports), so they sit above them all."""

from __future__ import annotations
