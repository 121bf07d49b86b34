"""Graph encoders, heads, training and checkpoints for circuit graphs (``ckt.graph`` views).

Every encoder maps a PyG ``Data`` (or a batch) to ``Tensor[num_graphs, out_dim]``; a
``CircuitModel`` joins one to a regression or classification head and is built from a plain
config dict (``build_model``); ``fit`` trains it with checkpoints and exact resume, ``evaluate``
reports metrics in raw units.
"""

from __future__ import annotations
