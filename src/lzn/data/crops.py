"""Random resized crop boxes, drawn as torchvision's `RandomResizedCrop` draws them.

`random_resized_box(width, height, generator)` returns (left, top, w, h) in pixels of a
`width` x `height` image: up to 10 attempts draw an area fraction uniformly from `scale` and an
aspect ratio w / h log-uniformly from `ratio`, round w and h to integers, and keep the first box
that fits, placed uniformly at random (every position equally likely, so boxes reach all four
borders). When none fits, the fallback is the largest centred box whose ratio is clamped to the
`ratio` range (the whole image when its own ratio lies inside). Written from the algorithm's
description; torchvision is not a dependency. Draws come from a numpy `Generator`.
"""

from __future__ import annotations

import math

import numpy as np

SCALE = (0.08, 1.0)  # torchvision's, SimCLR's and the official code's defaults
RATIO = (3 / 4, 4 / 3)
ATTEMPTS = 10


def check_ranges(scale: tuple[float, float], ratio: tuple[float, float]) -> None:
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"crop scale must satisfy 0 < low <= high <= 1, got {tuple(scale)}")
    if not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"crop ratio must satisfy 0 < low <= high, got {tuple(ratio)}")


def random_resized_box(
    width: int, height: int, generator: np.random.Generator, *,
    scale: tuple[float, float] = SCALE, ratio: tuple[float, float] = RATIO,
) -> tuple[int, int, int, int]:  # fmt: skip
    """(left, top, w, h) of a random crop of a `width` x `height` image (module docstring)."""
    check_ranges(scale, ratio)
    if width < 1 or height < 1:
        raise ValueError(f"cannot crop an image of {width} x {height} pixels")
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(ATTEMPTS):
        target = area * generator.uniform(*scale)
        aspect = math.exp(generator.uniform(*log_ratio))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(generator.integers(0, height - h + 1))
            left = int(generator.integers(0, width - w + 1))
            return left, top, w, h
    own = width / height
    if own < ratio[0]:  # too tall for every allowed ratio: full width, height cut
        w, h = width, round(width / ratio[0])
    elif own > ratio[1]:  # too wide: full height, width cut
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h
