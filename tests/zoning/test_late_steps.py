"""Target probabilities late in the flow, between near-twin anchors, within 1e-6 of float64.

The alignment loss takes the max of P(target | s_t) over steps; between twins P is near 1/2 at
several late steps, so an error of 1e-4 there (the float32 expansion's) picks another step than
float64 does, and the gradient is that step's. Both implementations must get P right to 1e-6.
"""

import pytest
import torch

from lzn import zoning
from tests.zoning import brute_force as bf


def twins(separation=1e-3, q=8, seed=5):
    """Issue 15's example: 24 pairs of anchors `separation` apart, 16 latents, random targets."""
    torch.manual_seed(seed)
    a = torch.randn(48, q) * 2
    a[1::2] = a[0::2] + separation * torch.randn_like(a[0::2])
    torch.randn(48, q)  # drawn, unused: keeps the issue's random stream
    return torch.randn(16, q), a, torch.randint(0, 48, (16,))


def test_the_issue_example_gives_float64_probabilities_and_gradients(kernel):
    latents, a, targets = twins()
    p = zoning.assignment_probabilities(latents, a, targets, steps=10)
    _, p_ref = bf.forward_flow(latents, a, targets, steps=10)
    assert abs(p_ref[9, 10].item() - 0.4999182) < 1e-7  # latent 10 between targets 42 and 43
    assert (p.double() - p_ref).abs().max() < 1e-6

    def gradients(latents, a, loss_fn, **kw):
        latents, a = latents.clone().requires_grad_(True), a.clone().requires_grad_(True)
        loss_fn(latents, a, targets, steps=10, cutoff=0.2, log=True, **kw).backward()
        return latents.grad.double(), a.grad.double()

    ours = gradients(latents, a, zoning.alignment_loss, solver="euler")
    ref = gradients(latents.double(), a.double(), bf.alignment_loss)
    for g, r in zip(ours, ref, strict=True):  # the wrong step's gradient was 298% off
        assert (g - r).abs().max() <= 1e-5 * r.abs().max()


@pytest.mark.parametrize("q", [8, 48])
@pytest.mark.parametrize("separation", [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6])
def test_probabilities_match_float64_for_any_twin_distance(kernel, separation, q):
    latents, a, targets = twins(separation, q)
    p = zoning.assignment_probabilities(latents, a, targets, steps=10)
    _, p_ref = bf.forward_flow(latents, a, targets, steps=10)
    assert (p.double() - p_ref).abs().max() < 1e-6
