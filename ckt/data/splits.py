"""Train/validation/test splits that respect circuit identity.

A random split of circuit datasets leaks: AnalogGenie holds hundreds of variants of one source
circuit, OCB reuses each topology for 20 circuits. ``group_split`` and ``group_kfold`` put every
group (``CircuitDataset.groups``) wholly on one side; ``random_split`` is there to compare with.

Every function is pure: the same input and seed give the same split, as ``[k]`` long index tensors
in ascending order.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ckt.errors import DatasetError

SPLIT_NAMES = {2: ("train", "test"), 3: ("train", "val", "test")}


def _check_fractions(fractions: Sequence[float]) -> tuple[str, ...]:
    if len(fractions) not in SPLIT_NAMES:
        raise DatasetError(f"give 2 (train, test) or 3 (train, val, test) fractions, got {len(fractions)}")
    if any(f <= 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise DatasetError(f"split fractions must be positive and sum to 1, got {tuple(fractions)}")
    return SPLIT_NAMES[len(fractions)]


def random_split(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> dict[str, torch.Tensor]:
    """Items shuffled with ``seed`` and cut at the fractions (ignores groups: leaks variants)."""
    names = _check_fractions(fractions)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cuts = [round(sum(fractions[: i + 1]) * n) for i in range(len(fractions))]
    starts = [0, *cuts[:-1]]
    return {name: order[a:b].sort().values for name, a, b in zip(names, starts, cuts)}


def _deal(sizes: torch.Tensor, targets: Sequence[float], seed: int,
          strata: torch.Tensor | None = None) -> list[int]:
    """Bin of each group: groups in seeded random order, each to the bin furthest below its target.

    With ``strata`` (one label per group) each stratum is dealt in turn against its own share of the
    targets; ties (a stratum of one group under equal fractions) go to the bin furthest below the
    overall target, so small strata still balance the sides."""
    order = torch.randperm(len(sizes), generator=torch.Generator().manual_seed(seed)).tolist()
    if strata is None:
        strata = torch.zeros(len(sizes), dtype=torch.long)
    total = float(sizes.sum())
    filled = [0.0] * len(targets)
    bins = [0] * len(sizes)
    for s in torch.unique(strata).tolist():
        members = [g for g in order if int(strata[g]) == s]
        share = float(sizes[members].sum()) / total
        mine = [0.0] * len(targets)
        for g in members:
            b = max(range(len(targets)), key=lambda k: (round(targets[k] * share - mine[k], 9),
                                                      targets[k] - filled[k], -k))
            bins[g] = b
            mine[b] += float(sizes[g])
            filled[b] += float(sizes[g])
    return bins


def group_split(groups: Sequence[int] | torch.Tensor, fractions: Sequence[float] = (0.8, 0.1, 0.1),
                seed: int = 0, strata: Sequence[int] | torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Split items so that no group sits on two sides; sizes follow ``fractions`` as closely as
    whole groups allow.

    Args:
        groups: ``[N]`` group id of each item.
        fractions: train, (val,) test shares.
        seed: shuffles the order groups are dealt in.
        strata: ``[N]`` a label per item (the class, for classification): groups are then dealt
            stratum by stratum (a group's stratum is its most common label), so each class is split
            in ``fractions`` as far as its groups allow instead of landing on one side by chance.

    Returns:
        ``{"train", ("val",) "test"}`` -> ``[k]`` item indices.
    """
    names = _check_fractions(fractions)
    groups = torch.as_tensor(groups, dtype=torch.long)
    unique, inverse, sizes = torch.unique(groups, return_inverse=True, return_counts=True)
    if len(unique) < len(fractions):
        raise DatasetError(f"{len(unique)} group(s) cannot fill {len(fractions)} splits")
    stratum = None
    if strata is not None:
        labels = torch.as_tensor(strata, dtype=torch.long)
        if labels.shape != groups.shape:
            raise DatasetError(f"strata has {len(labels)} labels for {len(groups)} items")
        labels = labels - int(labels.min())
        counts = torch.zeros(len(unique), int(labels.max()) + 1, dtype=torch.long)
        counts.index_put_((inverse, labels), torch.ones_like(labels), accumulate=True)
        stratum = counts.argmax(1)  # ties: the lowest label
    bins = torch.tensor(_deal(sizes, [f * len(groups) for f in fractions], seed, stratum))
    item_bin = bins[inverse]
    return {name: torch.nonzero(item_bin == k).flatten() for k, name in enumerate(names)}


def group_kfold(groups: Sequence[int] | torch.Tensor, k: int = 5, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """``k`` folds of whole groups: fold ``i`` tests on bin ``i`` and trains on the rest."""
    groups = torch.as_tensor(groups, dtype=torch.long)
    unique, inverse, sizes = torch.unique(groups, return_inverse=True, return_counts=True)
    if k < 2 or len(unique) < k:
        raise DatasetError(f"group k-fold needs 2 <= k <= number of groups ({len(unique)}), got k={k}")
    item_bin = torch.tensor(_deal(sizes, [len(groups) / k] * k, seed))[inverse]
    return [{"train": torch.nonzero(item_bin != i).flatten(), "test": torch.nonzero(item_bin == i).flatten()}
            for i in range(k)]
