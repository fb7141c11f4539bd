"""The same float64 brute force, on CUDA (skipped where there is no GPU, as in CI)."""

import pytest
import torch

from lzn import presets, zoning
from tests.zoning import brute_force as bf
from tests.zoning.test_exactness import near_duplicates

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("matmul_precision", ["highest", "high"])  # "high" may use TF32
def test_latents_on_cuda_match_float64(matmul_precision):
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(matmul_precision)
    try:
        a = near_duplicates()
        noise = torch.randn_like(a)
        z_euler = zoning.compute_latents(a.cuda(), noise=noise.cuda())
        ref = bf.latents(a, noise)
        assert z_euler.is_cuda and (z_euler.cpu().double() - ref).abs().max() < 1e-4
        targets = torch.randperm(a.shape[0])
        p = zoning.assignment_probabilities(z_euler, a.cuda(), targets.cuda())
        _, p_ref = bf.forward_flow(z_euler.cpu(), a, targets)
        assert (p.cpu().double() - p_ref).abs().max() < 1e-3
    finally:
        torch.set_float32_matmul_precision(before)


def test_gradients_on_cuda_match_float64():
    a = torch.randn(64, 24)
    noise = torch.randn(64, 24)
    targets = torch.randperm(64)
    grads = []
    for device, latents, loss_fn in (
        ("cuda", lambda a, e: zoning.compute_latents(a, noise=e), zoning.alignment_loss),
        ("cpu", lambda a, e: bf.latents(a, e), bf.alignment_loss),
    ):
        x = (a.to(device) if device == "cuda" else a.double()).requires_grad_(True)
        e = noise.to(device) if device == "cuda" else noise.double()
        z = latents(x, e)
        t = targets.to(device)
        (loss_fn(z, x, t, log=True) + 0.01 * (z**2).sum()).backward()
        grads.append(x.grad.cpu().double())
    assert (grads[0] - grads[1]).abs().max() <= 1e-3 * grads[1].abs().max()


def test_autocast_on_cuda_keeps_the_flow_in_float32():
    a = torch.randn(128, 32, device="cuda")
    noise = torch.randn_like(a)
    expected = zoning.compute_latents(a, noise=noise)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        z = zoning.compute_latents(a, noise=noise)
    assert z.dtype == torch.float32 and torch.allclose(z, expected, atol=1e-5)


def test_a_tiny_model_runs_every_task_on_cuda():
    model = presets.build("digits-joint", tiny=True).cuda().eval()
    x = (torch.rand(4, 1, 8, 8, device="cuda") * 2 - 1).clamp(-1, 1)
    assert model.classify(x).is_cuda
    images = model.generate(4, torch.arange(4, device="cuda"), sampler="euler", steps=2)
    assert images.is_cuda and images.shape == x.shape


@pytest.mark.parametrize("kernel", ["torch", "triton"])
def test_each_kernel_on_cuda_matches_float64(kernel, monkeypatch):
    """Latents, late target probabilities (issue 15's twins) and gradients, on each path."""
    if kernel == "triton":
        pytest.importorskip("triton")
    monkeypatch.setenv("LZN_KERNEL", kernel)
    a = near_duplicates(n=64, q=48, separation=1e-3)  # 1e-4 twins: gradients ill-conditioned
    noise, targets = torch.randn_like(a), torch.randperm(64)
    x = a.cuda().requires_grad_(True)
    z = zoning.compute_latents(x, noise=noise.cuda())
    assert (z.cpu().double() - bf.latents(a, noise)).abs().max() < 1e-4
    p = zoning.assignment_probabilities(z, x, targets.cuda())
    _, p_ref = bf.forward_flow(z.detach().cpu(), a, targets)
    assert (p.detach().cpu().double() - p_ref).abs().max() < 1e-6
    zoning.alignment_loss(z, x, targets.cuda(), log=True).backward()
    x_ref = a.double().requires_grad_(True)
    bf.alignment_loss(bf.latents(x_ref, noise), x_ref, targets, log=True).backward()
    assert (x.grad.cpu().double() - x_ref.grad).abs().max() <= 1e-3 * x_ref.grad.abs().max()
