"""The linear-probe training augmentation: random resized crop and optional horizontal flip.

The paper's main linear probe (App. D, Fig. 19 caption) trains with augmentation; the official
code uses torchvision's ImageNet training transform, RandomResizedCrop(224) + RandomHorizontalFlip.
This is the same crop distribution, drawn per image from an explicit `torch.Generator` (so a seed
fixes every crop, and the global generator is left alone), and resampled for the whole batch at
once with `grid_sample`:

- a crop of area fraction s ~ U(scale) of the image and aspect ratio r with log r ~ U(log ratio);
  as torchvision, up to 10 draws per image until the crop fits, else the whole image;
- its position uniform among the positions where it fits;
- resized back to the input size (bilinear; no antialiasing, as kornia);
- flipped left-right with probability 0.5 if `flip`.

Flips suit natural images, not digits (a flipped 2 or 7 is no digit): callers choose.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from lzn import rng

ATTEMPTS = 10  # torchvision's draws before falling back


def check_scale(scale: tuple[float, float]) -> tuple[float, float]:
    """(low, high) with 0 < low <= high <= 1, or a ValueError."""
    try:
        low, high = (float(s) for s in scale)
    except (TypeError, ValueError):
        raise ValueError(f"crop scale must be two numbers (low, high), got {scale!r}") from None
    if not 0 < low <= high <= 1:
        raise ValueError(f"crop scale must satisfy 0 < low <= high <= 1, got {scale!r}")
    return low, high


def crop_boxes(
    n: int,
    *,
    scale: tuple[float, float],
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> Tensor:
    """(n, 4) crop boxes (x0, y0, width, height) as fractions of the image's width and height."""
    low, high = check_scale(scale)
    draws = (n, ATTEMPTS)
    area = low + (high - low) * rng.rand(*draws, generator=generator, device="cpu")
    log_r = math.log(ratio[0]) + math.log(ratio[1] / ratio[0]) * rng.rand(
        *draws, generator=generator, device="cpu"
    )
    width, height = (area * log_r.exp()).sqrt(), (area / log_r.exp()).sqrt()
    fits = (width <= 1) & (height <= 1)
    # The first draw that fits, else the whole image (torchvision's fallback for square images).
    first = torch.where(fits.any(1), fits.float().argmax(1), torch.zeros(n, dtype=torch.long))
    width = torch.where(fits.any(1), width.gather(1, first[:, None])[:, 0], torch.ones(n))
    height = torch.where(fits.any(1), height.gather(1, first[:, None])[:, 0], torch.ones(n))
    position = rng.rand(n, 2, generator=generator, device="cpu")
    x0, y0 = position[:, 0] * (1 - width), position[:, 1] * (1 - height)
    return torch.stack([x0, y0, width, height], dim=1)


def random_resized_crop(
    images: Tensor,
    *,
    scale: tuple[float, float],
    flip: bool,
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Each image (b, c, h, w) cropped, resized back to (h, w) and, if `flip`, flipped with
    probability 0.5 (definition in the module docstring)."""
    if images.ndim != 4 or not images.is_floating_point():
        raise ValueError(
            f"augmentation takes float images (b, c, h, w), got {images.dtype} "
            f"{tuple(images.shape)}"
        )
    boxes = crop_boxes(len(images), scale=scale, ratio=ratio, generator=generator)
    flips = rng.rand(len(images), generator=generator, device="cpu") < 0.5
    sign = torch.where(flips & flip, -1.0, 1.0)
    x0, y0, width, height = boxes.unbind(1)
    # affine_grid maps output coordinates u in [-1, 1] to input coordinates: the crop's centre
    # plus u times its half-size; a negative x scale flips.
    theta = torch.zeros(len(images), 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = width * sign, 2 * x0 + width - 1
    theta[:, 1, 1], theta[:, 1, 2] = height, 2 * y0 + height - 1
    theta = theta.to(device=images.device, dtype=images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
