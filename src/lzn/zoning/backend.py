"""Which implementation computes the posterior: the PyTorch blocks or the fused Triton kernel.

CUDA tensors use the Triton kernel (`lzn.zoning.triton_kernel`) when triton is importable, and
everything else the PyTorch path (`lzn.zoning.kernel`). The environment variable LZN_KERNEL forces
one for every device: `LZN_KERNEL=torch` (e.g. to compare), or `LZN_KERNEL=triton`, which on CPU
tensors needs Triton's interpreter (`TRITON_INTERPRET=1`): that is how the tests reach the kernel
without a GPU. The variable is read at every call.
"""

from __future__ import annotations

import functools
import os

import torch
from torch import Tensor

from lzn.zoning import kernel

KERNELS = ("torch", "triton")
ENV = "LZN_KERNEL"


@functools.cache
def triton_available() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def kernel_for(device: torch.device) -> str:
    """The implementation, "torch" or "triton", that a posterior on `device` runs with."""
    forced = os.environ.get(ENV, "").strip().lower()
    if forced:
        if forced not in KERNELS:
            raise ValueError(f"{ENV} must be one of {', '.join(KERNELS)}, got {forced!r}")
        if forced == "triton" and not triton_available():
            raise ImportError(f"{ENV}=triton, but triton is not installed: pip install lzn[triton]")
        return forced
    return "triton" if device.type == "cuda" and triton_available() else "torch"


def posterior(s: Tensor, anchors: Tensor, log_weights: Tensor, t: float) -> tuple[Tensor, Tensor]:
    """Posterior mean (m, q) and logsumexp (m,): see `lzn.zoning.kernel.posterior`."""
    if kernel_for(s.device) == "triton":
        from lzn.zoning import triton_kernel

        return triton_kernel.posterior(s, anchors, log_weights, t)
    return kernel.posterior(s, anchors, log_weights, t)
