"""Reconstruction error as the paper defines it (Table 1, App. C; official code's
`reconstructions_with_computed_ini_noise`).

For each image x (in [-1, 1]) and each of `repeats` independent draws of its latent C(x) (alpha =
1: the latent is random within the image's zone): the decoder's ODE runs from x back to noise
conditioned on C(x), then forward again with the same C(x), giving x'. The error of one
reconstruction is the Euclidean norm ||x' - x||_2 over all C*H*W pixels in [-1, 1] units; the
score is its mean over images and draws. The paper uses 2,000 training images (CIFAR-10) or 256
(the 256x256 sets), 20 draws each, with all images' latents computed in one batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lzn.progress import bar as progress_bar


@torch.no_grad()
def reconstruction_error(
    model,
    images: Tensor,
    *,
    labels: Tensor | None = None,
    repeats: int = 20,
    batch_size: int | None = None,
    sampler: str = "rk45",
    steps: int = 20,
    bank: Tensor | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Mean per-image L2 reconstruction error of `model.reconstruct` (definition above)."""
    if not isinstance(images, Tensor) or images.ndim != 4 or len(images) == 0:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a non-empty (n, c, h, w) tensor, got {shape}")
    if labels is not None and (labels.ndim != 1 or len(labels) != len(images)):
        raise ValueError(f"labels must have shape ({len(images)},), got {tuple(labels.shape)}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    batch_size = batch_size or len(images)
    generator = torch.Generator().manual_seed(seed)
    per_draw = []
    total = repeats * len(images)
    with progress_bar(total, "reconstruction", enabled=progress, unit="image") as bar:
        for _ in range(repeats):
            errors = []
            for i in range(0, len(images), batch_size):
                x = images[i : i + batch_size]
                y = None if labels is None else labels[i : i + batch_size]
                x_hat = model.reconstruct(
                    x, labels=y, sampler=sampler, steps=steps, bank=bank, generator=generator
                )
                diff = x_hat.detach().cpu().double() - x.cpu().double()
                errors.append(diff.flatten(1).norm(dim=1))
                bar.update(len(x))
            per_draw.append(torch.cat(errors).mean())
    per_draw = torch.stack(per_draw)
    return {
        "error": float(per_draw.mean()),
        "std_over_draws": float(per_draw.std()) if repeats > 1 else 0.0,
        "images": len(images),
        "repeats": repeats,
        "batch_size": batch_size,
        "bank_size": 0 if bank is None else len(bank),
        "sampler": sampler,
        "steps": steps,
        "seed": seed,
        "unit": "per-image L2 norm over C*H*W pixels in [-1, 1]",
    }
