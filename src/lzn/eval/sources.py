"""The images an evaluation reads, split by split: held in memory, or streamed from disk.

- In memory: digits, MNIST and CIFAR-10 (its 60,000 images are 737 MB as float32), as tensors on
  the evaluation's device.
- Streamed: ImageNet (1.28M train images) and a folder of images (AFHQ, CelebA-HQ, LSUN: tens of
  thousands of 256x256 images), read in file order by a DataLoader with `workers` processes and
  decoded by `lzn.data.folder.ImageFolder` at the model's size: the shorter side resized, the
  centre cropped (ImageNet: resized to size x 256/224 first, the usual 256 -> 224 evaluation
  crop; a folder: resized to the size, as the official code's `Resize(256)`).

`open_data` returns the train and test `Images` of an `EvaluationSplit`; a section reads them by
batches (`Images.batches`), which is the same code for both kinds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from lzn.eval import datasets

# ImageNet's evaluation crop: the shorter side resized to 256, the centre 224 kept.
IMAGENET_RESIZE_RATIO = 256 / 224


@dataclass
class Images:
    """One split: `labels` (n,) long (-1: unlabelled) and the images, either `tensor` (n, c, h, w)
    float32 in [-1, 1] on `device`, or `dataset` (items (image, label), read by batches)."""

    labels: Tensor
    tensor: Tensor | None = None
    dataset: Dataset | None = None
    device: str = "cpu"
    workers: int = 0
    source: str = ""  # where the images come from, for the report

    def __post_init__(self):
        if (self.tensor is None) == (self.dataset is None):
            raise ValueError("Images holds a tensor or a dataset, exactly one")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def streamed(self) -> bool:
        return self.dataset is not None

    def batches(self, batch_size: int, *, limit: int | None = None) -> Iterator[Tensor]:
        """The images in order, `batch_size` at a time, on the device (the first `limit`)."""
        n = len(self) if limit is None else min(limit, len(self))
        if self.tensor is not None:
            for start in range(0, n, batch_size):
                yield self.tensor[start : min(start + batch_size, n)]
            return
        dataset = self.dataset if n == len(self) else Subset(self.dataset, range(n))
        loader = DataLoader(
            dataset, batch_size=batch_size, shuffle=False, num_workers=self.workers,
            pin_memory=self.device.startswith("cuda"), persistent_workers=False,
        )  # fmt: skip
        for images, _ in loader:
            yield images.to(self.device, non_blocking=True)

    def first(self, n: int) -> Tensor:
        """The first `n` images (all if fewer) as one tensor on the device."""
        if self.tensor is not None:
            return self.tensor[:n]
        return torch.cat(list(self.batches(max(1, min(n, 256)), limit=n)))

    def in_memory(self, what: str) -> Tensor:
        """The whole split as a tensor; a streamed split is refused, naming `what` needs it."""
        if self.tensor is None:
            raise ValueError(
                f"{what} needs the whole split in memory; {self.source} is streamed from disk"
            )
        return self.tensor


def open_data(
    split: datasets.EvaluationSplit,
    root: str | Path | None,
    *,
    size: int,
    channels: int,
    device: str = "cpu",
    workers: int = 0,
    download: bool = False,
) -> tuple[Images, Images | None]:
    """(train, test) of `split` at the model's image `size` and `channels`; test is None for a
    folder (no test split). `root` is required for the data sets in `datasets.FIXED`;
    `download` fetches CIFAR-10 into it when missing (the only one that can be fetched)."""
    if download and split.data != "cifar10":
        raise ValueError(f"download is for cifar10 only; {split.data} must already be in data_root")
    if split.data in datasets.HELD_OUT:
        x_train, y_train, x_test, y_test = datasets.load(
            split.data, test_fraction=split.test_fraction, seed=split.seed
        )
        _check_shape(x_train, split.data, size, channels)
        where = f"{split.data} (in memory)"
        return (
            Images(y_train, x_train.to(device), device=device, source=where),
            Images(y_test, x_test.to(device), device=device, source=where),
        )
    if root is None:
        raise ValueError(f"data: {split.data} needs data_root, the folder that holds it")
    root = Path(root).expanduser()
    if not root.exists() and not download:
        raise FileNotFoundError(f"data_root {root} does not exist")
    if split.data == "cifar10":
        from lzn.data import cifar10

        parts = []
        for part in ("train", "test"):
            pixels, labels = cifar10.load(root, split=part, download=download)
            images = pixels.to(device).float() / 127.5 - 1.0
            _check_shape(images, "cifar10", size, channels)
            parts.append(Images(labels, images, device=device, source=f"cifar10 {part} ({root})"))
        return parts[0], parts[1]
    if split.data == "imagenet":
        from lzn.data.imagenet import ImageNet

        resize = round(size * IMAGENET_RESIZE_RATIO)
        folders = [
            ImageNet(root, part, size=size, resize=resize, channels=channels)
            for part in ("train", "val")
        ]
        train_classes, val_classes = (folder.classes for folder in folders)
        if train_classes != val_classes:  # a label is the index of its sorted class name
            raise ValueError(
                f"ImageNet's train and val folders hold different classes ({len(train_classes)} "
                f"and {len(val_classes)} with images): their labels would not match"
            )
        train, val = (
            _streamed(folder, device, workers, f"imagenet {part} ({root / part})")
            for folder, part in zip(folders, ("train", "val"), strict=True)
        )
        return train, val
    if split.data == "folder":
        from lzn.data.folder import ImageFolder

        folder = ImageFolder(root, size=size, channels=channels)
        return _streamed(folder, device, workers, f"image folder {root}"), None
    raise ValueError(f"unknown data set {split.data!r}; the evaluation knows: {datasets.NAMES}")


def _streamed(folder, device: str, workers: int, source: str) -> Images:
    return Images(folder.targets, dataset=folder, device=device, workers=workers, source=source)


def _check_shape(images: Tensor, name: str, size: int, channels: int) -> None:
    if tuple(images.shape[1:]) != (channels, size, size):
        raise ValueError(
            f"the model takes {channels}x{size}x{size} images, {name} has "
            f"{'x'.join(map(str, images.shape[1:]))}"
        )
