"""scikit-learn's 1797 handwritten digits (8x8, 17 grey levels), offline, as LZN images.

Pixels 0..16 map to [-1, 1]; the split into train and held-out test is a seeded permutation.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lzn.data import split


def load(*, test_fraction: float = 0.2, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(train images, train labels, test images, test labels); images (n, 1, 8, 8) in [-1, 1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0
    labels = torch.tensor(data.target, dtype=torch.long)
    return split.held_out(images, labels, test_fraction, seed)
