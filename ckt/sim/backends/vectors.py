"""The names and types analysis vectors come back under, the same from both backends."""

from __future__ import annotations

import numpy as np

# ngspice's vector types (``enum simulation_types`` in ngspice's sim.h).
SV_VOLTAGE = 3


def vector_key(name: str, vector_type: int) -> str:
    """The name a vector is returned under: ``v(node)``, ``i(source)``, or ngspice's own."""
    name = name.lower()
    if name.endswith("#branch"):
        return f"i({name[: -len('#branch')]})"
    plain = not any(c in name for c in "()@[]#") and not name.endswith("-sweep")
    if vector_type == SV_VOLTAGE and plain:
        return f"v({name})"
    return name


def scale_to_real(name: str, array: np.ndarray) -> np.ndarray:
    """AC plots store their ``frequency`` scale as complex with zero imaginary part; return it real."""
    if name == "frequency" and np.iscomplexobj(array) and not np.any(array.imag):
        return array.real.copy()
    return array
