"""Every data module yields global-batch-sized batches of (images in [-1, 1], labels) from its
data set, and refuses a batch larger than the data set or a batch that devices cannot split."""

import itertools
import math
from types import SimpleNamespace

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
            lambda tmp: FolderData(
                tmp / "folder", size=8, batch_size=4, num_workers=0, crop_pairs=True
            ),
            (4, 2, 3, 8, 8),
        ),
        (
            lambda tmp: ImageNetData(tmp / "imagenet", size=8, batch_size=4, num_workers=0),
            (4, 2, 3, 8, 8),
        ),
        (
            lambda tmp: ImageNetData(
                tmp / "imagenet", size=8, batch_size=4, num_workers=0, crop_pairs=False
            ),
            (4, 3, 8, 8),
        ),
    ],
    ids=["digits", "mnist", "folder", "folder-pairs", "imagenet", "imagenet-centre"],
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


def _noise_files(root, n=8, size=(40, 30), channels=3):
    for i in range(n):
        shape = (size[1], size[0]) + ((3,) if channels == 3 else ())
        pixels = np.random.default_rng(i).integers(0, 256, shape, dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"{i}.png")


def test_crop_pairs_are_a_function_of_seed_and_step_with_any_workers(tmp_path, monkeypatch):
    _noise_files(tmp_path)

    def batches(seed, workers=0, start=0, n=3):
        monkeypatch.setenv("PL_GLOBAL_SEED", str(seed))
        data = FolderData(tmp_path, size=8, batch_size=4, num_workers=workers, crop_pairs=True)
        data.trainer = SimpleNamespace(world_size=1, global_rank=0, global_step=start)
        return [images for images, _ in _batches(data, n)]

    uninterrupted = batches(3)
    for got, want in zip(batches(3, workers=2), uninterrupted, strict=True):
        assert torch.equal(got, want)
    for got, want in zip(batches(3, start=1, n=2), uninterrupted[1:], strict=True):
        assert torch.equal(got, want)  # a resumed run cuts the same crops
    assert not torch.equal(batches(4, n=1)[0], uninterrupted[0])


def test_the_representation_module_takes_crop_pairs(tmp_path):
    from lzn.train.module import RepresentationModule

    from ..train.tiny import tiny

    _noise_files(tmp_path, channels=1)
    config, recipe = tiny("mnist-representation")  # 28 x 28, one channel
    module = RepresentationModule(model=config, recipe=recipe)
    data = FolderData(tmp_path, size=28, channels=1, batch_size=8, num_workers=0, crop_pairs=True)
    batch = _batches(data, 1)[0]
    assert batch[0].shape == (8, 2, 1, 28, 28)
    loss = module.losses(batch)["align"]
    # -mean(log P(own zone)): chance among the batch's 8 anchors is log 8 = 2.08.
    assert 0.5 * math.log(8) < loss.item() < 1.5 * math.log(8) and loss.requires_grad
