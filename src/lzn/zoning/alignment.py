"""Latent alignment (paper section 2.2.2, eq. 2 and 5): make latents land in their targets' zones.

The loss follows each latent's forward flow through the zones of `anchors` and scores, at every
step, the soft assignment P(a_target | s_t). The first `int(steps * cutoff)` steps are dropped
(early in the flow the assignment is near the prior and gives no signal), the best remaining step
counts (it saturates at 1 once the latent reaches its target), and the loss is -mean(max P), or
-mean(max log P) with `log=True`, the cross-entropy-like form of case study 2.
"""

from __future__ import annotations

from torch import Tensor

from lzn.zoning import validation as check
from lzn.zoning.flow import target_log_probabilities
from lzn.zoning.flow_settings import DEFAULT_FLOW, FlowSettings, resolve
from lzn.zoning.solvers import Solver


def alignment_loss(
    latents: Tensor,
    anchors: Tensor,
    targets: Tensor,
    *,
    steps: int | None = None,
    solver: str | Solver | None = None,
    flow: FlowSettings = DEFAULT_FLOW,
    cutoff: float = 0.2,
    log: bool = False,
    weights: Tensor | None = None,
) -> Tensor:
    """Scalar loss aligning `latents` (m, q) to `anchors[targets]` in the zones of `anchors`,
    along the forward flow that `flow` (or `steps`, `solver` overriding it) integrates."""
    flow = resolve(flow, solver=solver, steps=steps)
    check.in_range("cutoff", cutoff, 0.0, 1.0)
    first = int(flow.steps * cutoff)
    log_p = target_log_probabilities(latents, anchors, targets, flow=flow, weights=weights)
    best = log_p[first:].amax(0)
    return -(best if log else best.exp()).mean()
