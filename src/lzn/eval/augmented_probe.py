"""The paper's main linear-probe protocol: a linear classifier trained on frozen features of
freshly augmented training images (App. D, Fig. 19 caption; the official code's LinearProbing).

Protocol:
1. the backbone is frozen: features come from `embed` (e.g. `model.embed`) under no_grad;
2. every epoch the train images are shuffled, and each mini-batch is augmented anew
   (`lzn.eval.augment.random_resized_crop`: random resized crop, flip if asked) before its
   features are computed, so the probe never sees the same features twice;
3. features are standardised with the mean and std of the un-augmented train features (one fixed
   map, applied to train and test alike);
4. a linear layer (with bias, zero-initialised) is trained with cross-entropy and AdamW by
   mini-batches for a fixed number of epochs; nothing is chosen on the test split;
5. the un-augmented test images are evaluated once, after the last epoch: top-1 and top-5.

The official code: AdamW, lr 3e-4, weight decay 0, 300 epochs, batch 8192 on ImageNet (these are
the defaults here), RandomResizedCrop(224) + horizontal flip, no feature normalisation, and it
reports the test accuracy after every epoch without choosing one (we report the last).

Two front ends, one training loop (`_train_probe`): `augmented_linear_probe` takes image tensors
(crops cut from them, on their device); `streamed_augmented_linear_probe` reads image folders too
large for memory (ImageNet) from disk and cuts its crops from the full images.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lzn.eval import _checks
from lzn.eval.augment import check_scale, random_resized_crop
from lzn.eval.representation import _topk, standardising_map
from lzn.progress import bar as progress_bar

if TYPE_CHECKING:
    from lzn.data.folder import ImageFolder

PAPER = {"epochs": 300, "batch_size": 8192, "lr": 3e-4, "weight_decay": 0.0}


def _images(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 4 or len(x) == 0 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a non-empty float (n, c, h, w) tensor, got {shape}")
    return x


@torch.no_grad()
def _features(embed: Callable[[Tensor], Tensor], images: Tensor, batch_size: int) -> Tensor:
    parts = [embed(images[i : i + batch_size]).float() for i in range(0, len(images), batch_size)]
    features = torch.cat(parts)
    if features.ndim != 2 or len(features) != len(images):
        raise ValueError(
            f"embed returned shape {tuple(features.shape)} for {len(images)} images; "
            f"expected ({len(images)}, d)"
        )
    if not torch.isfinite(features).all():
        raise ValueError("NaN or infinite values in the features that embed returned")
    return features


def augmented_linear_probe(
    embed: Callable[[Tensor], Tensor],
    train_images: Tensor,
    train_labels: object,
    test_images: Tensor,
    test_labels: object,
    *,
    epochs: int = PAPER["epochs"],
    batch_size: int = PAPER["batch_size"],
    lr: float = PAPER["lr"],
    weight_decay: float = PAPER["weight_decay"],
    crop_scale: tuple[float, float] = (0.08, 1.0),
    flip: bool = True,
    seed: int = 0,
    embed_batch_size: int = 500,
    progress: bool = False,
) -> dict:
    """Top-1/top-5 test accuracy of a linear probe trained on features of augmented train images
    (protocol in the module docstring). Images are (n, c, h, w) in [-1, 1] on `embed`'s device.

    The defaults are the paper's ImageNet settings (crop area (0.08, 1), flips); for small digit
    images use a milder crop (e.g. (0.8, 1)) and `flip=False`: a mirrored digit is no digit."""
    train_images = _images(train_images, "the train images")
    test_images = _images(test_images, "the test images")
    if train_images.shape[1:] != test_images.shape[1:]:
        raise ValueError(
            f"train and test images differ in shape: {tuple(train_images.shape[1:])} and "
            f"{tuple(test_images.shape[1:])}"
        )
    y_train = torch.as_tensor(
        _checks.as_labels(train_labels, len(train_images), "the train labels")
    )
    y_test = torch.as_tensor(_checks.as_labels(test_labels, len(test_images), "the test labels"))
    crop_scale = _check_settings(epochs, batch_size, embed_batch_size, lr, weight_decay, crop_scale)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    generator = torch.Generator().manual_seed(seed)  # crops and shuffles: CPU draws, any device
    n = len(train_images)

    def chunks(images: Tensor):
        for start in range(0, len(images), embed_batch_size):
            yield images[start : start + embed_batch_size]

    def epoch(_: int):  # one epoch's (augmented images, labels) batches, in a fresh order
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            views = random_resized_crop(
                train_images[index.to(train_images.device)],
                scale=crop_scale,
                flip=flip,
                generator=generator,
            )
            yield chunks(views), y_train[index]

    top1, top5, losses = _train_probe(
        embed, chunks(train_images), epoch, chunks(test_images), y_test,
        num_classes=num_classes, epochs=epochs, lr=lr, weight_decay=weight_decay,
        progress=progress,
    )  # fmt: skip
    return _report(
        top1, top5, losses, epochs=epochs, batch_size=batch_size, lr=lr,
        weight_decay=weight_decay, crop_scale=crop_scale, flip=flip, seed=seed,
        train_samples=n, test_samples=len(test_images),
    )  # fmt: skip


def streamed_augmented_linear_probe(
    embed: Callable[[Tensor], Tensor],
    train: ImageFolder,
    test: Dataset,
    *,
    epochs: int = PAPER["epochs"],
    batch_size: int = PAPER["batch_size"],
    lr: float = PAPER["lr"],
    weight_decay: float = PAPER["weight_decay"],
    crop_scale: tuple[float, float] = (0.08, 1.0),
    flip: bool = True,
    seed: int = 0,
    embed_batch_size: int = 500,
    workers: int = 0,
    device: str = "cpu",
    progress: bool = False,
) -> dict:
    """The same probe on data sets too large for memory (ImageNet): the images are read from
    disk by a DataLoader with `workers` processes, `embed_batch_size` at a time (the features of
    a whole batch are gathered before each step, so a batch of 8192 never holds 8192 images).

    `train` is an `ImageFolder` at the evaluation crop (e.g. `lzn.data.imagenet.ImageNet(root,
    "train", size=224, resize=256)`): its images give the standardisation; the training views
    are random resized crops of its full images (`lzn.data.views.RandomCrops`, torchvision's
    RandomResizedCrop + flip), drawn from (seed, epoch, index) alone, so any number of workers
    gives the same probe. `test` yields (image, label) items: evaluated once, un-augmented."""
    from lzn.data.batches import ItemKey
    from lzn.data.views import RandomCrops

    crop_scale = _check_settings(epochs, batch_size, embed_batch_size, lr, weight_decay, crop_scale)
    if getattr(train, "on_corrupt", "error") != "error":
        # A skipped file is replaced by another image, maybe of another class: the labels of
        # the batch (taken from `targets`) would not be its images'.
        raise ValueError("the train folder must refuse corrupt files (on_corrupt='error')")
    y_train, y_test = _dataset_labels(train, "train"), _dataset_labels(test, "test")
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    views = RandomCrops(train, train.size, flip=flip, scale=crop_scale)
    n = len(train)

    def loader(dataset: Dataset, batches) -> DataLoader:
        return DataLoader(
            dataset, batch_sampler=batches, num_workers=workers,
            pin_memory=device.startswith("cuda"),
        )  # fmt: skip

    def images(dataset: Dataset):  # in order, un-augmented
        order = range(len(dataset))
        chunks = [order[i : i + embed_batch_size] for i in range(0, len(order), embed_batch_size)]
        for x, _ in loader(dataset, chunks):
            yield x.to(device, non_blocking=True)

    def epoch(index: int):
        # One loader per epoch (worker processes start once), reading chunks of
        # `embed_batch_size` items; each optimizer batch takes its chunks from it in turn.
        order = np.random.default_rng([seed, index]).permutation(n).tolist()  # (seed, epoch)
        batches = [order[start : start + batch_size] for start in range(0, n, batch_size)]
        chunks, counts = [], []
        for batch in batches:
            keys = [ItemKey(i, index, seed) for i in batch]
            parts = [keys[i : i + embed_batch_size] for i in range(0, len(keys), embed_batch_size)]
            chunks += parts
            counts.append(len(parts))
        loaded = (x.to(device, non_blocking=True) for x, _ in loader(views, chunks))
        for batch, count in zip(batches, counts, strict=True):
            yield itertools.islice(loaded, count), y_train[batch]

    top1, top5, losses = _train_probe(
        embed, images(train), epoch, images(test), y_test, num_classes=num_classes,
        epochs=epochs, lr=lr, weight_decay=weight_decay, progress=progress,
    )  # fmt: skip
    return _report(
        top1, top5, losses, epochs=epochs, batch_size=batch_size, lr=lr,
        weight_decay=weight_decay, crop_scale=crop_scale, flip=flip, seed=seed,
        train_samples=n, test_samples=len(test),
    )  # fmt: skip


def _check_settings(
    epochs: int, batch_size: int, embed_batch_size: int, lr: float, weight_decay: float,
    crop_scale: tuple[float, float],
) -> tuple[float, float]:  # fmt: skip
    """The crop scale as (low, high), or a ValueError naming the bad setting."""
    for name, value in (("epochs", epochs), ("batch_size", batch_size),
                        ("embed_batch_size", embed_batch_size)):  # fmt: skip
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not lr > 0 or weight_decay < 0:
        raise ValueError(
            f"lr must be positive and weight_decay non-negative, got {lr}, {weight_decay}"
        )
    return check_scale(crop_scale)


def _dataset_labels(dataset: Dataset, name: str) -> Tensor:
    labels = getattr(dataset, "targets", None)
    if labels is None or len(labels) != len(dataset) or int(torch.as_tensor(labels).min()) < 0:
        raise ValueError(f"the {name} images need class labels (class folders)")
    return torch.as_tensor(labels)


def _train_probe(
    embed: Callable[[Tensor], Tensor],
    reference: Iterable[Tensor],
    epoch: Callable[[int], Iterable[tuple[Iterable[Tensor], Tensor]]],
    test: Iterable[Tensor],
    y_test: Tensor,
    *,
    num_classes: int,
    epochs: int,
    lr: float,
    weight_decay: float,
    progress: bool,
) -> tuple[float, float, list[float]]:
    """The protocol's steps 3-5: `reference` gives the un-augmented train images by chunks,
    `epoch(i)` the batches of epoch i as (image chunks, labels), `test` the test images."""
    scale, device, dim = _standardiser_of(embed, reference)
    probe = torch.nn.Linear(dim, num_classes, device=device)
    torch.nn.init.zeros_(probe.weight)
    torch.nn.init.zeros_(probe.bias)
    optimizer = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=weight_decay)
    losses: list[float] = []
    with progress_bar(epochs, "linear probe (augmented)", enabled=progress, unit="epoch") as pb:
        for index in range(epochs):
            total, seen = 0.0, 0
            for chunks, labels in epoch(index):
                x = scale(torch.cat([_features(embed, c, len(c)) for c in chunks]))
                loss = F.cross_entropy(probe(x), labels.to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total, seen = total + float(loss.detach()) * len(labels), seen + len(labels)
            losses.append(total / seen)
            pb.update(1)
            pb.set_postfix(loss=f"{losses[-1]:.3f}")
    with torch.no_grad():  # the only use of the test split
        scores = torch.cat([probe(scale(_features(embed, c, len(c)))) for c in test])
        y_test = y_test.to(device)
        return _topk(scores, y_test, 1), _topk(scores, y_test, 5), losses


def _standardiser_of(embed: Callable[[Tensor], Tensor], reference: Iterable[Tensor]):
    """(the map z -> (z - mean) / std, device, dim) of the features of `reference`'s chunks:
    mean and std merged chunk by chunk (Chan et al.) in float64, never all features at once."""
    count, mean, m2 = 0, None, None
    for chunk in reference:
        f = _features(embed, chunk, len(chunk)).double()
        n, f_mean = len(f), f.mean(0)
        f_m2 = (f - f_mean).square().sum(0)
        if mean is None:
            count, mean, m2 = n, f_mean, f_m2
            continue
        delta, total = f_mean - mean, count + n
        mean = mean + delta * (n / total)
        m2 = m2 + f_m2 + delta.square() * (count * n / total)
        count = total
    if mean is None:
        raise ValueError("no train images to standardise the features with")
    std = (m2 / max(count - 1, 1)).sqrt()
    return standardising_map(mean.float(), std.float()), mean.device, len(mean)


def _report(
    top1: float, top5: float, losses: list[float], *, epochs: int, batch_size: int, lr: float,
    weight_decay: float, crop_scale: tuple[float, float], flip: bool, seed: int,
    train_samples: int, test_samples: int,
) -> dict:  # fmt: skip
    flips = "horizontal flip p=0.5" if flip else "no flip"
    return {
        "top1": top1,
        "top5": top5,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "crop_scale": list(crop_scale),
        "flip": bool(flip),
        "final_train_loss": losses[-1],
        "train_samples": train_samples,
        "test_samples": test_samples,
        "seed": seed,
        "protocol": f"linear layer on standardised frozen features of train images augmented anew "
        f"every epoch (random resized crop, area {crop_scale[0]:g}-{crop_scale[1]:g}, aspect "
        f"3/4-4/3, {flips}); AdamW lr {lr:g}, weight decay {weight_decay:g}, batch {batch_size}, "
        f"{epochs} epochs, seed {seed}; un-augmented test split evaluated once after the last "
        "epoch",
    }
