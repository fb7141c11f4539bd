"""lzn.zoning against an independent float64 brute force (tests/zoning/brute_force.py)."""

import pytest
import torch

from lzn import zoning
from lzn.zoning import precision
from tests.zoning import brute_force as bf


def random_anchors(n=96, q=32, dtype=torch.float32):
    return torch.randn(n, q, dtype=dtype)


def near_duplicates(n=96, q=200, separation=1e-4):
    """Pairs of anchors `separation` apart: the case where float32 distances fail."""
    a = torch.randn(n, q)
    a[1::2] = a[0::2] + separation * torch.randn(n // 2, q)
    return a


def far_anchors(n=64, q=32):
    """Anchors of norm ~100, clustered away from the origin."""
    return torch.randn(n, q) + 100.0 / q**0.5


def max_error(ours, reference):
    return (ours.double() - reference).abs().max().item()


@pytest.mark.parametrize("make", [random_anchors, near_duplicates, far_anchors])
def test_latents_and_end_points_match_float64(make):
    a = make()
    noise = torch.randn_like(a)
    z = zoning.compute_latents(a, noise=noise)
    assert z.dtype == torch.float32 and z.shape == a.shape
    assert max_error(z, bf.latents(a, noise)) < 1e-4
    end = zoning.flow_to_anchors(z, a)
    assert max_error(end, bf.forward_flow(z, a)[0]) < 1e-4


def test_near_duplicates_defeat_plain_float32(monkeypatch):
    """The case above is a real test: float32 distances everywhere are off by O(0.1)."""
    a = near_duplicates()
    noise = torch.randn_like(a)
    monkeypatch.setattr(precision, "LOGIT_TOLERANCE", float("inf"))
    assert max_error(zoning.compute_latents(a, noise=noise), bf.latents(a, noise)) > 1e-2


def test_float64_inputs_match_to_rounding():
    a = random_anchors(dtype=torch.float64)
    noise = torch.randn_like(a)
    z = zoning.compute_latents(a, noise=noise, alpha=0.45, g=1e-4, steps=15)
    assert z.dtype == torch.float64
    assert max_error(z, bf.latents(a, noise, alpha=0.45, g=1e-4, steps=15)) < 1e-10


def test_index_selects_latents_against_all_anchors():
    a = random_anchors()
    index = torch.tensor([5, 0, 77, 5])
    noise = torch.randn(4, a.shape[1])
    z = zoning.compute_latents(a, noise=noise, index=index)
    assert max_error(z, bf.latents(a, noise, index=index)) < 1e-4


def test_generator_makes_noise_reproducible():
    a = random_anchors()
    z1 = zoning.compute_latents(a, generator=torch.Generator().manual_seed(3))
    z2 = zoning.compute_latents(a, generator=torch.Generator().manual_seed(3))
    assert torch.equal(z1, z2)


def test_weighted_anchors_match_float64_and_tolerate_zero_weights():
    a = random_anchors(n=40, q=8) * 0.3  # close anchors: the weights matter
    weights = torch.rand(40)
    weights[::5] = 0.0  # "classes missing from the batch"
    noise = torch.randn_like(a)
    index = torch.nonzero(weights).squeeze(1)
    z = zoning.compute_latents(a, noise=noise[index], weights=weights, index=index)
    assert torch.isfinite(z).all()
    assert max_error(z, bf.latents(a, noise[index], weights=weights, index=index)) < 1e-4
    targets = index
    p = zoning.assignment_probabilities(z, a, targets, weights=weights)
    _, p_ref = bf.forward_flow(z, a, targets, weights=weights)
    assert torch.isfinite(p).all() and max_error(p, p_ref) < 1e-4
    assigned = zoning.assign(z, a, weights=weights, steps=50)
    assert bool((weights[assigned] > 0).all())


@pytest.mark.parametrize("make", [random_anchors, near_duplicates])
def test_assignment_probabilities_and_losses_match_float64(make):
    a = make()
    z = torch.randn_like(a)
    targets = torch.randperm(a.shape[0])
    p = zoning.assignment_probabilities(z, a, targets, steps=20)
    _, p_ref = bf.forward_flow(z, a, targets, steps=20)
    assert p.shape == (20, a.shape[0])
    # the target probabilities' bound: precision.TARGET_LOGIT_TOLERANCE = 1e-6
    assert max_error(p, p_ref) < 1e-6
    assert torch.allclose(p[0], torch.full_like(p[0], 1 / a.shape[0]))  # t = 0: the prior
    for log in (False, True):
        loss = zoning.alignment_loss(z, a, targets, cutoff=0.3, log=log)
        ref = bf.alignment_loss(z, a, targets, cutoff=0.3, log=log)
        # -mean(log P) of latents far from their targets is ~30: float32 holds it to ~2e-6
        assert loss.ndim == 0 and abs(loss.item() - ref.item()) < 1e-6 * max(1, abs(ref.item()))


def _gradients(fn, a, z, targets):
    a = a.clone().requires_grad_(True)
    z = z.clone().requires_grad_(True)
    latents = fn.latents(a, z)
    loss = fn.alignment_loss(latents, a, targets, log=True) + 0.01 * (latents**2).sum()
    loss.backward()
    return a.grad, z.grad


class Ours:
    latents = staticmethod(lambda a, noise: zoning.compute_latents(a, noise=noise))
    alignment_loss = staticmethod(zoning.alignment_loss)


class BruteForce:
    latents = staticmethod(lambda a, noise: bf.latents(a, noise))
    alignment_loss = staticmethod(bf.alignment_loss)


@pytest.mark.parametrize(
    ("dtype", "spread", "tolerance"),
    [(torch.float64, 1.0, 1e-9), (torch.float32, 1.0, 1e-3), (torch.float32, 0.05, 1e-3)],
)
def test_gradients_match_float64(dtype, spread, tolerance):
    """Gradients of latents + alignment w.r.t. anchors and noise, relative to their scale."""
    a = (torch.randn(64, 24) * spread).to(dtype)
    noise = torch.randn(64, 24, dtype=dtype)
    targets = torch.randperm(64)
    ours = _gradients(Ours, a, noise, targets)
    ref = _gradients(BruteForce, a.double(), noise.double(), targets)
    for g, r in zip(ours, ref, strict=True):
        assert g.dtype == dtype
        assert max_error(g, r) <= tolerance * r.abs().max().item()


def test_autocast_keeps_the_flow_in_float32():
    a = random_anchors()
    noise = torch.randn_like(a)
    expected = zoning.compute_latents(a, noise=noise)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = zoning.compute_latents(a, noise=noise)
        z_half = zoning.compute_latents(a.bfloat16(), noise=noise.bfloat16())
    assert z.dtype == torch.float32 and torch.allclose(z, expected, atol=1e-5)
    assert z_half.dtype == torch.float32 and torch.isfinite(z_half).all()


def test_a_class_missing_from_the_batch_gives_finite_loss_and_gradients():
    """Label anchors weighted by class frequencies in the batch (App. E.2), two classes absent."""
    label_anchors = torch.randn(10, 16, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 2, 4, 5, 6, 8, 9, 9, 1, 0])  # no 3, no 7
    weights = torch.bincount(labels, minlength=10).float() / len(labels)
    latents = torch.randn(len(labels), 16, requires_grad=True)
    loss = zoning.alignment_loss(latents, label_anchors, labels, steps=100, weights=weights)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(latents.grad).all() and torch.isfinite(label_anchors.grad).all()
    assert label_anchors.grad[[3, 7]].abs().max() == 0  # absent classes take no part
    ref = bf.alignment_loss(
        latents.detach(), label_anchors.detach(), labels, steps=100, weights=weights.double()
    )
    assert abs(loss.item() - ref.item()) < 1e-3
