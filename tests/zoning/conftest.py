"""Run the zoning tests on each posterior implementation where they ask for it (`kernel`)."""

import pytest

from tests.zoning.kernels import triton_kernel_or_skip

# TRITON_INTERPRET is set by tests/conftest.py, before triton is first imported.


@pytest.fixture(params=["torch", "triton"])
def kernel(request, monkeypatch):
    """Force each implementation in turn with LZN_KERNEL (the Triton one where installed)."""
    if request.param == "triton":
        triton_kernel_or_skip()
    monkeypatch.setenv("LZN_KERNEL", request.param)
    return request.param
