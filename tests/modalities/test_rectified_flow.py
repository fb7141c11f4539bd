"""Rectified-flow loss and samplers against analytic answers."""

import math

import pytest
import torch

from lzn.modalities import rectified_flow as rf

RATE = torch.tensor([0.5, 3.0, -2.0]).view(3, 1)


def velocity(x, t):
    """dx/dt = rate cos(t) x, so x(t) = x(0) exp(rate sin t): a different speed per sample."""
    return RATE * torch.cos(t).view(-1, 1) * x


def exact(t):
    return torch.exp(RATE * math.sin(t)).expand(3, 4)


x0 = torch.ones(3, 4, dtype=torch.float64)


def test_fixed_step_samplers_converge_at_their_order():
    errors = {}
    for sampler in ("euler", "heun"):
        for steps in (20, 40):
            x, nfe = rf.integrate(velocity, x0, 0.0, 1.0, sampler=sampler, steps=steps)
            assert nfe == steps * (2 if sampler == "heun" else 1)
            errors[sampler, steps] = (x - exact(1.0)).abs().max().item()
    assert 1.7 < errors["euler", 20] / errors["euler", 40] < 2.3  # first order
    assert 3.4 < errors["heun", 20] / errors["heun", 40] < 4.6  # second order


def test_rk45_meets_its_tolerance_and_inverts():
    x, nfe = rf.integrate(velocity, x0, 0.0, 1.0, sampler="rk45", rtol=1e-6, atol=1e-6)
    assert (x - exact(1.0)).abs().max() / exact(1.0).abs().max() < 1e-5
    back, _ = rf.integrate(velocity, x, 1.0, 0.0, sampler="rk45", rtol=1e-6, atol=1e-6)
    assert (back - x0).abs().max() < 1e-5
    assert nfe < 200


def test_rk45_controls_error_per_sample():
    """A sample's result does not depend on its batch-mates (the official sampler's does)."""
    alone, _ = rf.integrate(lambda x, t: RATE[:1] * torch.cos(t).view(-1, 1) * x, x0[:1], 0.0, 1.0)
    batch, _ = rf.integrate(velocity, x0, 0.0, 1.0)
    assert torch.equal(alone, batch[:1])


def test_loss_is_zero_for_the_true_velocity_of_a_single_point():
    """With one data point x1 and fixed noise x0, the straight path has velocity x1 - x0."""
    x1 = torch.randn(4, 1, 2, 2)
    noise = torch.randn(4, 1, 2, 2)
    v_true = lambda x, t: x1 - noise  # noqa: E731
    assert rf.loss(v_true, x1, noise=noise).item() == 0.0
    assert rf.loss(lambda x, t: torch.zeros_like(x), x1, noise=noise) > 0


def test_unknown_sampler_and_bad_steps():
    with pytest.raises(ValueError, match="unknown sampler 'dopri'"):
        rf.integrate(velocity, x0, 0.0, 1.0, sampler="dopri")
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        rf.integrate(velocity, x0, 0.0, 1.0, sampler="euler", steps=0)


def test_rk45_stops_on_a_non_finite_velocity():
    with pytest.raises(FloatingPointError, match="NaN or inf"):
        rf.integrate(lambda x, t: x * float("nan"), x0, 0.0, 1.0)


def test_rk45_stops_at_its_evaluation_cap_with_the_remedy():
    """A stiff field (relaxation rate 1e6) holds explicit steps near 3e-6: without a cap RK45
    would take about a million evaluations."""
    stiff = lambda x, t: -1e6 * (x - torch.cos(t).view(-1, 1))  # noqa: E731
    with pytest.raises(rf.EvaluationCapError) as raised:
        rf.integrate(stiff, x0, 0.0, 1.0)
    message = str(raised.value)
    assert f"cap of {rf.MAX_EVALUATIONS} velocity evaluations" in message
    t = float(message.split("at t = ")[1].split(" ")[0])
    assert 0.0 < t < 0.01  # how far it got
    assert "'euler' or 'heun'" in message and "raise max_evaluations" in message
    with pytest.raises(rf.EvaluationCapError, match="cap of 50 velocity"):
        rf.integrate(stiff, x0, 0.0, 1.0, max_evaluations=50)


def test_the_evaluation_cap_leaves_a_normal_field_alone():
    x, nfe = rf.integrate(velocity, x0, 0.0, 1.0)
    assert nfe < rf.MAX_EVALUATIONS
    at_cap, same = rf.integrate(velocity, x0, 0.0, 1.0, max_evaluations=nfe)
    assert torch.equal(at_cap, x) and same == nfe
    with pytest.raises(rf.EvaluationCapError, match=f"cap of {nfe - 1} "):
        rf.integrate(velocity, x0, 0.0, 1.0, max_evaluations=nfe - 1)
    with pytest.raises(ValueError, match="max_evaluations must be an integer >= 7"):
        rf.integrate(velocity, x0, 0.0, 1.0, max_evaluations=6)
