"""Latent computation and the flow back to the anchors (paper section 2.2).

Time runs from t = 0 (the Gaussian N(0, I)) to t = 1 (the anchors). Between them lies the flow
whose marginal at t is the mixture sum_j pi_j N(t a_j, (1-t)^2 I):

- `compute_latents` starts every sample just off its anchor, at t = 1 - g from
  (1 - g) a_i + g alpha eps_i, and integrates back to t = 0: the sample's latent, a point of its
  zone (paper eq. 1 and 4). Over random anchors and noise, latents are N(0, I).
- `flow_to_anchors` integrates latents forward from t = 0 to t = 1 and lands on (near) the anchor
  whose zone holds them; `assign` names that anchor.
- `assignment_probabilities` is the soft assignment P(a_target | s_t) along that forward flow.

Latents depend on the whole anchor set: a sample's zone depends on its batch-mates.

Each function integrates with `flow=` (a `FlowSettings`: solver, steps, g; its defaults when not
given), whose fields the `solver=`, `steps=` and `g=` keywords override. g only sets where
`compute_latents` starts: the forward flow takes no g.

The state of every trajectory is carried in float64, whatever the input dtype: near the anchors a
latent is (1 - g) a + g eps, and float32 would round away eps to a relative 1e-7 |a| / g (the
backward flow then amplifies that by 1/g). It costs O(m q) per step; the O(m n q) work runs in
float32 wherever `lzn.zoning.precision` allows. Results come back in the anchors' dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lzn import rng
from lzn.zoning import validation as check
from lzn.zoning.field import AnchorField
from lzn.zoning.flow_settings import DEFAULT_FLOW, FlowSettings, resolve
from lzn.zoning.kernel import nearest_anchor
from lzn.zoning.solvers import Solver, get_solver


def latent_grid(g: float, steps: int) -> list[float]:
    """t_k = (1 - g)(1 - k / steps), k = 0..steps: from next to the anchors down to the Gaussian."""
    return [(1.0 - g) * (1.0 - k / steps) for k in range(steps + 1)]


def anchor_grid(steps: int) -> list[float]:
    """t_k = k / steps, k = 0..steps: from the Gaussian to the anchors (t = 1 is not evaluated)."""
    return [k / steps for k in range(steps + 1)]


def _state(x: Tensor) -> Tensor:
    return x.to(torch.float64)


def _prepare(anchors: Tensor, weights: Tensor | None, **others: Tensor | None):
    """Check the anchors, weights and the tensors given with them; promote half to float32."""
    check.points("anchors", anchors)
    check.same_kind(anchors=anchors, **others)
    dtype = check.flow_dtype(anchors)
    anchors = anchors.to(dtype)
    return anchors, check.log_weights(weights, anchors.shape[0], anchors)


def compute_latents(
    anchors: Tensor,
    *,
    noise: Tensor | None = None,
    alpha: float = 1.0,
    g: float | None = None,
    steps: int | None = None,
    solver: str | Solver | None = None,
    flow: FlowSettings = DEFAULT_FLOW,
    weights: Tensor | None = None,
    index: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Latents (m, q) of the samples whose anchors are `anchors[index]` (default: all n).

    anchors: (n, q), the whole (gathered) anchor set that defines the zones.
    noise: (m, q) standard normal noise eps; drawn with `generator` when None.
    alpha: noise scale; alpha < 1 concentrates latents towards zone centres (alpha = 0: centre).
    flow: the integrator settings (`FlowSettings`); g, steps, solver: override its fields.
    weights: (n,) non-negative mixture weights over anchors (uniform when None).
    Differentiable with respect to anchors and noise.
    """
    flow = resolve(flow, solver=solver, steps=steps, g=g)
    check.in_range("alpha", alpha, 0.0, float("inf"))
    anchors, log_w = _prepare(anchors, weights, noise=noise)
    idx = check.index(index, anchors.shape[0], anchors.device)
    if noise is None:
        noise = rng.randn(
            idx.shape[0], anchors.shape[1], generator=generator, device=anchors.device
        ).to(anchors.dtype)
    else:
        check.points("noise", noise, anchors.shape[1])
        if noise.shape[0] != idx.shape[0]:
            raise ValueError(
                f"noise has {noise.shape[0]} rows, but {idx.shape[0]} latents are computed"
                " (one row of noise per selected anchor)"
            )
        noise = noise.to(anchors.dtype)
    start = (1.0 - flow.g) * _state(anchors[idx]) + (flow.g * alpha) * _state(noise)
    field = AnchorField(anchors, log_w)
    times = latent_grid(flow.g, flow.steps)
    return get_solver(flow.solver).integrate(field, start, times).to(anchors.dtype)


