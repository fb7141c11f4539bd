"""Lightning checkpoints written atomically, and refused with a clear error when unreadable.

Lightning's own writer goes through a temporary file in /tmp that is moved into place: across
file systems that move is a copy, and a kill during it leaves a truncated checkpoint. Here the
temporary file is beside the checkpoint and renamed over it, so the previous checkpoint stays
usable until the new one is complete.
"""

from __future__ import annotations

import pickle
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
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist")
        try:
            # Tensors, numbers, strings and dicts only: a checkpoint never runs code on loading.
            return torch.load(path, map_location=map_location, weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
            reason = str(e).splitlines()[0]
            raise ValueError(
                f"checkpoint {path} is truncated, corrupt or not a Lightning checkpoint (only "
                f"tensors and plain data are loaded): {reason}"
            ) from None
