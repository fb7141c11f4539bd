"""The anchor bank a model carries: anchors of a fixed set of its training images.

A latent depends on the anchors it is computed with, so a model alone cannot place one image in
a zone: with only itself as anchor, every image gets the same latent (the paper computes latents
over an evaluation batch, Alg. 9). A bank supplies the batch-mates: a latent is computed against
the bank's anchors plus the images given, so one image and a batch of a thousand get the same
labels. The bank is chosen once, at export, from the training images:

- `DEFAULT_SIZE` = 2000 images (the paper's CIFAR-10 evaluation batch), or all if fewer;
- class-balanced when labels are given: every class contributes the same count, or all it has
  when it has fewer (a seeded choice within each class);
- encoded with the weights that are exported (the EMA weights after training), in eval mode.

The anchors belong to those weights: change the weights and the bank must be rebuilt
(`LZN.set_bank`). It is stored beside the weights as `bank.safetensors` (anchors and labels).
"""

from __future__ import annotations

import torch
from torch import Tensor

DEFAULT_SIZE = 2000
MODEL_BANK = "model"  # `bank=` value: the anchor bank the model carries


def resolve(bank, own):
    """The anchors a `bank=` argument means: `own` (the model's bank; None if it carries none,
    i.e. the batch alone) for "model", else the anchors given, or None."""
    if isinstance(bank, str):
        if bank != MODEL_BANK:
            raise ValueError(f"bank must be anchors, {MODEL_BANK!r} or None, got {bank!r}")
        return own
    return bank


def select(count: int, labels: Tensor | None = None, size: int = DEFAULT_SIZE, seed: int = 0):
    """Indices (k,) of `min(size, count)` items: a seeded random subset, class-balanced by
    `labels` (count,) when given."""
    if size < 1:
        raise ValueError(f"the bank size must be positive, got {size}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(count, generator=generator)
    if labels is None:
        return order[:size].sort().values
    labels = torch.as_tensor(labels).cpu()
    if labels.shape != (count,):
        raise ValueError(f"got {tuple(labels.shape)} labels for {count} images")
    shuffled = labels[order]
    # Rank of each item within its class in the shuffled order; taking items by rank, then class,
    # fills every class equally until one runs out, then goes on with the rest.
    rank = torch.empty(count, dtype=torch.long)
    for c in shuffled.unique():
        members = (shuffled == c).nonzero().squeeze(1)
        rank[members] = torch.arange(len(members))
    key = rank * (int(shuffled.max()) + 1 - int(shuffled.min())) + (shuffled - shuffled.min())
    return order[key.argsort(stable=True)[:size]].sort().values
