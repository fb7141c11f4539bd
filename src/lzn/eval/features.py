"""Feature extractors, streaming feature statistics, and cached reference features.

Every generative metric works on features: `FeatureExtractor` is the one interface (the shipped
digits/MNIST classifiers, TF-Inception, or any function wrapped by `CallableExtractor`).
`extract` streams batches of images through an extractor and keeps only what the metrics need:
float64 running moments for FID (never the images), and the features themselves only if KID or
precision/recall need them. Reference features of a data set are computed once and cached as an
.npz file (no pickle).
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lzn import atomic
from lzn.eval import _checks
from lzn.progress import bar as progress_bar


class FeatureExtractor(ABC):
    """Images (b, c, h, w) in [-1, 1] -> features (b, d), and class logits (b, k) if it has any.

    `name` identifies the features (cache keys and reports); include a hash of the weights."""

    name: str
    has_logits: bool = False

    @abstractmethod
    def outputs(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """(features (b, d), logits (b, k) or None)."""

    def __call__(self, images: Tensor) -> Tensor:
        return self.outputs(images)[0]


class CallableExtractor(FeatureExtractor):
    """Any function images -> features (e.g. `model.embed`, or raw pixels) as an extractor."""

    def __init__(
        self,
        features: Callable[[Tensor], Tensor],
        name: str,
        logits: Callable[[Tensor], Tensor] | None = None,
    ):
        self._features, self._logits, self.name = features, logits, name
        self.has_logits = logits is not None

    @torch.no_grad()
    def outputs(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        logits = self._logits(images) if self._logits is not None else None
        return self._features(images), logits


def pixels() -> CallableExtractor:
    """Flattened pixels as features: a baseline, and handy in tests."""
    return CallableExtractor(lambda x: x.flatten(1), "pixels")


class FeatureStats:
    """Mean and covariance of a stream of features, accumulated in float64.

    Batches are merged with Chan et al.'s pairwise update (centred sums of squares), which does not
    lose precision the way sum(x x^T) - n mu mu^T does when the mean is large."""

    def __init__(self, dim: int | None = None):
        self.n = 0
        self._mean = None if dim is None else np.zeros(dim)
        self._m2 = None if dim is None else np.zeros((dim, dim))

    def update(self, features: Tensor | np.ndarray) -> FeatureStats:
        batch = _checks.as_features(features, "features", min_samples=1)
        if self._mean is None:
            self._mean = np.zeros(batch.shape[1])
            self._m2 = np.zeros((batch.shape[1], batch.shape[1]))
        _checks.same_dim(self._mean[None], batch, "the accumulated and new features")
        nb = len(batch)
        mean_b = batch.mean(0)
        centred = batch - mean_b
        m2_b = centred.T @ centred
        n = self.n + nb
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (nb / n)
        self._m2 = self._m2 + m2_b + np.outer(delta, delta) * (self.n * nb / n)
        self.n = n
        return self

    @property
    def dim(self) -> int:
        if self._mean is None:
            raise ValueError("no features were accumulated")
        return len(self._mean)

    @property
    def mean(self) -> np.ndarray:
        self._require(1)
        return self._mean.copy()

    @property
    def covariance(self) -> np.ndarray:
        """Unbiased sample covariance (ddof = 1), as numpy.cov and the standard FID tools."""
        self._require(2)
        return self._m2 / (self.n - 1)

    def _require(self, n: int) -> None:
        if self.n < n:
            raise ValueError(f"the statistics hold {self.n} samples, at least {n} are needed")

    @classmethod
    def from_moments(cls, mean: np.ndarray, covariance: np.ndarray, n: int) -> FeatureStats:
        stats = cls()
        stats.n, stats._mean = int(n), np.asarray(mean, dtype=np.float64)
        stats._m2 = np.asarray(covariance, dtype=np.float64) * (n - 1)
        return stats


@dataclass
class FeatureSet:
    """What an extraction keeps: statistics always; features and logits only when asked."""

    name: str  # the extractor's name
    stats: FeatureStats
    features: np.ndarray | None = None  # (n, d) float32
    logits: np.ndarray | None = None  # (n, k) float32

    @property
    def n(self) -> int:
        return self.stats.n

    def save(self, path: str | os.PathLike) -> None:
        """An .npz file (no pickle): moments, and features/logits if kept. Written atomically."""
        arrays = {
            "mean": self.stats.mean,
            "covariance": self.stats.covariance,
            "meta": np.array(json.dumps({"name": self.name, "n": self.n})),
        }
        if self.features is not None:
            arrays["features"] = self.features
        if self.logits is not None:
            arrays["logits"] = self.logits
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write(path, lambda tmp: _savez(tmp, arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> FeatureSet:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                stats = FeatureStats.from_moments(data["mean"], data["covariance"], meta["n"])
                features = data["features"] if "features" in data else None
                logits = data["logits"] if "logits" in data else None
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(f"{path} is not a cached feature file: {e}") from None
        return cls(meta["name"], stats, features, logits)


def batches(source: Tensor | Iterable[Tensor], batch_size: int) -> Iterator[Tensor]:
    """Batches of images from a tensor (sliced lazily) or any iterable of batches (a generator of
    samples): only one batch is alive at a time."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if isinstance(source, Tensor):
        for i in range(0, len(source), batch_size):
            yield source[i : i + batch_size]
    else:
        yield from source


