"""scikit-learn's 1797 handwritten digits (8x8, 17 grey levels), offline, as LZN images.

Pixels 0..16 map to [-1, 1]; the split into train and held-out test is a seeded permutation.
"""

from __future__ import annotations

import torch
from torch import Tensor


def load(*, test_fraction: float = 0.2, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(train images, train labels, test images, test labels); images (n, 1, 8, 8) in [-1, 1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0
    labels = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    n_test = round(len(images) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return images[train], labels[train], images[test], labels[test]
