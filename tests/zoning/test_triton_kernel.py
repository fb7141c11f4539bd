"""The fused Triton posterior against the float64 brute force and the PyTorch path, on CPU
tensors through Triton's interpreter (skipped where triton is not installed)."""

import pytest
import torch

from lzn import zoning
from lzn.zoning import backend
from lzn.zoning.kernel import posterior as torch_posterior
from tests.zoning import brute_force as bf
from tests.zoning.kernels import triton_kernel_or_skip


@pytest.fixture
def tk():
    return triton_kernel_or_skip()


def _inputs(m=37, n=53, q=6, dtype=torch.float64):
    s = torch.randn(m, q, dtype=dtype)
    a = torch.randn(n, q, dtype=dtype)
    w = torch.rand(n, dtype=dtype)
    w[:20] = 0.0  # a whole block of anchors with weight zero
    return s, a, w


@pytest.mark.parametrize("t", [0.0, 0.3, 0.97])
def test_posterior_matches_brute_force(tk, t):
    s, a, w = _inputs()
    mean, lse = tk.posterior(s, a, w.log(), t)
    assert torch.allclose(mean, bf.posterior_weights(s, a, t, w) @ a, atol=1e-12)
    logits = w.log()[None, :] - ((s[:, None] - t * a[None]) ** 2).sum(-1) / (2 * (1 - t) ** 2)
    assert torch.allclose(lse, torch.logsumexp(logits, 1), atol=1e-10)


def test_gradients_equal_the_pytorch_path(tk):
    s, a, w = _inputs()
    g_mean, g_lse = torch.randn(37, 6, dtype=torch.float64), torch.randn(37, dtype=torch.float64)
    grads = []
    for fn in (tk.posterior, torch_posterior):
        inputs = [x.clone().requires_grad_(True) for x in (s, a, w.log())]
        torch.autograd.backward(fn(*inputs, 0.8), (g_mean, g_lse))
        grads.append([x.grad for x in inputs])
    for ours, ref in zip(*grads, strict=True):
        assert torch.allclose(ours, ref, atol=1e-10, rtol=1e-9)


def test_posterior_passes_gradcheck(tk):
    s, a, w = _inputs(m=5, n=7, q=3)
    inputs = [x.requires_grad_(True) for x in (s, a, w.log().clamp(min=-30.0))]
    assert torch.autograd.gradcheck(lambda *x: tk.posterior(*x, 0.6), inputs)


def test_float32_anchors_with_float64_points_are_exact_near_the_anchors(tk):
    """Twins 1e-4 apart at t = 0.99: the float32 expansion is off by O(1) logits; differences
    formed in the kernel leave only the rounding of float32 values (the mean) and weights."""
    a = torch.randn(16, 64) * 2
    a[1::2] = a[0::2] + 1e-4 * torch.randn(8, 64)
    t = 0.99
    s = t * a.double()[::2] + (1 - t) * torch.randn(8, 64, dtype=torch.float64)
    s = s + 0.5 * t * (a.double()[1::2] - a.double()[::2])  # between the twins
    log_w = torch.zeros(16)
    mean, lse = tk.posterior(s, a, log_w, t)
    assert mean.dtype == torch.float32 and lse.dtype == torch.float64
    mean_ref, lse_ref = torch_posterior(s, a.double(), log_w.double(), t)
    assert (mean.double() - mean_ref).abs().max() < 1e-5
    assert (lse - lse_ref).abs().max() < 1e-6


def _latents_and_gradient(latents_fn, loss_fn, a, noise, targets):
    a = a.clone().requires_grad_(True)
    z = latents_fn(a, noise)
    (loss_fn(z, a, targets, steps=6, log=True) + 0.01 * (z**2).sum()).backward()
    return z.detach().double(), a.grad.double()


def test_flow_and_alignment_gradients_match_float64(tk, monkeypatch):
    """float32 anchors through the kernel against the float64 brute force, near twins included."""
    monkeypatch.setenv("LZN_KERNEL", "triton")
    a = torch.randn(24, 8) * 0.5
    a[1::2] = a[0::2] + 1e-3 * torch.randn(12, 8)
    noise, targets = torch.randn(24, 8), torch.randperm(24)
    z, g = _latents_and_gradient(
        lambda a, e: zoning.compute_latents(a, noise=e, steps=6), zoning.alignment_loss,
        a, noise, targets,
    )  # fmt: skip
    z_ref, g_ref = _latents_and_gradient(
        lambda a, e: bf.latents(a, e, steps=6), bf.alignment_loss, a.double(), noise.double(),
        targets,
    )  # fmt: skip
    assert (z - z_ref).abs().max() < 1e-5
    assert (g - g_ref).abs().max() <= 1e-4 * g_ref.abs().max()


def test_dispatch_follows_the_device_and_the_environment(monkeypatch):
    monkeypatch.delenv("LZN_KERNEL", raising=False)
    assert backend.kernel_for(torch.device("cpu")) == "torch"
    cuda = "triton" if backend.triton_available() else "torch"
    assert backend.kernel_for(torch.device("cuda")) == cuda
    monkeypatch.setenv("LZN_KERNEL", "torch")
    assert backend.kernel_for(torch.device("cuda")) == "torch"
    monkeypatch.setenv("LZN_KERNEL", "cuda")
    with pytest.raises(ValueError, match="LZN_KERNEL"):
        backend.kernel_for(torch.device("cpu"))


def test_both_kernels_give_the_float64_flow(kernel):
    """Latents and probabilities of float64 inputs equal the brute force to rounding, whichever
    implementation runs."""
    a = torch.randn(20, 5, dtype=torch.float64)
    noise, targets = torch.randn_like(a), torch.randperm(20)
    z = zoning.compute_latents(a, noise=noise, steps=5)
    assert (z - bf.latents(a, noise, steps=5)).abs().max() < 1e-10
    p = zoning.assignment_probabilities(z, a, targets, steps=5)
    _, p_ref = bf.forward_flow(z, a, targets, steps=5)
    assert (p - p_ref).abs().max() < 1e-12
