"""Where a run writes, checked before it starts: a mistyped or unwritable folder should cost a
second, not a model build, a data set load and a first checkpoint that fails to save."""

from __future__ import annotations

import os
from pathlib import Path


def check_output_dir(path: str | os.PathLike, key: str) -> Path:
    """`path` (the setting `key`) is a folder that exists or can be created, and is writable;
    else ValueError naming it. Nothing is created."""
    path = Path(path).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{key} {path} is a file, not a folder")
    existing = path
    while not existing.exists():  # the nearest ancestor that exists: the folder is made in it
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{key} {path} cannot be created: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is" if existing == path else f"cannot be created: {existing} is"
        raise ValueError(f"{key} {path} {what} not writable")
    return path
