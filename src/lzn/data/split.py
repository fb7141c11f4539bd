"""The held-out split of the built-in sets: a seeded permutation, the first part held out."""

from __future__ import annotations

import torch
from torch import Tensor


def held_out(
    images: Tensor, labels: Tensor, test_fraction: float, seed: int
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(train images, train labels, test images, test labels)."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    n_test = round(len(images) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return images[train], labels[train], images[test], labels[test]
