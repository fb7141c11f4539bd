"""Argument checks of the public zoning functions: each error names the argument and the problem."""

from __future__ import annotations

import math

import torch
from torch import Tensor

_HALF = (torch.float16, torch.bfloat16)


def points(name: str, x: object, dim: int | None = None) -> Tensor:
    """A non-empty, finite (rows, dim) floating tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (rows, dim), got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (rows, dim), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}): at least one point is needed")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} has dimension {x.shape[1]}, but the anchors have dimension {dim}")
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).any(1).sum())
        raise ValueError(f"{name} contains NaN or infinite values (in {bad} of {x.shape[0]} rows)")
    return x


def same_kind(**tensors: object) -> None:
    """All given tensors live on one device, and the floating ones share one dtype."""
    given = {k: v for k, v in tensors.items() if isinstance(v, Tensor)}
    devices = {k: v.device for k, v in given.items()}
    if len(set(devices.values())) > 1:
        listed = ", ".join(f"{k} on {d}" for k, d in devices.items())
        raise ValueError(f"tensors must be on one device, got {listed}")
    dtypes = {k: v.dtype for k, v in given.items() if v.is_floating_point()}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{k} {d}" for k, d in dtypes.items())
        raise ValueError(f"floating tensors must share one dtype, got {listed}")


def flow_dtype(x: Tensor) -> torch.dtype:
    """Half precision overflows in the flow (||s - t a||^2 / (1-t)^2 exceeds 65504): use float32."""
    return torch.float32 if x.dtype in _HALF else x.dtype


def log_weights(weights: Tensor | None, n: int, like: Tensor) -> Tensor:
    """Mixture weights over the n anchors, as log-weights (log 0 = -inf), treated as constants."""
    if weights is None:
        return torch.zeros(n, dtype=like.dtype, device=like.device)
    if not isinstance(weights, Tensor):
        raise TypeError(f"weights must be a torch.Tensor ({n},), got {type(weights).__name__}")
    if weights.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {tuple(weights.shape)}")
    if weights.device != like.device:
        raise ValueError(f"weights are on {weights.device}, the anchors on {like.device}")
    w = weights.detach().to(like.dtype)
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError("weights must be finite and non-negative")
    if not bool((w > 0).any()):
        raise ValueError("weights are all zero: at least one anchor needs a positive weight")
    return w.log()


def index(idx: Tensor | None, n: int, device: torch.device) -> Tensor:
    if idx is None:
        return torch.arange(n, device=device)
    return labels("index", idx, n, device)


def labels(name: str, y: object, n: int, device: torch.device) -> Tensor:
    """A 1-D integer tensor of anchor indices in [0, n)."""
    if not isinstance(y, Tensor):
        raise TypeError(f"{name} must be a 1-D integer torch.Tensor, got {type(y).__name__}")
    if y.ndim != 1 or y.dtype in (torch.bool,) or y.is_floating_point() or y.is_complex():
        raise ValueError(f"{name} must be a 1-D integer tensor, got {tuple(y.shape)} {y.dtype}")
    if y.device != device:
        raise ValueError(f"{name} is on {y.device}, the anchors on {device}")
    if y.numel() == 0:
        raise ValueError(f"{name} is empty: at least one entry is needed")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= n:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{name} contains {bad}, outside the {n} anchors (valid: 0..{n - 1})")
    return y.long()


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def in_range(name: str, value: object, lo: float, hi: float, *, closed_hi: bool = False) -> float:
    """A float in [lo, hi) (or [lo, hi] with closed_hi)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and lo <= value and (value <= hi if closed_hi else value < hi)
    if not ok:
        bracket = "]" if closed_hi else ")"
        raise ValueError(f"{name} must be a number in [{lo}, {hi}{bracket}, got {value!r}")
    return float(value)
