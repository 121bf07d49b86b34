"""Parasitic estimation on pin-level circuit graphs: what layout will add to a schematic.

Trained on the CirGPS ``digtime`` post-layout graph (``ckt.data.digtime``, opened only through the
allow-listed loader ``ckt.data.safe_load``), the models predict a net's ground capacitance
(log10 farads, and one of five log-scale buckets) and the coupling capacitance of pin/net pairs.

Modules, one concept each: ``features`` (inputs any netlist's
pin view has), ``tasks`` (labels, buckets, metrics), ``splits`` (leak-free region split and the
random-link split), ``losses`` (balanced MSE, balanced softmax, InfoNCE, scattering), ``model`` (the
relational GNN and its heads), ``train`` (``TrainRequest``, ``fit``, checkpoints), ``annotate``
(estimates for a netlist, and the netlist with them as capacitors).
"""

from __future__ import annotations
