"""Classification accuracy through the label decoder (image encoder + label decoder).

A test image's latent depends on the anchors it is computed with (its evaluation batch, plus a
fixed anchor bank if one is given), so the accuracy is reported with the evaluation batch size,
the bank and alpha beside it. alpha scales the latent noise: alpha = 1 samples latents from the
whole zone (the paper's default setting, batch 2000), alpha = 0 takes zone centres (the paper's
App. E.4 choice); `accuracy_grid` sweeps both, as the paper's Fig. 25.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _check(images: Tensor, labels: Tensor) -> None:
    if not isinstance(images, Tensor) or not isinstance(labels, Tensor):
        raise ValueError("images and labels must be torch tensors")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"labels must have shape ({len(images)},) to match the images, "
            f"got {tuple(labels.shape)}"
        )
    if len(images) == 0:
        raise ValueError("no images to classify")


@torch.no_grad()
def classification_accuracy(
    model,
    images: Tensor,
    labels: Tensor,
    *,
    alpha: float = 0.0,
    batch_size: int | None = None,
    bank: Tensor | None = None,
    bank_source: str | None = None,
    seed: int = 0,
) -> dict:
    """Top-1 accuracy of `model.classify` on images (n, c, s, s) in [-1, 1].

    The images are split, in order, into evaluation batches of `batch_size` (None: one batch of
    all); each batch's zones are cut by its own anchors plus `bank` (anchors of a fixed reference
    set, `model.anchor_bank(train_images)`), which removes most of the batch dependence."""
    _check(images, labels)
    if alpha < 0:
        raise ValueError(f"alpha must be non-negative, got {alpha}")
    batch_size = batch_size or len(images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    predicted = torch.cat(
        [
            model.classify(images[i : i + batch_size], alpha=alpha, bank=bank, generator=generator)
            .cpu()
            .long()
            for i in range(0, len(images), batch_size)
        ]
    )
    remainder = len(images) % batch_size
    return {
        "accuracy": float((predicted == labels.cpu()).double().mean()),
        "alpha": alpha,
        "batch_size": batch_size,
        "batches": -(-len(images) // batch_size),
        "last_batch": remainder or batch_size,
        "bank_size": 0 if bank is None else len(bank),
        "bank": bank_source or ("none" if bank is None else "given"),
        "test_samples": len(images),
        "seed": seed,
        "class_weights": "uniform",
    }


def accuracy_grid(
    model,
    images: Tensor,
    labels: Tensor,
    *,
    alphas: Sequence[float] = (1.0, 0.5, 0.0),
    batch_sizes: Sequence[int | None] = (None,),
    bank: Tensor | None = None,
    bank_source: str | None = None,
    seed: int = 0,
) -> list[dict]:
    """`classification_accuracy` for every (batch size, alpha) pair, each from the same seed."""
    return [
        classification_accuracy(
            model,
            images,
            labels,
            alpha=alpha,
            batch_size=batch_size,
            bank=bank,
            bank_source=bank_source,
            seed=seed,
        )
        for batch_size in batch_sizes
        for alpha in alphas
    ]
