"""Input checks shared by the metrics: every bad input is a ValueError that names the problem."""

from __future__ import annotations

import numpy as np
import torch


def as_features(x: object, name: str, *, min_samples: int = 2) -> np.ndarray:
    """An (n, d) float64 array of finite values with n >= min_samples, or a ValueError."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be an (n, d) array of numbers: {e}") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must be an (n, d) array, got shape {array.shape}")
    if array.shape[0] < min_samples:
        raise ValueError(f"{name} has {array.shape[0]} samples, at least {min_samples} are needed")
    if array.shape[1] == 0:
        raise ValueError(f"{name} has feature dimension 0")
    if not np.isfinite(array).all():
        raise ValueError(f"NaN or infinite values in {name}")
    return array


def same_dim(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{names} have different feature dimensions: {a.shape[1]} and {b.shape[1]}"
        )


def as_labels(y: object, n: int, name: str) -> np.ndarray:
    """Integer class labels (n,), non-negative."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"{name} must have shape ({n},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.issubdtype(labels.dtype, np.floating) or not np.all(labels == np.round(labels)):
            raise ValueError(f"{name} must be integer class labels, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(f"{name} contains negative labels ({labels.min()})")
    return labels
