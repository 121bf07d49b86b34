"""The trained link model as a scoring function, for netlist completion (``ckt complete``).

``load_predictor(folder)`` reads a run folder (``ckt train linkpred --out FOLDER``, or the shipped
``ckt/checkpoints/linkpred``); ``LinkPredictor.score(graph, pin, nets)`` gives, for a pin of a
``to_pins_pyg`` graph whose pin–net edges the caller has already removed (``samples.remove_pin_edge``;
a pin left unconnected has none), one probability per candidate net that it is the pin's connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch_geometric.data import Data

from ckt.errors import CheckpointError, DatasetError
from ckt.linkpred.evaluate import pair_probabilities, read_record
from ckt.linkpred.model import LinkModel, load_model
from ckt.linkpred.samples import Pair, check_pin_graph

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "checkpoints" / "linkpred"
"""The shipped checkpoint folder."""


class LinkPredictor:
    """A trained link model and what it was trained on (``record``: the run's ``model.json``)."""

    def __init__(self, model: LinkModel, record: dict) -> None:
        self.model = model.eval()
        self.record = record

    def score(self, graph: Data, pin: int, nets: Sequence[int]) -> list[float]:
        """Probability that ``pin`` connects to each of ``nets`` (node indices of ``graph``).

        Raises:
            DatasetError: ``graph`` is not a pin-level graph, or ``pin``/``nets`` are not pin and
                net nodes of it.
        """
        check_pin_graph(graph)
        types = graph.node_type
        if not 0 <= pin < graph.num_nodes or int(types[pin]) != 1:
            raise DatasetError(f"node {pin} is not a pin node of the graph")
        bad = [n for n in nets if not 0 <= n < graph.num_nodes or int(types[n]) != 2]
        if bad:
            raise DatasetError(f"node(s) {bad[:5]} are not net nodes of the graph")
        if not nets:
            return []
        pairs = [Pair(graph, pin, graph, int(n), 0.0) for n in nets]
        with torch.no_grad():
            return pair_probabilities(self.model, pairs).tolist()


def load_predictor(folder: str | Path = DEFAULT_MODEL) -> LinkPredictor:
    """The predictor of a run folder (``best.pt`` and ``model.json``).

    Raises:
        CheckpointError: the folder is missing, or holds no valid link-prediction checkpoint.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no link-prediction model there; train one with "
                              "`ckt train linkpred --out DIR` and pass --checkpoint DIR")
    record = read_record(folder)
    return LinkPredictor(load_model(folder / "best.pt"), record)
