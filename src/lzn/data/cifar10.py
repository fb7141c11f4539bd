"""CIFAR-10 from the official *binary* version: no pickle, so loading data never runs code.

Policies:
- Where: `root/cifar-10-batches-bin/` (extracted) is read first, else the members are read
  straight from `root/cifar-10-binary.tar.gz` (no extraction needed).
- Format: each batch file is `RECORDS_PER_FILE` records of 1 label byte + 3072 pixel bytes,
  channel-major (R, G, B planes of 32x32, rows top to bottom). A file of another size is
  truncated or corrupt: ValueError naming it, never a silently shorter data set.
- Download (only when asked): the tarball from `URL` into `root`, its md5 checked before it is
  moved into place (temporary file + `os.replace`, so a partial download never looks complete).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.request import urlopen

import numpy as np
import torch
from torch import Tensor

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
ARCHIVE = "cifar-10-binary.tar.gz"
FOLDER = "cifar-10-batches-bin"
CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
RECORDS_PER_FILE = 10_000
_RECORD = 1 + 3 * 32 * 32


def load(
    root: str | os.PathLike, *, split: str = "train", download: bool = False
) -> tuple[Tensor, Tensor]:
    """(images uint8 (n, 3, 32, 32), labels long (n,)) of `split` ("train": 50,000 images in
    batch-file order, "test": 10,000)."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root).expanduser()
    folder, archive = root / FOLDER, root / ARCHIVE
    names = FILES[split]
    missing = [folder / name for name in names if not (folder / name).is_file()]
    if missing and download and not archive.is_file():
        fetch(root)
    if not missing:
        blobs = [(str(folder / name), (folder / name).read_bytes()) for name in names]
    elif archive.is_file():
        blobs = _read_members(archive, names)
    else:
        looked = "\n  ".join(str(p) for p in [*missing, archive])
        raise FileNotFoundError(
            f"CIFAR-10 ({split} split, binary version) not found; looked for:\n  {looked}\n"
            f"Get it with download=True (`--data.download true` for lzn fit, `download: true` "
            f"in an lzn evaluate config), or download {URL} "
            f"(md5 {MD5}) into {root}, extracted or not."
        )
    parsed = [_parse(source, data) for source, data in blobs]
    images = np.concatenate([images for images, _ in parsed])
    labels = np.concatenate([labels for _, labels in parsed])
    return torch.from_numpy(images), torch.from_numpy(labels)


def _read_members(archive: Path, names: Sequence[str]) -> list[tuple[str, bytes]]:
    wanted = {f"{FOLDER}/{name}": name for name in names}
    found: dict[str, bytes] = {}
    try:
        # One pass in archive order: seeking back in a gzip stream would decompress it again.
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name.removeprefix("./"))
                if name is not None and member.isfile():
                    found[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ValueError(
            f"{archive} is not a readable tar.gz ({e}); delete it and download it again"
        ) from None
    missing = [f"{FOLDER}/{name}" for name in names if name not in found]
    if missing:
        raise ValueError(f"{archive} lacks {', '.join(missing)}; is it the binary version?")
    return [(f"{archive}:{FOLDER}/{name}", found[name]) for name in names]


def _parse(source: str, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    n, rest = divmod(len(data), _RECORD)
    if rest or n != RECORDS_PER_FILE:
        what = f"{len(data)} bytes, not whole {_RECORD}-byte records" if rest else f"{n} records"
        raise ValueError(
            f"{source} has {what}, expected {RECORDS_PER_FILE} records: truncated or corrupt; "
            "delete it and get it again"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, _RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max(initial=0) >= len(CLASSES):
        raise ValueError(f"{source} has label {labels.max()} (10 classes): corrupt")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels  # read-only views: load() copies


def check_md5(path: str | os.PathLike, expected: str = MD5) -> None:
    """Raise ValueError naming both digests unless the file's md5 is `expected`."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise ValueError(f"{path} has md5 {digest.hexdigest()}, expected {expected}")


def fetch(root: str | os.PathLike) -> Path:
    """Download the tarball into `root` (checked, atomic) and return its path."""
    root = Path(root).expanduser()
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    target = root / ARCHIVE
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{ARCHIVE}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urlopen(URL, timeout=60) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
        check_md5(tmp, MD5)
        os.replace(tmp, target)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if created and not any(root.iterdir()):  # leave no empty folder of ours behind
            root.rmdir()
        if isinstance(e, ValueError):
            raise ValueError(f"downloading {URL}: {e}; the partial file was deleted") from None
        if isinstance(e, OSError):
            raise OSError(f"could not download {URL} ({e}); put it in {root} by hand") from e
        raise
    return target
