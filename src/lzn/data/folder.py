"""A folder of image files as a Dataset (AFHQ, CelebA-HQ, LSUN exports, ImageNet, your own).

Items are (float32 image (channels, size, size) in [-1, 1], long label; -1 without labels).

Policies:
- Files: every file under `root`, recursively (symlinks followed), whose suffix is one of
  `extensions` (any case); names starting with "." (hidden files and folders, macOS "._*"
  sidecars, ".ipynb_checkpoints") are ignored. Sorted by their path below `root`, so item i is
  the same file on every machine.
- Labels: "class folders" means every image lies inside a first-level sub-folder; the label is the
  index of that folder's name in `classes`, the sorted names of the first-level sub-folders that
  hold images. `labels=None`: class folders when present, else none; `labels=False`: none (-1);
  `labels=True`: class folders required (ValueError otherwise).
- Size: the shorter side is resized to `resize` (default `size`) with PIL's bicubic filter
  (antialiased when shrinking), then the centre `size` x `size` is cropped (`size=224,
  resize=256` is the usual evaluation crop). Colour becomes "L" (channels=1) or "RGB" (3); alpha
  is dropped; EXIF orientation is ignored, as torchvision does.
- Full images: `open(i, max_short_side)` decodes file i whole, bounded in memory (its docstring);
  `lzn.data.views.CroppedPairs` cuts random crops from it instead of the centre square.
- Corrupt files (PIL cannot decode them): `on_corrupt="error"` raises ValueError naming the file;
  `"skip"` warns once per file and returns the next decodable item instead. `verify()` decodes
  every file up front and returns the bad ones.
"""

from __future__ import annotations

import operator
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

T = TypeVar("T")

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")


class NotInClassFolders(ValueError):
    """labels=True, but some images are not inside a class sub-folder."""


class _Undecodable(Exception):
    pass


class ImageFolder(Dataset):
    """The image files under `root` (see the module's policies); `classes`, `targets` (n,) and
    `path(i)` describe them."""

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        size: int,
        channels: int = 3,
        labels: bool | None = None,
        on_corrupt: str = "error",
        extensions: Sequence[str] = EXTENSIONS,
        resize: int | None = None,
    ):
        if on_corrupt not in ("error", "skip"):
            raise ValueError(f"on_corrupt must be 'error' or 'skip', got {on_corrupt!r}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
        resize = size if resize is None else resize
        if size < 1 or resize < size:
            raise ValueError(f"need 1 <= size <= resize, got size={size}, resize={resize}")
        self.root = Path(root).expanduser()
        self.size, self.resize, self.channels, self.on_corrupt = size, resize, channels, on_corrupt
        self.extensions = tuple(e.lower() for e in extensions)
        relative = _list_images(self.root, self.extensions)
        loose = [r for r in relative if len(r) == 1]
        if labels is True and loose:
            raise NotInClassFolders(
                f"labels=True needs every image in a class sub-folder of {self.root}, but "
                f"{len(loose)} lie directly in it (e.g. {loose[0][0]})"
            )
        if labels is False or loose:
            self.classes: tuple[str, ...] = ()
            targets = [-1] * len(relative)
        else:
            self.classes = tuple(sorted({r[0] for r in relative}))
            index = {name: i for i, name in enumerate(self.classes)}
            targets = [index[r[0]] for r in relative]
        self.targets = torch.tensor(targets, dtype=torch.long)
        # One numpy byte array, not a list of Python objects: DataLoader workers forked from this
        # process would otherwise copy the list page by page as reference counts change.
        self._files = np.array([os.fsencode(os.path.join(*r)) for r in relative], dtype=np.bytes_)
        self._bad: set[int] = set()

    def __len__(self) -> int:
        return len(self._files)

    def path(self, index: int) -> Path:
        return self.root / os.fsdecode(self._files[index])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.first_decodable(index, self._load)

    def first_decodable(self, index: int, load: Callable[[int], T]) -> tuple[T, Tensor]:
        """(load(i), label of i) for i = `index`, or under on_corrupt="skip" the first file from
        `index` on (cyclically) that decodes. `load(i)` decodes file i with `open`."""
        n = len(self)
        index = operator.index(index)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} images")
        for step in range(n):
            i = (index + step) % n
            if self.on_corrupt == "skip" and i in self._bad:
                continue
            try:
                return load(i), self.targets[i]
            except _Undecodable as e:
                if self.on_corrupt == "error":
                    raise ValueError(str(e)) from None
                self._bad.add(i)
                warnings.warn(f"{e}; skipped (on_corrupt='skip')", stacklevel=3)
        raise ValueError(f"none of the {n} image files under {self.root} can be decoded")

    def verify(self) -> list[Path]:
        """Decode every file; return those PIL cannot decode (skipped silently from then on when
        on_corrupt='skip')."""
        bad = []
        for i in range(len(self)):
            try:
                self.open(i)
            except _Undecodable:
                self._bad.add(i)
                bad.append(self.path(i))
        return bad

    def open(self, i: int, max_short_side: int | None = None):
        """File i decoded whole, in the folder's colour mode (a PIL image), and its size (w, h) in
        the file. With `max_short_side`, memory-bounded: an image whose shorter side is longer
        is downscaled (bicubic, antialiased) to that shorter side, and a JPEG is decoded at the
        smallest 1/2, 1/4 or 1/8 scale that is still at least that large (PIL's `draft`), never
        whole. Other formats are decoded whole first, up to PIL's decompression-bomb limit
        (`PIL.Image.MAX_IMAGE_PIXELS`; larger files count as undecodable)."""
        from PIL import Image

        path = self.path(i)
        try:
            with Image.open(path) as image:
                full = image.size
                short = min(full)
                if max_short_side is None or short <= max_short_side:
                    return self._colour(image), full
                bounded = tuple(max(1, round(side * max_short_side / short)) for side in full)
                image.draft(None, bounded)  # JPEG only (a no-op for other formats)
                image = self._colour(image)  # decodes
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
            raise _Undecodable(f"cannot decode {path} as an image ({e})") from None
        if image.size != bounded:
            image = image.resize(bounded, Image.Resampling.BICUBIC)
        return image, full

    def _colour(self, image):
        return image.convert("L" if self.channels == 1 else "RGB")

    def _load(self, i: int) -> Tensor:
        from PIL import Image

        image, (w, h) = self.open(i)
        short = min(w, h)
        shape = (max(self.resize, round(w * self.resize / short)),
                 max(self.resize, round(h * self.resize / short)))  # fmt: skip
        if shape != image.size:
            image = image.resize(shape, Image.Resampling.BICUBIC)
        left, top = (shape[0] - self.size) // 2, (shape[1] - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        return as_tensor(image)


def as_tensor(image) -> Tensor:
    """A PIL image ("L" or "RGB") as float32 (channels, h, w) in [-1, 1]."""
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8))
    pixels = pixels.view(image.height, image.width, len(image.getbands())).permute(2, 0, 1)
    return pixels.to(torch.float32, memory_format=torch.contiguous_format) / 127.5 - 1.0


def _list_images(root: Path, extensions: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Paths below `root` as tuples of parts, sorted."""
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise FileNotFoundError(f"image folder {root} {what} (looking for {', '.join(extensions)})")
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files = [f for f in files if not f.startswith(".")]
        parts = Path(folder).relative_to(root).parts
        found += [(*parts, f) for f in files if f.lower().endswith(extensions)]
    if not found:
        raise FileNotFoundError(f"no image files ({', '.join(extensions)}) under {root}")
    return sorted(found)
