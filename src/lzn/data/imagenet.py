"""ImageNet (ILSVRC-2012) in the usual layout: root/train/<wnid>/*.JPEG and root/val/<wnid>/*.JPEG.

The val images must be in class folders too, as the standard `valprep.sh` (the one the PyTorch
ImageNet example points to) arranges the 50,000 flat val files. Labels are the indices of the
sorted wnids, the same in both splits only when both hold the same class folders (a warning says
when they do not). Resizing and corrupt files follow `ImageFolder`; the usual evaluation crop is
`size=224, resize=256`. For training, `lzn.data.ImageNetData` cuts case study 2's two views
from the full images instead (`lzn.data.views.CroppedPairs`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from lzn.data.folder import ImageFolder, NotInClassFolders

SPLITS = ("train", "val")


class ImageNet(ImageFolder):
    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        *,
        size: int = 224,
        resize: int | None = None,
        channels: int = 3,
        on_corrupt: str = "error",
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        root = Path(root).expanduser()
        layout = (
            f"ImageNet needs {root}/train/<wnid>/*.JPEG and {root}/val/<wnid>/*.JPEG: the val "
            "images in class folders too, as the standard valprep.sh script arranges them"
        )
        if not (root / split).is_dir():
            raise FileNotFoundError(f"ImageNet {split} split not found at {root / split}. {layout}")
        try:
            super().__init__(
                root / split, size=size, resize=resize, channels=channels, labels=True,
                on_corrupt=on_corrupt,
            )  # fmt: skip
        except NotInClassFolders as e:
            raise ValueError(f"{e}. {layout}") from None
        self.split = split
        other = root / SPLITS[split == "train"]
        if other.is_dir():
            names = tuple(sorted(d.name for d in other.iterdir() if d.is_dir()))
            names = tuple(n for n in names if not n.startswith("."))
            if names != self.classes:
                warnings.warn(
                    f"{root / split} has {len(self.classes)} class folders with images, {other} "
                    f"has {len(names)} class folders: labels differ between the splits",
                    stacklevel=2,
                )
