"""Circuit generation: token sequences of device–net walks (``vocab``, ``tokens``)."""

from __future__ import annotations

from ckt.gen.tokens import GeneratedCircuit, decode, encode, to_text
from ckt.gen.vocab import FAMILIES, Family, Vocab

__all__ = ["FAMILIES", "Family", "GeneratedCircuit", "Vocab", "decode", "encode", "to_text"]
