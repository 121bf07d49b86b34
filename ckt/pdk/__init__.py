"""PDK model sets bundled in ``pdk_models/`` and the binding of generic nmos4/pmos4 devices to them."""

from __future__ import annotations

from ckt.pdk.bind import bind, generic_card, pdk_deck_header
from ckt.pdk.registry import Pdk, get_pdk, list_pdks, models_root

__all__ = ["Pdk", "bind", "generic_card", "get_pdk", "list_pdks", "models_root", "pdk_deck_header"]
