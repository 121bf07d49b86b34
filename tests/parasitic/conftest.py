from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from ckt.data.base import reference_data
from ckt.data.digtime import convert
from tests.parasitic.synthetic import digtime_like


@pytest.fixture(scope="session")
def small_graph() -> Data:
    """The synthetic digtime-like graph, converted to ckt's layout."""
    torch.set_num_threads(1)
    return convert(digtime_like())


@pytest.fixture(scope="session")
def digtime_file():
    folder = reference_data()
    path = folder / "parasitics" / "digtime.pt" if folder is not None else None
    if path is None or not path.is_file():
        pytest.skip("reference data parasitics/digtime.pt not present")
    return path
