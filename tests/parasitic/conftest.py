from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from ckt.data.digtime import convert
from tests.parasitic.synthetic import digtime_like


@pytest.fixture(scope="session")
def small_graph() -> Data:
    """The synthetic digtime-like graph, converted to ckt's layout."""
    torch.set_num_threads(1)
    return convert(digtime_like())
