"""Run the zoning tests on each posterior implementation where they ask for it (`kernel`)."""

import os

import pytest
import torch

from tests.zoning.kernels import triton_kernel_or_skip

# triton.jit picks the interpreter when the kernel module is imported: before any test runs. On a
# GPU machine the kernel is built for the GPU and the CPU-tensor kernel tests skip.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture(params=["torch", "triton"])
def kernel(request, monkeypatch):
    """Force each implementation in turn with LZN_KERNEL (the Triton one where installed)."""
    if request.param == "triton":
        triton_kernel_or_skip()
    monkeypatch.setenv("LZN_KERNEL", request.param)
    return request.param