@torch.no_grad()
def extract(
    extractor: FeatureExtractor,
    source: Tensor | Iterable[Tensor],
    *,
    batch_size: int = 250,
    keep_features: bool = True,
    keep_logits: bool = False,
    progress: bool = False,
    desc: str = "features",
    total: int | None = None,
) -> FeatureSet:
    """Stream `source` through `extractor`. Memory: one batch of images, the d x d moments, and the
    (n, d) features only if `keep_features` (KID and precision/recall need them, FID does not).
    With `progress`, a bar counts images up to `total` (a tensor source's length by default)."""
    if keep_logits and not extractor.has_logits:
        raise ValueError(f"the feature extractor {extractor.name!r} gives no class logits")
    if total is None and isinstance(source, Tensor):
        total = len(source)
    with progress_bar(total, desc, enabled=progress, unit="image") as bar:
        return _extract(extractor, batches(source, batch_size), keep_features, keep_logits, bar)


def _extract(extractor, source, keep_features: bool, keep_logits: bool, bar) -> FeatureSet:
    stats = FeatureStats()
    kept_features: list[np.ndarray] = []
    kept_logits: list[np.ndarray] = []
    for images in source:
        features, logits = extractor.outputs(images)
        features = features.detach().float().cpu()
        if features.ndim != 2 or features.shape[0] != images.shape[0]:
            raise ValueError(
                f"the extractor {extractor.name!r} returned shape {tuple(features.shape)} for "
                f"{images.shape[0]} images; expected ({images.shape[0]}, d)"
            )
        stats.update(features)
        if keep_features:
            kept_features.append(features.numpy())
        if keep_logits:
            kept_logits.append(logits.detach().float().cpu().numpy())
        bar.update(len(images))
    if stats.n == 0:
        raise ValueError("no images to extract features from")
    return FeatureSet(
        extractor.name,
        stats,
        np.concatenate(kept_features) if keep_features else None,
        np.concatenate(kept_logits) if keep_logits else None,
    )


def default_cache_dir() -> Path:
    """$LZN_CACHE/eval, else ~/.cache/lzn/eval."""
    root = os.environ.get("LZN_CACHE") or Path.home() / ".cache" / "lzn"
    return Path(root) / "eval"


def cached_extract(
    key: str,
    extractor: FeatureExtractor,
    source: Callable[[], Tensor | Iterable[Tensor]],
    *,
    cache_dir: str | os.PathLike | None = None,
    keep_features: bool = True,
    keep_logits: bool = False,
    batch_size: int = 250,
    progress: bool = False,
    total: int | None = None,
) -> tuple[FeatureSet, Path]:
    """Reference features of a data set, computed once: `key` names the data (set, split, size);
    the file name adds the extractor's name, so other features never reuse it. `source` is only
    called on a cache miss, or when the cached file lacks what is asked for (then, with
    `progress`, a bar shows the extraction)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{key}-{extractor.name}")
    path = Path(cache_dir or default_cache_dir()) / f"{safe}.npz"
    if path.is_file():
        cached = FeatureSet.load(path)
        if (
            cached.name == extractor.name
            and (cached.features is not None or not keep_features)
            and (cached.logits is not None or not keep_logits)
        ):
            return cached, path
    result = extract(
        extractor,
        source(),
        batch_size=batch_size,
        keep_features=keep_features,
        keep_logits=keep_logits,
        progress=progress,
        desc=f"reference features ({key})",
        total=total,
    )
    result.save(path)
    return result, path


def _savez(path: str, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a name
        np.savez(f, **arrays)
