"""Batched image augmentations that run where the batch is (the GPU does them, not the loaders).

Images in and out are (b, c, s, s) in [-1, 1] with c in {1, 3}; every sample draws its own random
parameters. Randomness comes from torch's global generator (kornia's too), so `torch.manual_seed`
makes a step's views reproducible; `hflip` also takes an explicit generator. `SimCLRViews` also
takes pairs (b, 2, c, s, s) of views that the loaders cut from the full images
(`lzn.data.views.CroppedPairs`, case study 2's data) and then leaves their crops as they are.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lzn import rng


def _check(images: Tensor) -> None:
    if images.ndim != 4 or images.shape[1] not in (1, 3) or not images.is_floating_point():
        raise ValueError(
            f"augmentations take float images (b, c, s, s) with c = 1 or 3, got "
            f"{images.dtype} {tuple(images.shape)}"
        )


def _check_pairs(pairs: Tensor, size: int) -> None:
    if pairs.shape[1] != 2 or pairs.shape[2] not in (1, 3) or not pairs.is_floating_point():
        raise ValueError(
            f"pre-cropped views must be float (b, 2, c, s, s) with c = 1 or 3, got "
            f"{pairs.dtype} {tuple(pairs.shape)}"
        )
    if pairs.shape[-2:] != (size, size):
        raise ValueError(
            f"pre-cropped views are {pairs.shape[-2]} x {pairs.shape[-1]}, but these views are "
            f"{size} x {size}: crop them to the model's image size"
        )


def hflip(images: Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """Flip each image left-right with probability `p`, independently (the paper's augmentation
    for generation)."""
    _check(images)
    flip = rng.rand(len(images), generator=generator, device=images.device) < p
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def blur_kernel_size(size: int) -> int:
    """The odd kernel size nearest to 10% of the image size, at least 3 (SimCLR: 23 for 224)."""
    return max(3, 2 * math.floor((0.1 * size - 1) / 2 + 0.5) + 1)


class SimCLRViews(torch.nn.Module):
    """Two random views of each image: the recipe of the paper's case study 2 (representation
    learning on ImageNet), the official code's `imagenet_aug.py`, which follows SimCLR.

    Each view, drawn independently per image and per view, in this order:

    - RandomResizedCrop to `size` x `size`: area `scale` = (0.08, 1) of the source and aspect
      `ratio` = (3/4, 4/3), both torchvision's and the official code's defaults; bilinear
      resampling (kornia's, without torchvision's antialiasing when a crop is shrunk);
    - horizontal flip with probability `flip_p` = 0.5 (official code);
    - ColorJitter(brightness, contrast, saturation, hue) = `jitter` = (0.8, 0.8, 0.8, 0.2) with
      probability `jitter_p` = 0.8 (official code; SimCLR's strength-1.0 jitter), torchvision's
      semantics (multiplicative factors, ops in random order);
    - grayscale with probability `grayscale_p` = 0.2 (official code, SimCLR);
    - Gaussian blur with sigma ~ U(`blur_sigma`) = U(0.1, 2.0) and probability `blur_p` = 1.0:
      the official code blurs every view, SimCLR blurred with probability 0.5. `blur_kernel`
      defaults to `blur_kernel_size(size)`, the odd number nearest to 10% of `size` (23 for 224,
      as in the official code and SimCLR), at least 3; reflect padding as torchvision.

    No solarisation (the official code has none). One-channel images skip saturation, hue and
    grayscale, which need colour. Work is done in [0, 1] on the batch's device and returned in
    [-1, 1]; `forward(images)` returns (view1, view2).

    `forward` on pairs (b, 2, c, size, size) whose crops were already cut from the full images
    (`lzn.data.views.CroppedPairs`, which ImageNetData gives: the official pipeline crops the
    full-resolution image, not a resized centre square) skips the crop, so `scale` and `ratio`
    do not apply, and does the rest to each view: view1 from pairs[:, 0], view2 from pairs[:, 1].
    """

    def __init__(
        self,
        size: int,
        *,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        jitter: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 0.2),
        jitter_p: float = 0.8,
        grayscale_p: float = 0.2,
        blur_p: float = 1.0,
        blur_sigma: tuple[float, float] = (0.1, 2.0),
        blur_kernel: int | None = None,
        flip_p: float = 0.5,
    ):
        super().__init__()
        import kornia.augmentation as K

        kernel = blur_kernel_size(size) if blur_kernel is None else blur_kernel
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"blur_kernel must be a positive odd number, got {kernel}")
        brightness, contrast, saturation, hue = jitter
        self.size = size
        self.crop = K.RandomResizedCrop((size, size), scale=scale, ratio=ratio)
        self.flip = K.RandomHorizontalFlip(p=flip_p)
        self.jitter = K.ColorJitter(brightness, contrast, saturation, hue, p=jitter_p)
        self.jitter_gray = K.ColorJitter(brightness, contrast, p=jitter_p)
        self.grayscale = K.RandomGrayscale(p=grayscale_p)
        self.blur = K.RandomGaussianBlur(kernel, blur_sigma, p=blur_p)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(view1, view2) of images (b, c, s, s), or of pre-cropped pairs (b, 2, c, size, size)."""
        pairs = images.ndim == 5
        if pairs:
            _check_pairs(images, self.size)
        else:
            _check(images)
        dtype = images.dtype
        # kornia's colour ops want float32 or float64; half precision is done in float32.
        work = images if dtype in (torch.float32, torch.float64) else images.float()
        # Both views in one batch: one pass of kernels, independent draws per row all the same.
        if pairs:
            x = (work.transpose(0, 1).flatten(0, 1) + 1) / 2  # all first views, then all second
            x = self.flip(x)
        else:
            x = (torch.cat([work, work]) + 1) / 2
            x = self.flip(self.crop(x))
        if x.shape[1] == 3:
            x = self.grayscale(self.jitter(x))
        else:
            x = self.jitter_gray(x)
        x = self.blur(x).clamp(0, 1) * 2 - 1
        view1, view2 = x.to(dtype).chunk(2)
        return view1, view2