def _forward_flow(
    latents: Tensor,
    anchors: Tensor,
    flow: FlowSettings,
    weights: Tensor | None,
    targets: Tensor | None = None,
) -> tuple[Tensor, AnchorField, Tensor]:
    anchors, log_w = _prepare(anchors, weights, latents=latents)
    check.points("latents", latents, anchors.shape[1])
    if targets is not None:
        targets = check.labels("targets", targets, anchors.shape[0], anchors.device)
        if targets.shape[0] != latents.shape[0]:
            raise ValueError(
                f"targets has {targets.shape[0]} entries, latents has {latents.shape[0]} rows"
            )
        if bool(torch.isinf(log_w[targets]).any()):
            raise ValueError("a target anchor has weight 0: its probability is 0 everywhere")
    field = AnchorField(anchors, log_w, targets)
    end = get_solver(flow.solver).integrate(field, _state(latents), anchor_grid(flow.steps))
    return end.to(anchors.dtype), field, log_w


def flow_to_anchors(
    latents: Tensor,
    anchors: Tensor,
    *,
    steps: int | None = None,
    solver: str | Solver | None = None,
    flow: FlowSettings = DEFAULT_FLOW,
    weights: Tensor | None = None,
) -> Tensor:
    """End points (m, q) of the flow from t = 0 (latents) to t = 1 (near the anchors)."""
    flow = resolve(flow, solver=solver, steps=steps)
    return _forward_flow(latents, anchors, flow, weights)[0]


def assign(
    latents: Tensor,
    anchors: Tensor,
    *,
    steps: int | None = None,
    solver: str | Solver | None = None,
    flow: FlowSettings = DEFAULT_FLOW,
    weights: Tensor | None = None,
) -> Tensor:
    """Index (m,) of the anchor whose zone holds each latent: the nearest anchor (of positive
    weight) to the end of its flow."""
    flow = resolve(flow, solver=solver, steps=steps)
    with torch.no_grad():
        end, _, log_w = _forward_flow(latents, anchors, flow, weights)
        return nearest_anchor(end, anchors, log_w)


def target_log_probabilities(
    latents: Tensor,
    anchors: Tensor,
    targets: Tensor,
    *,
    steps: int | None = None,
    solver: str | Solver | None = None,
    flow: FlowSettings = DEFAULT_FLOW,
    weights: Tensor | None = None,
) -> Tensor:
    """log P(a_target | s_t) (steps, m) at t_0 .. t_{steps-1} of the forward flow."""
    flow = resolve(flow, solver=solver, steps=steps)
    _, field, _ = _forward_flow(latents, anchors, flow, weights, targets)
    return torch.stack(field.target_log_probs)


def assignment_probabilities(
    latents: Tensor,
    anchors: Tensor,
    targets: Tensor,
    *,
    steps: int | None = None,
    solver: str | Solver | None = None,
    flow: FlowSettings = DEFAULT_FLOW,
    weights: Tensor | None = None,
) -> Tensor:
    """P(a_target | s_t) (steps, m): the soft assignment of each latent's flow to its target anchor,
    at the start of every step (t_k = k / steps); row 0 is the prior weight of the target."""
    flow = resolve(flow, solver=solver, steps=steps)
    return target_log_probabilities(latents, anchors, targets, flow=flow, weights=weights).exp()
