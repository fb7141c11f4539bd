"""Image files in and out: model tensors (b, c, s, s) in [-1, 1] and ordinary PNG or JPEG files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor


def load(paths: Sequence[str | Path], *, size: int, channels: int) -> Tensor:
    """Read image files as a (b, channels, size, size) tensor in [-1, 1]. Files must already have
    the model's size (no silent resizing); colour is converted to the model's channel count."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if not paths:
        raise ValueError("no image files given")
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise ValueError(f"reading files supports 1 or 3 channels, the model has {channels}")
    batch = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image = image.convert(mode)
                if image.size != (size, size):
                    raise ValueError(
                        f"{path} is {image.size[0]}x{image.size[1]}, the model takes {size}x{size}"
                    )
                array = np.asarray(image, dtype=np.float32)
        except (FileNotFoundError, UnidentifiedImageError, OSError) as e:
            raise ValueError(f"cannot read {path} as an image: {e}") from None
        batch.append(torch.from_numpy(array.reshape(size, size, channels)).permute(2, 0, 1))
    return torch.stack(batch) / 127.5 - 1.0


def save_grid(images: Tensor, path: str | Path, *, columns: int, scale: int = 4) -> None:
    """Write images (b, c, s, s) in [-1, 1] as one PNG grid, a grey line around each image."""
    from PIL import Image

    b, c, s, _ = images.shape
    rows = -(-b // columns)
    cells = torch.full((rows * columns, c, s + 2, s + 2), 0.0)
    cells[:b, :, 1:-1, 1:-1] = images.detach().cpu().float()
    grid = cells.view(rows, columns, c, s + 2, s + 2).permute(0, 3, 1, 4, 2)
    grid = grid.reshape(rows * (s + 2), columns * (s + 2), c)
    pixels = ((grid + 1) * 127.5).clamp(0, 255).round().to(torch.uint8).numpy()
    image = Image.fromarray(pixels[..., 0] if c == 1 else pixels)
    image.resize((image.width * scale, image.height * scale), Image.NEAREST).save(path)
