"""A small digtime-shaped ``HeteroData`` whose parasitics follow its structure, for fast tests.

Devices sit in a chain of local clusters (each device's pins land on nets of its own cluster or the
next one), so the graph has regions; a net's ground capacitance grows with its fan-out and summed
W, a coupling with its endpoints' sizes, so a model can learn them.
"""

from __future__ import annotations

import torch
from torch_geometric.data import HeteroData


def digtime_like(n_dev: int = 240, n_net: int = 130, seed: int = 0) -> HeteroData:
    g = torch.Generator().manual_seed(seed)
    n_pin = 3 * n_dev
    w = 5e-8 * (1 + torch.randint(0, 20, (n_dev,), generator=g)).float()
    dev_x = torch.zeros(n_dev, 16)
    dev_x[:, 0], dev_x[:, 1], dev_x[:, 2] = 1.0, w, 3e-8
    dev_x[:, 14], dev_x[:, 15] = 4.0, 1.0
    cluster = torch.arange(n_dev) * (n_net - 2) // n_dev  # device i's home net among 2..n_net-1
    pin_net = torch.empty(n_pin, dtype=torch.long)
    for i in range(n_dev):
        for k in range(3):
            r = int(torch.randint(0, 10, (1,), generator=g))
            if k != 1 and r == 0:
                pin_net[3 * i + k] = r % 2  # a rail
            else:
                pin_net[3 * i + k] = 2 + min(int(cluster[i]) + int(torch.randint(0, 3, (1,), generator=g)), n_net - 3)
    hd = HeteroData()
    hd["device"].x = dev_x
    hd["pin"].x = torch.arange(n_pin).remainder(3).reshape(-1, 1)
    hd["net"].x = torch.zeros(n_net, 17)
    fan = torch.bincount(pin_net, minlength=n_net).float()
    wsum = torch.zeros(n_net).index_add_(0, pin_net, w.repeat_interleave(3))
    cap = 1e-18 * (fan + 1e7 * wsum) * torch.exp(0.1 * torch.randn(n_net, generator=g))
    cap[torch.rand(n_net, generator=g) < 0.1] = 0.0  # unlabelled
    hd["net"].y = cap.reshape(-1, 1)
    hd["pin"].y = torch.zeros(n_pin, 1)
    hd["device", "device-pin", "pin"].edge_index = torch.stack([torch.arange(n_pin) // 3, torch.arange(n_pin)])
    hd["pin", "pin-net", "net"].edge_index = torch.stack([torch.arange(n_pin), pin_net])
    hd["device", "device-net", "net"].edge_index = torch.stack([torch.arange(n_pin) // 3, pin_net])
    pins = torch.randint(0, n_pin, (600,), generator=g)
    nets = (pin_net[pins] + torch.randint(-1, 2, (600,), generator=g)).clamp(2, n_net - 1)
    hd["pin", "cc_p2n", "net"].edge_index = torch.stack([pins, nets])
    hd["pin", "cc_p2n", "net"].y = 1e-18 * (1 + 1e7 * w[pins // 3]) * fan[nets].sqrt()
    a = torch.randint(0, n_pin, (600,), generator=g)
    b = (a + torch.randint(1, 9, (600,), generator=g)).clamp(max=n_pin - 1)
    hd["pin", "cc_p2p", "pin"].edge_index = torch.stack([a, b])
    hd["pin", "cc_p2p", "pin"].y = 1e-19 * (1 + 1e7 * (w[a // 3] + w[b // 3]))
    na = torch.randint(2, n_net - 1, (80,), generator=g)
    hd["net", "cc_n2n", "net"].edge_index = torch.stack([na, na + 1])
    hd["net", "cc_n2n", "net"].y = 1e-18 * (fan[na] + fan[na + 1])
    return hd
