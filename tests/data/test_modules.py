"""Every data module yields global-batch-sized batches of (images in [-1, 1], labels) from its
data set, and refuses a batch larger than the data set or a batch that devices cannot split."""

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from lzn.data import CIFAR10Data, DigitsData, FolderData, ImageNetData, MNISTData, cifar10

from .test_cifar10 import N, fake_files, write_folder


def _batches(data, n=2):
    data.setup()
    return list(itertools.islice(iter(data.train_dataloader()), n))


def _image_files(root, classes, per_class=3, size=(12, 10)):
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((*size, 3), 40 * i + 10, dtype=np.uint8)
            Image.fromarray(pixels).save(root / c / f"{i}.png")


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda tmp: DigitsData(batch_size=16), (16, 1, 8, 8)),
        (lambda tmp: MNISTData(batch_size=16), (16, 1, 28, 28)),
        (lambda tmp: FolderData(tmp / "folder", size=8, batch_size=4, num_workers=0), (4, 3, 8, 8)),
        (
            lambda tmp: ImageNetData(tmp / "imagenet", size=8, batch_size=4, num_workers=0),
            (4, 3, 8, 8),
        ),
    ],
    ids=["digits", "mnist", "folder", "imagenet"],
)
def test_batches_have_the_global_size_and_range(tmp_path, make, shape):
    _image_files(tmp_path / "folder", ["a", "b"])
    _image_files(tmp_path / "imagenet" / "train", ["n01", "n02"])
    for images, labels in _batches(make(tmp_path)):
        assert images.shape == shape and images.dtype == torch.float32
        assert images.min() >= -1 and images.max() <= 1
        assert labels.dtype == torch.long and len(labels) == shape[0]


def test_cifar10_bytes_become_the_same_pixels_in_minus_one_to_one(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "RECORDS_PER_FILE", N)
    files = fake_files()
    write_folder(tmp_path, files)
    data = CIFAR10Data(root=str(tmp_path), batch_size=10)
    data.setup()
    raw, labels = cifar10.load(tmp_path, split="train")
    images, batch_labels = _batches(data, 1)[0]
    order = [
        int(torch.nonzero((raw.float() / 127.5 - 1 == image).flatten(1).all(1))[0])
        for image in images
    ]
    assert torch.equal(labels[order], batch_labels)


def test_a_batch_larger_than_the_data_set_is_refused():
    data = DigitsData(batch_size=4096)
    data.setup()
    with pytest.raises(ValueError, match="larger than the data set"):
        data.train_dataloader()


def test_a_missing_folder_is_named_at_once(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        FolderData(tmp_path / "nowhere", size=8)
