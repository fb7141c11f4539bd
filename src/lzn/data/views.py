"""Two random resized crops of every image, cut from the full image: case study 2's views.

The official pipeline (SimCLR's) applies torchvision's RandomResizedCrop to the full-resolution
image before the rest of the augmentations, so a view can show any part of it, borders
included. `CroppedPairs` does that on the loaders; `lzn.data.augment.SimCLRViews` then applies
flip, colour jitter, grayscale and blur to each view on the device.

Policies:
- Crops: two independent boxes per item, drawn on the image's size in the file as torchvision
  draws them (`lzn.data.crops`: area fraction in `scale` = (0.08, 1), aspect log-uniform in
  `ratio` = (3/4, 4/3), 10 attempts, then the centred fallback), each resized to `size` x `size`
  with PIL's bilinear filter (antialiased when shrinking), as torchvision does on PIL images.
- Memory: an image whose shorter side exceeds `max_short_side` (default 1024) is first
  downscaled to it, a JPEG decoded at reduced scale without ever holding the full raster
  (`ImageFolder.open`). The boxes are still drawn on the size in the file and scaled onto the
  smaller image, so the bound changes resolution, never which part of the image a view shows.
  With the default, the smallest crop (8% of the area) of a square image keeps at least 250
  pixels a side, more than a 224 view needs; ImageNet's images average about 470 x 390, so
  the bound rarely applies there.
- Randomness: an `ItemKey` (what `lzn.data.batches.StepBatches(keys=True)` yields) seeds the
  crops by (run seed, step, index) alone, so a resumed run cuts the crops the uninterrupted run
  cut, with any number of workers. A plain integer index draws from torch's global generator
  (random per DataLoader worker, as torchvision's transforms are; not reproducible on resume).
- Items: (float32 (2, channels, size, size) in [-1, 1], long label); corrupt files, colour modes
  and labels follow the wrapped `ImageFolder`.
"""

from __future__ import annotations

import operator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from lzn.data.batches import ItemKey
from lzn.data.crops import RATIO, SCALE, check_ranges, random_resized_box
from lzn.data.folder import ImageFolder, as_tensor

MAX_SHORT_SIDE = 1024


class CroppedPairs(Dataset):
    """Items of `folder` as two random `size` x `size` crops of the full image (module
    docstring); `targets` and `classes` are the folder's."""

    takes_keys = True  # the data modules' batch sampler yields ItemKeys for it

    def __init__(
        self, folder: ImageFolder, size: int, *, scale: tuple[float, float] = SCALE,
        ratio: tuple[float, float] = RATIO, max_short_side: int = MAX_SHORT_SIDE,
    ):  # fmt: skip
        check_ranges(scale, ratio)
        if size < 1:
            raise ValueError(f"crop size must be positive, got {size}")
        if max_short_side < size:
            raise ValueError(
                f"max_short_side ({max_short_side}) must be at least the crop size ({size}): "
                "a smaller bound would blur every view"
            )
        self.folder, self.size, self.max_short_side = folder, size, max_short_side
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    @property
    def targets(self) -> Tensor:
        return self.folder.targets

    @property
    def classes(self) -> tuple[str, ...]:
        return self.folder.classes

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, key: int | ItemKey) -> tuple[Tensor, Tensor]:
        if isinstance(key, ItemKey):
            index, generator = key.index, key.generator()
        else:
            index = operator.index(key)
            generator = np.random.default_rng(int(torch.randint(2**62, ())))
        return self.folder.first_decodable(index, lambda i: self._item(i, generator))

    def _item(self, i: int, generator: np.random.Generator) -> Tensor:
        return torch.stack(self._crops(i, generator, 2))

    def _crops(self, i: int, generator: np.random.Generator, count: int) -> list[Tensor]:
        """`count` independent random resized crops of file i."""
        from PIL import Image

        # Decode first: a file skipped as corrupt consumes no draws.
        image, (width, height) = self.folder.open(i, self.max_short_side)
        sx, sy = image.width / width, image.height / height
        views = []
        for _ in range(count):
            left, top, w, h = random_resized_box(
                width, height, generator, scale=self.scale, ratio=self.ratio
            )
            box = (left * sx, top * sy, (left + w) * sx, (top + h) * sy)
            views.append(image.resize((self.size, self.size), Image.Resampling.BILINEAR, box=box))
        return [as_tensor(view) for view in views]


class RandomCrops(CroppedPairs):
    """Items of `folder` as one random `size` x `size` crop of the full image (c, size, size),
    flipped left-right with probability 0.5 if `flip`: torchvision's RandomResizedCrop +
    RandomHorizontalFlip, the linear probe's training augmentation on ImageNet. Crops, memory
    bound and randomness as `CroppedPairs`."""

    def __init__(self, folder: ImageFolder, size: int, *, flip: bool = True, **options):
        super().__init__(folder, size, **options)
        self.flip = flip

    def _item(self, i: int, generator: np.random.Generator) -> Tensor:
        (view,) = self._crops(i, generator, 1)
        if self.flip and generator.random() < 0.5:
            view = view.flip(-1)
        return view
