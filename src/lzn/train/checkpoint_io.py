"""Lightning checkpoints written atomically, and refused with a clear error when unreadable.

Lightning's own writer goes through a temporary file in /tmp that is moved into place: across
file systems that move is a copy, and a kill during it leaves a truncated checkpoint. Here the
temporary file is beside the checkpoint and renamed over it, so the previous checkpoint stays
usable until the new one is complete.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from lzn import atomic


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write(path, lambda tmp: torch.save(checkpoint, tmp))

    def load_checkpoint(self, path, map_location=None, weights_only=None):
        return _load(path, map_location=map_location)


def saved_step(path) -> int:
    """The training step a Lightning checkpoint holds, read without loading its tensors (memory
    mapped): whether a run is complete costs no time even for a large model."""
    # Memory mapping needs torch's zip format; anything else is loaded to say what is wrong.
    checkpoint = _load(path, mmap=Path(path).is_file() and zipfile.is_zipfile(path))
    if not isinstance(checkpoint, dict) or "global_step" not in checkpoint:
        raise ValueError(f"checkpoint {path} is not a Lightning checkpoint: it has no global_step")
    return int(checkpoint["global_step"])


def _load(path, **kwargs) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        # Tensors, numbers, strings and dicts only: a checkpoint never runs code on loading.
        return torch.load(path, weights_only=True, **kwargs)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(
            f"checkpoint {path} is truncated, corrupt or not a Lightning checkpoint (only "
            f"tensors and plain data are loaded): {reason}"
        ) from None
