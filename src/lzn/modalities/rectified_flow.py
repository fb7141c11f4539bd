"""Rectified flow between image noise (t = 0) and images (t = 1): loss, samplers, inversion.

x_t = t x_1 + (1 - t) x_0 with x_0 ~ N(0, I); the network regresses the velocity x_1 - x_0. Time
starts at T_MIN = 1e-3 rather than 0, as rectified flow trains and samples (the network never
sees t = 0). `integrate` runs the ODE either way: towards the data (sampling) or back to the
noise (inversion, for the paper's reconstruction).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import Tensor

from lzn import rng
from lzn.integrators import SAMPLERS, Integrator

Velocity = Callable[[Tensor, Tensor], Tensor]  # (x (b, ...), t (b,)) -> velocity (b, ...)

T_MIN = 1e-3
# RK45's cap on velocity evaluations per sample. A trained rectified flow needs about 100-300 at
# rtol = atol = 1e-5; a field that makes the adaptive steps collapse would otherwise run for hours.
MAX_EVALUATIONS = 1000
_RK45_STAGES = 6  # evaluations per RK45 step after the first (first same as last)


class EvaluationCapError(RuntimeError):
    """RK45 used its evaluations per sample before reaching the end time.

    A RuntimeError: the arguments were valid, the integration failed on the field it was given
    (torchdiffeq's max_num_steps reports the same way); a ValueError would blame the input."""


def loss(
    velocity: Velocity,
    images: Tensor,
    *,
    noise: Tensor | None = None,
    t: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per-sample mean squared error of the velocity, averaged over the batch (t ~ U[T_MIN, 1])."""
    b = images.shape[0]
    if noise is None:
        noise = rng.randn(*images.shape, generator=generator, device=images.device)
    if t is None:
        t = T_MIN + (1 - T_MIN) * rng.rand(b, generator=generator, device=images.device)
    tb = t.view(b, *[1] * (images.ndim - 1))
    x_t = tb * images + (1 - tb) * noise
    err = (velocity(x_t, t) - (images - noise)).square()
    return err.flatten(1).mean(1).mean()


Progress = Callable[[float], None]  # the fraction of [t0, t1] covered, after every step


def _fixed_steps(
    velocity: Velocity, x: Tensor, t0: float, t1: float, steps: int, heun: bool,
    progress: Progress | None,
):  # fmt: skip
    times = torch.linspace(t0, t1, steps + 1).tolist()
    b = x.shape[0]
    for k, (a, c) in enumerate(itertools.pairwise(times)):
        if progress is not None:
            progress(k / steps)
        h = c - a
        v = velocity(x, x.new_full((b,), a))
        if heun:
            v_next = velocity(x + h * v, x.new_full((b,), c))
            v = (v + v_next) / 2
        x = x + h * v
    return x, steps * (2 if heun else 1)


# Dormand-Prince 5(4) tableau.
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)


def _rk45(
    velocity: Velocity,
    x: Tensor,
    t0: float,
    t1: float,
    rtol: float,
    atol: float,
    max_evaluations: int,
    progress: Progress | None,
):
    """Adaptive Dormand-Prince with a step size and error control per sample: a sample's steps do
    not depend on its batch-mates (the official sampler integrates the batch as one ODE). Every
    evaluation covers the whole batch, so the count is that of the sample needing the most."""
    b = x.shape[0]
    shape = (b, *[1] * (x.ndim - 1))
    direction = 1.0 if t1 >= t0 else -1.0
    t = x.new_full((b,), t0, dtype=torch.float64)
    h = x.new_full((b,), 0.01 * abs(t1 - t0), dtype=torch.float64)
    k1 = velocity(x, t.to(x.dtype))
    evaluations = 1
    while True:
        left = (t1 - t) * direction
        active = left > 1e-12
        if progress is not None:
            progress(1.0 - float(left.max().clamp_min(0)) / abs(t1 - t0))
        if not bool(active.any()):
            return x, evaluations
        if evaluations + _RK45_STAGES > max_evaluations:
            behind = t[active][((t1 - t[active]) * direction).argmax()].item()
            raise EvaluationCapError(
                f"RK45 reached its cap of {max_evaluations} velocity evaluations per sample at "
                f"t = {behind:.6g} (integrating from t = {t0:g} to {t1:g}, rtol={rtol:g}, "
                f"atol={atol:g}): the field makes the adaptive steps collapse. Use sampler "
                f"'euler' or 'heun' (fixed steps) or raise max_evaluations"
            )
        step = torch.minimum(h, left) * direction * active  # finished samples stand still
        ks = [k1]
        for i in range(1, 7):
            xi = x + sum(a * k for a, k in zip(_A[i], ks, strict=True)) * step.view(shape).to(
                x.dtype
            )
            ks.append(velocity(xi, (t + _C[i] * step).to(x.dtype)))
        evaluations += _RK45_STAGES
        x_new = xi  # the 7th stage point is the 5th-order solution (first same as last)
        err = sum(e * k for e, k in zip(_E, ks, strict=True)) * step.view(shape).to(x.dtype)
        scale = atol + rtol * torch.maximum(x.abs(), x_new.abs())
        err_norm = (err / scale).flatten(1).square().mean(1).sqrt().double()
        if not bool(torch.isfinite(err_norm[active]).all()):
            raise FloatingPointError("the velocity returned NaN or inf during RK45 integration")
        accept = active & (err_norm <= 1.0)
        a = accept.view(shape)
        x = torch.where(a, x_new, x)
        k1 = torch.where(a, ks[6], k1)
        t = torch.where(accept, t + step, t)
        factor = (0.9 * err_norm.clamp_min(1e-10) ** -0.2).clamp(0.2, 10.0)
        h = torch.where(active, h * factor, h)


def integrate(
    velocity: Velocity,
    x: Tensor,
    t0: float,
    t1: float,
    *,
    sampler: str = "rk45",
    steps: int = 20,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_evaluations: int = MAX_EVALUATIONS,
    progress: Progress | None = None,
) -> tuple[Tensor, int]:
    """Solve dx/dt = velocity(x, t) from t0 to t1; returns x(t1) and the number of evaluations.

    sampler: "euler" or "heun" (`steps` fixed steps) or "rk45" (adaptive, `rtol` / `atol`, at
    most `max_evaluations` velocity evaluations per sample, else `EvaluationCapError`), or their
    torchdiffeq names "heun2" and "dopri5" (`lzn.integrators.SAMPLERS`).
    `progress`, if given, is called before every step with the fraction of the time span that the
    slowest sample has covered (1.0 at the end).
    """
    method = check_sampler(sampler, steps)
    if method.name == "rk45":
        if not isinstance(max_evaluations, int) or max_evaluations < 1 + _RK45_STAGES:
            raise ValueError(
                f"max_evaluations must be an integer >= {1 + _RK45_STAGES} (one RK45 step), "
                f"got {max_evaluations!r}"
            )
        return _rk45(velocity, x, t0, t1, rtol, atol, max_evaluations, progress)
    x, evaluations = _fixed_steps(velocity, x, t0, t1, steps, method.name == "heun", progress)
    if progress is not None:
        progress(1.0)
    return x, evaluations


def check_sampler(sampler: str, steps: int) -> Integrator:
    """The sampler that `sampler` names, or a ValueError (that lists the valid names, or says
    that a sampler with a step count needs a positive one)."""
    method = SAMPLERS.lookup(sampler)
    if method.takes_steps and (not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    return method
