"""Random draws that honour a user's generator wherever the tensors live.

A torch.Generator is tied to one device; users seed a CPU generator and expect it to work for a
CUDA model too. Draw on the generator's device, then move: same numbers on every device.
"""

from __future__ import annotations

import torch
from torch import Tensor


def randn(*shape: int, generator: torch.Generator | None, device: torch.device | str) -> Tensor:
    source = generator.device if generator is not None else device
    return torch.randn(*shape, generator=generator, device=source).to(device)


def rand(*shape: int, generator: torch.Generator | None, device: torch.device | str) -> Tensor:
    source = generator.device if generator is not None else device
    return torch.rand(*shape, generator=generator, device=source).to(device)


def randint(
    high: int, shape: tuple[int, ...], *, generator: torch.Generator | None,
    device: torch.device | str,
) -> Tensor:  # fmt: skip
    source = generator.device if generator is not None else device
    return torch.randint(high, shape, generator=generator, device=source).to(device)


def run_seed() -> int:
    """The seed of the current run: what `seed_everything` (Lightning, `lzn fit`) set, else 0."""
    import os

    return int(os.environ.get("PL_GLOBAL_SEED", 0))
