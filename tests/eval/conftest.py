import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # These tests run small tensors; on a shared 2-core machine a second torch thread spins against
    # other processes and makes them an order of magnitude slower. Restore the setting after.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
