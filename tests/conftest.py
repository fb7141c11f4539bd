import os

import pytest
import torch

# Triton kernels run on CPU tensors only in its interpreter, which must be chosen before triton is
# first imported (its own jitted helpers, tl.zeros and the like, are built then): here, before
# any test module is collected. On a GPU machine the kernels are built for the GPU.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
