"""Group-aware splits: no group on two sides, sizes near the fractions, seeded and pure."""

from __future__ import annotations

import pytest
import torch

from ckt.data.splits import group_kfold, group_split, random_split
from ckt.errors import DatasetError

# 40 groups of sizes 1..5 repeating: 120 items
GROUPS = torch.tensor([g for g in range(40) for _ in range(g % 5 + 1)])


def _sides(split: dict[str, torch.Tensor]) -> list[set[int]]:
    return [set(GROUPS[idx].tolist()) for idx in split.values()]


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_group_split_never_shares_a_group(seed: int) -> None:
    split = group_split(GROUPS, (0.8, 0.1, 0.1), seed)
    assert list(split) == ["train", "val", "test"]
    train, val, test = _sides(split)
    assert not (train & val or train & test or val & test)
    assert sorted(torch.cat(list(split.values())).tolist()) == list(range(len(GROUPS)))
    # whole groups of at most 5 items: each side within one group of its target
    for idx, frac in zip(split.values(), (0.8, 0.1, 0.1)):
        assert abs(len(idx) - frac * len(GROUPS)) <= 5


def test_group_split_is_seeded() -> None:
    a, b, c = (group_split(GROUPS, (0.5, 0.5), s) for s in (3, 3, 4))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["test"], c["test"])
    assert list(a) == ["train", "test"]


def test_random_split_cuts_at_the_fractions() -> None:
    split = random_split(100, (0.7, 0.2, 0.1), seed=1)
    assert [len(v) for v in split.values()] == [70, 20, 10]
    assert sorted(torch.cat(list(split.values())).tolist()) == list(range(100))


def test_group_kfold_tests_each_item_once() -> None:
    folds = group_kfold(GROUPS, k=4, seed=2)
    tested = torch.cat([f["test"] for f in folds]).sort().values
    assert torch.equal(tested, torch.arange(len(GROUPS)))
    for f in folds:
        assert not set(GROUPS[f["train"]].tolist()) & set(GROUPS[f["test"]].tolist())
        assert abs(len(f["test"]) - 30) <= 5


@pytest.mark.parametrize("fractions", [(0.5, 0.6), (1.0,), (0.5, 0.0, 0.5), (0.2, 0.2, 0.2, 0.4)])
def test_bad_fractions_are_refused(fractions: tuple[float, ...]) -> None:
    with pytest.raises(DatasetError, match="fractions"):
        group_split(GROUPS, fractions)


def test_too_few_groups_are_refused() -> None:
    with pytest.raises(DatasetError, match="2 group"):
        group_split([0, 0, 1, 1], (0.8, 0.1, 0.1))
    with pytest.raises(DatasetError, match="k-fold"):
        group_kfold([0, 1], k=3)


def test_a_stratified_group_split_spreads_every_class_over_the_sides() -> None:
    # class 0: 30 groups of 2 items; class 1: 10 groups of 1 item, all numbered last
    groups = torch.tensor([g for g in range(30) for _ in range(2)] + list(range(30, 40)))
    labels = torch.tensor([0] * 60 + [1] * 10)
    for seed in range(5):
        split = group_split(groups, (0.8, 0.1, 0.1), seed, strata=labels)
        sides = [set(groups[idx].tolist()) for idx in split.values()]
        assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
        for c, n in ((0, 60), (1, 10)):
            per_side = [int((labels[idx] == c).sum()) for idx in split.values()]
            assert per_side[1] >= 1 and per_side[2] >= 1, (seed, c, per_side)
            assert abs(per_side[0] - 0.8 * n) <= 2
    # a group holding two classes goes with its majority, whole
    mixed = group_split(torch.tensor([0, 0, 0, 1, 2, 3]), (0.5, 0.5), 0, strata=torch.tensor([1, 1, 0, 0, 0, 1]))
    assert {0, 1, 2} <= set(mixed["train"].tolist()) or {0, 1, 2} <= set(mixed["test"].tolist())
    with pytest.raises(DatasetError, match="labels for"):
        group_split(groups, (0.5, 0.5), 0, strata=labels[:5])
