"""The latent flow written the way the official code writes it: a baseline to measure against.

It materialises the (m, n, q) tensor of differences s_i - t a_j at every evaluation and, like the
official Euler flow, recomputes each evaluation in backward with `torch.utils.checkpoint`. Exact
in float64 but O(m n q) memory per step: never use it for real work. `benchmarks/latent_flow.py`
runs it side by side with `lzn.zoning`; it plugs into the same solvers.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from lzn.zoning.flow import latent_grid
from lzn.zoning.flow_settings import DEFAULT_FLOW
from lzn.zoning.solvers import Solver, get_solver


def materialised_mean(s: Tensor, anchors: Tensor, log_weights: Tensor, t: float) -> Tensor:
    diff = s[:, None, :] - t * anchors[None, :, :]
    logits = log_weights[None, :] - diff.square().sum(-1) / (2.0 * (1.0 - t) ** 2)
    return torch.softmax(logits, dim=1) @ anchors


class MaterialisedField:
    def __init__(self, anchors: Tensor, log_weights: Tensor | None = None, *, checkpointed=True):
        self.anchors = anchors
        self.log_weights = (
            torch.zeros(anchors.shape[0], dtype=anchors.dtype, device=anchors.device)
            if log_weights is None
            else log_weights
        )
        self.checkpointed = checkpointed

    def __call__(self, s: Tensor, t: float) -> Tensor:
        s = s.to(self.anchors.dtype)
        if self.checkpointed and torch.is_grad_enabled():
            return checkpoint(
                materialised_mean, s, self.anchors, self.log_weights, t, use_reentrant=False
            )
        return materialised_mean(s, self.anchors, self.log_weights, t)


def compute_latents(
    anchors: Tensor,
    noise: Tensor,
    *,
    alpha: float = 1.0,
    g: float = DEFAULT_FLOW.g,
    steps: int = DEFAULT_FLOW.steps,
    solver: str | Solver = DEFAULT_FLOW.solver,
    index: Tensor | None = None,
) -> Tensor:
    own = anchors if index is None else anchors[index]
    start = (1.0 - g) * own + (g * alpha) * noise
    return get_solver(solver).integrate(MaterialisedField(anchors), start, latent_grid(g, steps))
