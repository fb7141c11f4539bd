"""Classification accuracy through the label decoder (image encoder + label decoder).

A test image's latent depends on the anchors it is computed with (its evaluation batch, plus a
fixed anchor bank if one is given), so the accuracy is reported with the evaluation batch size,
the bank (its source and size) and alpha beside it. The default bank is the one the model
carries (exported with its weights), as for `model.classify`. alpha scales the latent noise:
alpha = 1 samples latents from the whole zone (the paper's default setting, batch 2000), alpha =
0 takes zone centres (the paper's App. E.4 choice); `accuracy_grid` sweeps both, as the paper's
Fig. 25."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lzn import bank as anchor_banks
from lzn.bank import MODEL_BANK
from lzn.progress import bar as progress_bar


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


def resolve_bank(model, bank: Tensor | str | None, source: str | None = None):
    """(anchors or None, a description): "model" is the model's own bank (`model.bank`, exported
    with it; none if it carries none), None the batch alone, a tensor anchors as given."""
    anchors = anchor_banks.resolve(bank, getattr(model, "bank", None))
    own = isinstance(bank, str)  # "model" (resolve refused any other string)
    if anchors is None:
        return None, "none (the model carries no bank)" if own else "none"
    return anchors, source or ("the model's exported bank" if own else "given")


def _accuracy(model, images, labels, alpha, batch_size, bank, source, seed, bar) -> dict:
    if alpha < 0:
        raise ValueError(f"alpha must be non-negative, got {alpha}")
    batch_size = batch_size or len(images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    predicted = []
    for i in range(0, len(images), batch_size):
        batch = images[i : i + batch_size]
        # Anchors (or None) are passed explicitly: the model's own default is not relied upon.
        predicted.append(
            model.classify(batch, alpha=alpha, bank=bank, generator=generator).cpu().long()
        )
        bar.update(len(batch))
    predicted = torch.cat(predicted)
    remainder = len(images) % batch_size
    return {
        "accuracy": float((predicted == labels.cpu()).double().mean()),
        "alpha": alpha,
        "batch_size": batch_size,
        "batches": -(-len(images) // batch_size),
        "last_batch": remainder or batch_size,
        "bank_size": 0 if bank is None else len(bank),
        "bank": source,
        "test_samples": len(images),
        "seed": seed,
        "class_weights": "uniform",
    }


@torch.no_grad()
def classification_accuracy(
    model,
    images: Tensor,
    labels: Tensor,
    *,
    alpha: float = 0.0,
    batch_size: int | None = None,
    bank: Tensor | str | None = MODEL_BANK,
    bank_source: str | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Top-1 accuracy of `model.classify` on images (n, c, s, s) in [-1, 1].

    The images are split, in order, into evaluation batches of `batch_size` (None: one batch of
    all); each batch's zones are cut by its own anchors plus `bank`: "model" (the default, as
    `model.classify`) for the model's exported bank, anchors of a fixed reference set
    (`model.anchor_bank(train_images)`), or None for the batch alone (the paper's Alg. 9). A
    bank removes most of the batch dependence; the row records its source and size."""
    _check(images, labels)
    bank, source = resolve_bank(model, bank, bank_source)
    with progress_bar(len(images), "accuracy", enabled=progress, unit="image") as bar:
        return _accuracy(model, images, labels, alpha, batch_size, bank, source, seed, bar)


@torch.no_grad()
def accuracy_grid(
    model,
    images: Tensor,
    labels: Tensor,
    *,
    alphas: Sequence[float] = (1.0, 0.5, 0.0),
    batch_sizes: Sequence[int | None] = (None,),
    bank: Tensor | str | None = MODEL_BANK,
    bank_source: str | None = None,
    seed: int = 0,
    progress: bool = False,
) -> list[dict]:
    """`classification_accuracy` for every (batch size, alpha) pair, each from the same seed;
    with `progress`, one bar over all of them."""
    _check(images, labels)
    bank, source = resolve_bank(model, bank, bank_source)
    pairs = [(b, a) for b in batch_sizes for a in alphas]
    desc = f"accuracy, bank: {source}"
    with progress_bar(len(pairs) * len(images), desc, enabled=progress, unit="image") as bar:
        return [
            _accuracy(model, images, labels, alpha, batch_size, bank, source, seed, bar)
            for batch_size, alpha in pairs
        ]
