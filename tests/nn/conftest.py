"""The nn tests run tiny graphs, where torch's intra-op threads only contend (on a busy machine a
2-thread index_add on a 30-node graph costs 100x one thread): run them single-threaded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
