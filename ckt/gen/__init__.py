"""Circuit generation: token sequences of device–net walks (``vocab``, ``tokens``)."""

from __future__ import annotations

from ckt.gen.vocab import FAMILIES, Family, Vocab

__all__ = ["FAMILIES", "Family", "Vocab"]
