"""The Triton kernel module for tests on CPU tensors, or a skip."""

import pytest


def triton_kernel_or_skip():
    """lzn.zoning.triton_kernel, or a skip where triton is missing or was built for the GPU."""
    pytest.importorskip("triton")
    from lzn.zoning import triton_kernel

    if not triton_kernel.interpreted():
        pytest.skip("the Triton kernel was built for the GPU: CPU tensors need TRITON_INTERPRET=1")
    return triton_kernel
