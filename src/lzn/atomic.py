"""Atomic file writes: a crash or a kill mid-write leaves the previous file whole."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write(path: str | os.PathLike, write_to: Callable[[str], object]) -> None:
    """Call `write_to(tmp)` on a temporary file beside `path`, flush it to disk, then rename it
    over `path` (a rename within one directory is atomic on POSIX and Windows)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write_to(tmp)
        # mkstemp makes 0600, and some writers (safetensors) recreate the file as 0600: a saved
        # file gets the usual mode, readable by others on a shared server as umask allows.
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
