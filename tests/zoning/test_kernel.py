"""The blocked posterior kernel: exact, block-independent, and light on autograd memory."""

import pytest
import torch

from lzn import zoning
from lzn.zoning.kernel import nearest_anchor, posterior
from tests.zoning import brute_force as bf


def _inputs(m=37, n=53, q=6, zero_weights=True):
    s = torch.randn(m, q, dtype=torch.float64)
    a = torch.randn(n, q, dtype=torch.float64)
    w = torch.rand(n, dtype=torch.float64)
    if zero_weights:
        w[:20] = 0.0  # whole blocks of anchors with weight zero
    return s, a, w


@pytest.mark.parametrize("t", [0.0, 0.3, 0.97])
def test_posterior_matches_brute_force(t):
    s, a, w = _inputs()
    mean, lse = posterior(s, a, w.log(), t)
    weights = bf.posterior_weights(s, a, t, w)
    assert torch.allclose(mean, weights @ a, atol=1e-12)
    logits = w.log()[None, :] - ((s[:, None] - t * a[None]) ** 2).sum(-1) / (2 * (1 - t) ** 2)
    assert torch.allclose(lse, torch.logsumexp(logits, 1), atol=1e-10)


def test_posterior_gradients_equal_plain_autograd():
    """The recomputing backward (the checkpointing) gives the gradients of the plain formula."""
    s, a, w = _inputs()
    log_w = w.log().clamp(min=-50.0)  # autograd of the plain formula needs finite log-weights
    t = 0.8

    def plain(s, a, log_w):
        logits = log_w[None, :] - ((s[:, None] - t * a[None]) ** 2).sum(-1) / (2 * (1 - t) ** 2)
        return torch.softmax(logits, 1) @ a, torch.logsumexp(logits, 1)

    g_mean, g_lse = torch.randn(37, 6, dtype=torch.float64), torch.randn(37, dtype=torch.float64)
    grads = []
    for fn in (lambda *x: posterior(*x, t), plain):
        inputs = [x.clone().requires_grad_(True) for x in (s, a, log_w)]
        mean, lse = fn(*inputs)
        torch.autograd.backward((mean, lse), (g_mean, g_lse))
        grads.append([x.grad for x in inputs])
    for ours, ref in zip(*grads, strict=True):
        assert torch.allclose(ours, ref, atol=1e-10, rtol=1e-9)


def test_backward_inside_autocast_keeps_full_precision():
    """Lightning's bf16-mixed calls backward inside autocast: the gradients of the latents must
    be those computed without it (the flow never runs in half precision)."""
    anchors = torch.randn(40, 8)

    def grad(autocast: bool):
        a = anchors.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            z = zoning.compute_latents(a, noise=torch.ones(40, 8), steps=5)
            z.square().sum().backward()
        return a.grad

    assert torch.allclose(grad(True), grad(False), atol=1e-6)


def test_posterior_passes_gradcheck():
    s, a, w = _inputs(m=5, n=7, q=3, zero_weights=False)
    inputs = [x.requires_grad_(True) for x in (s, a, w.log())]
    assert torch.autograd.gradcheck(lambda *x: posterior(*x, 0.6), inputs)


@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (7, 5), (16, 53), (37, 8)])
def test_blocks_do_not_change_results(rows, cols):
    s, a, w = _inputs()
    whole = [x.clone().requires_grad_(True) for x in (s, a)]
    mean, lse = posterior(whole[0], whole[1], w.log(), 0.9)
    (mean.sum() + lse.sum()).backward()
    blocked = [x.clone().requires_grad_(True) for x in (s, a)]
    with zoning.block_sizes(queries=rows, anchors=cols):
        mean_b, lse_b = posterior(blocked[0], blocked[1], w.log(), 0.9)
        (mean_b.sum() + lse_b.sum()).backward()
    assert torch.allclose(mean, mean_b, atol=1e-12) and torch.allclose(lse, lse_b, atol=1e-12)
    for x, y in zip(whole, blocked, strict=True):
        assert torch.allclose(x.grad, y.grad, atol=1e-10)


def test_blocked_flow_equals_unblocked_flow():
    a = torch.randn(70, 10)
    noise = torch.randn_like(a)
    targets = torch.randperm(70)
    z = zoning.compute_latents(a, noise=noise, solver="dpm++")
    loss = zoning.alignment_loss(z, a, targets)
    with zoning.block_sizes(queries=9, anchors=16):
        z_b = zoning.compute_latents(a, noise=noise, solver="dpm++")
        loss_b = zoning.alignment_loss(z_b, a, targets)
    assert torch.allclose(z, z_b, atol=1e-5) and abs(loss.item() - loss_b.item()) < 1e-6


def test_autograd_keeps_only_the_trajectory():
    """Saved tensors grow as O((m + n) q r), never with m * n: the paper's custom checkpointing."""
    m = n = 600
    q, steps = 4, 10
    a = torch.randn(n, q, requires_grad=True)
    saved = []

    def pack(x):
        saved.append(x.numel() * x.element_size())
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        z = zoning.compute_latents(a, steps=steps)
        zoning.alignment_loss(z, a, torch.arange(n), steps=steps)
    trajectory_bytes = 8 * (m + n) * q * 2 * steps  # float64 states over both flows
    assert sum(saved) < 6 * trajectory_bytes
    assert sum(saved) < 0.1 * m * n * 4 * steps  # far below one (m, n) float32 matrix per step


def test_nearest_anchor_orders_near_duplicates_and_skips_zero_weights():
    a = torch.zeros(3, 100)
    a[1, 0] = 1e-6
    a[2, 0] = 5.0
    points = torch.zeros(2, 100)
    points[0, 0] = 0.9e-6  # nearer to anchor 1 than to anchor 0
    points[1, 0] = 1e-6
    assert nearest_anchor(points, a, torch.zeros(3)).tolist() == [1, 1]
    log_w = torch.tensor([0.0, -torch.inf, 0.0])
    assert nearest_anchor(points, a, log_w).tolist() == [0, 0]
