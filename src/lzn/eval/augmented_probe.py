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
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from lzn.eval import _checks
from lzn.eval.augment import check_scale, random_resized_crop
from lzn.eval.representation import _standardiser, _topk
from lzn.progress import bar as progress_bar

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
    for name, value in (
        ("epochs", epochs),
        ("batch_size", batch_size),
        ("embed_batch_size", embed_batch_size),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not lr > 0 or weight_decay < 0:
        raise ValueError(
            f"lr must be positive and weight_decay non-negative, got {lr}, {weight_decay}"
        )
    crop_scale = check_scale(crop_scale)
    num_classes = int(max(y_train.max(), y_test.max())) + 1

    reference = _features(embed, train_images, embed_batch_size)
    scale = _standardiser(reference)  # one fixed map, from the un-augmented train features
    device, dim = reference.device, reference.shape[1]
    del reference
    y_train, y_test = y_train.to(device), y_test.to(device)
    probe = torch.nn.Linear(dim, num_classes, device=device)
    torch.nn.init.zeros_(probe.weight)
    torch.nn.init.zeros_(probe.bias)
    optimizer = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)  # crops and shuffles: CPU draws, any device

    n = len(train_images)
    losses: list[float] = []
    with progress_bar(epochs, "linear probe (augmented)", enabled=progress, unit="epoch") as pb:
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for start in range(0, n, batch_size):
                index = order[start : start + batch_size]
                views = random_resized_crop(
                    train_images[index.to(train_images.device)],
                    scale=crop_scale,
                    flip=flip,
                    generator=generator,
                )
                x = scale(_features(embed, views, embed_batch_size))
                loss = F.cross_entropy(probe(x), y_train[index.to(device)])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(index)
            losses.append(total / n)
            pb.update(1)
            pb.set_postfix(loss=f"{losses[-1]:.3f}")

    with torch.no_grad():  # the only use of the test split
        scores = probe(scale(_features(embed, test_images, embed_batch_size)))
        top1, top5 = _topk(scores, y_test, 1), _topk(scores, y_test, 5)
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
        "train_samples": n,
        "test_samples": len(test_images),
        "seed": seed,
        "protocol": f"linear layer on standardised frozen features of train images augmented anew "
        f"every epoch (random resized crop, area {crop_scale[0]:g}-{crop_scale[1]:g}, aspect "
        f"3/4-4/3, {flips}); AdamW lr {lr:g}, weight decay {weight_decay:g}, batch {batch_size}, "
        f"{epochs} epochs, seed {seed}; un-augmented test split evaluated once after the last "
        "epoch",
    }
