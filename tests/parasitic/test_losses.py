"""Balanced MSE and balanced softmax remove the training label prior, as documented."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ckt.parasitic.losses import balanced_mse, balanced_softmax_ce, info_nce, scattering


def _fit_constant(loss, target: torch.Tensor) -> float:
    c = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([c], lr=0.05)
    for _ in range(600):
        opt.zero_grad()
        loss(c.expand_as(target), target).backward()
        opt.step()
    return float(c.detach())


def test_bmc_pulls_a_constant_predictor_away_from_the_majority():
    # 95 labels at 0, 5 at 3: MSE's best constant is the mean (0.15), next to the majority;
    # BMC's pays for sitting close to the crowded labels, so it moves toward the minority
    target = torch.cat([torch.zeros(95), torch.full((5,), 3.0)])
    c_mse = _fit_constant(F.mse_loss, target)
    c_bmc = _fit_constant(lambda p, t: balanced_mse(p, t, noise=1.0), target)
    assert abs(c_mse - 0.15) < 0.01
    assert c_bmc > c_mse + 0.5


def test_bmc_is_smallest_for_exact_predictions():
    target = torch.tensor([0.0, 0.1, 0.2, 2.0, 5.0])
    exact = balanced_mse(target.clone(), target, noise=0.1)
    off = balanced_mse(target + torch.tensor([0.0, 0.1, -0.1, 0.5, 0.0]), target, noise=0.1)
    assert exact < off


def test_balanced_softmax_learns_uniform_logits_where_ce_learns_the_prior():
    target = torch.cat([torch.zeros(90, dtype=torch.long), torch.ones(10, dtype=torch.long)])
    prior = torch.tensor([0.9, 0.1])

    def fit(loss) -> torch.Tensor:
        b = torch.zeros(2, requires_grad=True)
        opt = torch.optim.Adam([b], lr=0.05)
        for _ in range(800):
            opt.zero_grad()
            loss(b.expand(100, 2), target).backward()
            opt.step()
        return torch.softmax(b.detach(), 0)

    assert torch.allclose(fit(F.cross_entropy), prior, atol=0.02)
    assert torch.allclose(fit(lambda z, t: balanced_softmax_ce(z, t, prior)), torch.tensor([0.5, 0.5]), atol=0.02)


def test_info_nce_prefers_matching_views_and_scattering_spread():
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    assert info_nce(z, z + 0.01) < info_nce(z, z[torch.randperm(16)])
    collapsed = torch.ones(16, 8) + 0.01 * z
    assert scattering(z) < scattering(collapsed)
