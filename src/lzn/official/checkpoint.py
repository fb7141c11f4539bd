"""Reading an official checkpoint safely: tensors and plain Python values only, never code.

The official trainers `torch.save` one dict: each network's `state_dict()` (`encoder`,
`decoder`, `label_anchor`), its EMA (`<part>_ema`), and the optimizer, LR scheduler, epoch,
iteration and grad-scaler states. Every network key carries the `model.module.` prefix of the
official `CustomDistributedDataParallel` wrapper (a `DistributedDataParallel` in `.model`, the
network in its `.module`), which the trainers use even on one GPU.

`torch.load(..., weights_only=True)` refuses anything else than tensors, containers and
primitives; the file is memory-mapped, so that the optimizer's Adam moments (twice the model)
are never read into memory.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path

import torch
from torch import Tensor

WRAPPER_PREFIX = "model.module."


def read(path: str | os.PathLike) -> dict:
    """The checkpoint's top-level dict, its tensors memory-mapped from the file when the file is
    in torch's zip format (read into memory otherwise). A ValueError if loading it would need
    more than tensors and plain values (it is then not loaded at all)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (expected an official .pt checkpoint)")
    try:
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as e:
            if "mmap" not in str(e):  # only the legacy (non-zip) format cannot be mapped
                raise
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(
            f"{path} is not a checkpoint that loads with torch.load(weights_only=True): "
            f"{first_line}. Loading it would need more than tensors and plain Python values "
            "(or it is not a torch checkpoint); lzn never unpickles such a file"
        ) from None
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path} holds a {type(checkpoint).__name__}, not an official checkpoint")
    return checkpoint


def network_state(checkpoint: dict, part: str, where: str = "the checkpoint") -> dict[str, Tensor]:
    """The state dict of one network (`encoder`, `decoder`, `label_anchor`) without the
    wrapper prefix, in its stored order."""
    state = checkpoint.get(part)
    if not isinstance(state, dict):
        found = ", ".join(map(str, checkpoint)) or "nothing"
        raise ValueError(f"{where} has no {part!r} state dict (its top-level keys: {found})")
    if not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        raise ValueError(f"{where}: {part!r} must map names to tensors")
    prefixed = [k.startswith(WRAPPER_PREFIX) for k in state]
    if any(prefixed) and not all(prefixed):
        bare = [k for k, p in zip(state, prefixed, strict=True) if not p][:5]
        raise ValueError(f"{where}: some {part!r} keys lack the {WRAPPER_PREFIX!r} prefix: {bare}")
    # All keys carry it (every checkpoint the official code saves), or none do (a bare network).
    cut = len(WRAPPER_PREFIX) if all(prefixed) and prefixed else 0
    return OrderedDict((k[cut:], v) for k, v in state.items())


def with_prefix(state: dict[str, Tensor]) -> OrderedDict:
    """The inverse of `network_state`: keys as the official trainers save them."""
    return OrderedDict((WRAPPER_PREFIX + k, v) for k, v in state.items())
