"""Losses for skewed parasitic labels, and the contrastive pretraining objective.

* ``balanced_mse`` — the batch-based Monte-Carlo balanced MSE (BMC) of Ren et al., *Balanced MSE for
  Imbalanced Visual Regression* (CVPR 2022). Plain MSE fits ``p_train(y | x)``, whose label prior
  drags predictions toward the crowded label values; BMC fits the prior-free likelihood by scoring
  each prediction against *every* label of the batch, ``logits_ij = -(pred_i - y_j)^2 / (2 noise)``,
  and taking the cross-entropy of the true pair ``i = j``; the batch's labels are the Monte-Carlo
  sample of the prior. A prediction pays for lying close to *other* labels, so rare values are
  not pulled toward common ones. Scaled by ``2 noise`` so its gradients match MSE's size.
* ``balanced_softmax_ce`` — Ren et al. (NeurIPS 2020): cross-entropy of ``logits + log prior``
  in training, plain logits at inference, which removes the training prior from the classifier.
* ``info_nce`` and ``scattering`` — the two terms of the contrastive pretraining: InfoNCE between a
  node's embeddings in two augmented views (other nodes as negatives), and representation
  scattering (as in CircuitGCL / SGRL), which pushes embeddings away from their mean direction so
  they spread over the sphere instead of collapsing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def balanced_mse(pred: Tensor, target: Tensor, noise: float = 1.0) -> Tensor:
    """BMC loss of ``[B]`` predictions against ``[B]`` targets (``noise``: label noise variance)."""
    logits = -(pred.reshape(-1, 1) - target.reshape(1, -1)).pow(2) / (2 * noise)
    return F.cross_entropy(logits, torch.arange(pred.numel(), device=pred.device)) * (2 * noise)


def balanced_softmax_ce(logits: Tensor, target: Tensor, prior: Tensor) -> Tensor:
    """Cross-entropy of ``logits + log prior`` (``prior``: training class frequencies)."""
    return F.cross_entropy(logits + torch.log(prior.clamp_min(1e-12)), target)


def info_nce(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """Symmetric InfoNCE of two ``[B, D]`` views (row ``i`` of each is the same node)."""
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    sim = z1 @ z2.t() / temperature
    target = torch.arange(z1.shape[0], device=z1.device)
    return (F.cross_entropy(sim, target) + F.cross_entropy(sim.t(), target)) / 2


def scattering(z: Tensor) -> Tensor:
    """Mean cosine of ``[B, D]`` embeddings to their (detached) mean direction: minimising it
    scatters the representations."""
    z = F.normalize(z, dim=1)
    centre = F.normalize(z.mean(0, keepdim=True).detach(), dim=1)
    return (z @ centre.t()).mean()
