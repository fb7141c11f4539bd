"""The properties the paper proves or relies on (section 2.2, App. A), checked numerically."""

import math

import pytest
import torch

from lzn import zoning
from lzn.zoning import DPMSolverPP, Euler


def test_latents_follow_the_gaussian_prior():
    """Over random anchors and noise, latents are N(0, I): mean 0 and covariance I."""
    n, q = 3000, 6
    anchors = torch.randn(n, q) * 2.0 + 3.0  # far from N(0, I) themselves
    z = zoning.compute_latents(anchors, solver="dpm++", generator=torch.Generator().manual_seed(1))
    # Sampling error of the mean is 1/sqrt(n) = 0.018, of a covariance entry about 0.026.
    assert z.mean(0).abs().max() < 4 / math.sqrt(n)
    cov = torch.cov(z.T)
    assert (cov - torch.eye(q)).abs().max() < 4 * math.sqrt(2 / n)


def test_round_trip_returns_to_its_own_anchor_more_often_with_more_steps():
    """Zones are disjoint: a latent's forward flow lands on the anchor it came from."""
    n, q = 256, 32
    anchors = torch.randn(n, q)
    own = torch.arange(n)
    hits = {}
    for steps in (5, 200):
        z = zoning.compute_latents(anchors, steps=steps, generator=torch.Generator().manual_seed(9))
        hits[steps] = (zoning.assign(z, anchors, steps=steps) == own).float().mean().item()
    assert hits[200] >= 0.98
    assert hits[5] < 0.5  # too few steps: the discretised flow crosses zones


@pytest.mark.parametrize("solver", ["euler", "dpm++"])
def test_theorem_1_probability_of_the_wrong_zone(solver):
    """Paper Theorem 1: anchors -1 and +1 in 1-D, P(latent of -1 lies in the zone of +1) =
    Phi((g - 1) / g). By symmetry the zone of +1 is z > 0; assign() must agree."""
    g, samples = 0.3, 100_000
    anchors = torch.tensor([[-1.0], [1.0]])
    z = zoning.compute_latents(
        anchors,
        index=torch.zeros(samples, dtype=torch.long),
        g=g,
        steps=40,
        solver=solver,
        generator=torch.Generator().manual_seed(7),
    )
    expected = 0.5 * math.erfc((1 - g) / g / math.sqrt(2))  # Phi((g - 1) / g) = 0.0098
    wrong = (zoning.assign(z, anchors, steps=40, solver=solver) == 1).double().mean().item()
    sigma = math.sqrt(expected * (1 - expected) / samples)
    assert abs(wrong - expected) < 4 * sigma
    assert wrong == (z[:, 0] > 0).double().mean().item()


def _latent_error(solver, steps, anchors, noise, reference):
    z = zoning.compute_latents(anchors, noise=noise, steps=steps, solver=solver)
    return (z - reference).norm(dim=1).mean().item()


def test_dpm_solver_is_more_accurate_than_euler_at_equal_steps():
    anchors = torch.randn(128, 16, dtype=torch.float64)
    noise = torch.randn_like(anchors)
    reference = zoning.compute_latents(anchors, noise=noise, steps=2000, solver="dpm++")
    for steps in (10, 20):
        errors = [
            _latent_error(s, steps, anchors, noise, reference)
            for s in ("euler", DPMSolverPP(2), DPMSolverPP(3))
        ]
        assert errors[0] > 2 * errors[1] > 2 * errors[2] > 0
    # And it converges faster: halving the step size divides the error by more than Euler's 2.
    e10, e40 = (_latent_error("dpm++", s, anchors, noise, reference) for s in (10, 40))
    assert e10 / e40 > 16


def test_first_order_dpm_solver_is_euler():
    anchors = torch.randn(50, 8, dtype=torch.float64)
    noise = torch.randn_like(anchors)
    z_euler = zoning.compute_latents(anchors, noise=noise, solver=Euler())
    z_dpm1 = zoning.compute_latents(anchors, noise=noise, solver=DPMSolverPP(1))
    assert torch.allclose(z_euler, z_dpm1, atol=1e-12)
    e_euler = zoning.flow_to_anchors(z_euler, anchors, solver="euler")
    e_dpm1 = zoning.flow_to_anchors(z_euler, anchors, solver="dpm++1")
    assert torch.allclose(e_euler, e_dpm1, atol=1e-12)


def test_alpha_zero_gives_the_zone_centre_and_alpha_scales_the_spread():
    anchors = torch.randn(256, 32)
    spread = {}
    for alpha in (0.0, 0.45, 1.0):
        z = zoning.compute_latents(anchors, alpha=alpha, generator=torch.Generator().manual_seed(5))
        spread[alpha] = z.norm(dim=1).mean().item() / math.sqrt(32)
    assert spread[0.0] < spread[0.45] < spread[1.0]


def test_alignment_loss_is_minus_the_best_late_probability():
    anchors = torch.randn(32, 4)
    z = zoning.compute_latents(anchors, generator=torch.Generator().manual_seed(5))
    targets = torch.arange(32)
    p = zoning.assignment_probabilities(z, anchors, targets, steps=10)
    for cutoff, first in ((0.0, 0), (0.2, 2), (0.55, 5)):
        best = p[first:].max(0).values
        loss = zoning.alignment_loss(z, anchors, targets, steps=10, cutoff=cutoff)
        log_loss = zoning.alignment_loss(z, anchors, targets, steps=10, cutoff=cutoff, log=True)
        assert torch.allclose(loss, -best.mean(), atol=1e-6)
        assert torch.allclose(log_loss, -best.log().mean(), atol=1e-5)
    # Own anchors are the right targets: the loss is lower than for shuffled targets.
    shuffled = torch.roll(targets, 1)
    assert zoning.alignment_loss(z, anchors, targets) < zoning.alignment_loss(z, anchors, shuffled)
