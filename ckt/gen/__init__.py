"""Circuit topology generation: tokens (``vocab``, ``tokens``), rules, grammar, model, export."""

from __future__ import annotations

from ckt.gen.tokens import GeneratedCircuit, decode, encode, to_text
from ckt.gen.vocab import FAMILIES, Family, Vocab

__all__ = ["FAMILIES", "Family", "GeneratedCircuit", "Vocab", "decode", "encode", "to_text"]
