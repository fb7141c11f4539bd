"""LZN's self-supervised loss as a component any backbone can use (case study 2, paper Alg. 5).

    head = ProjectionHead(128, 256, 64)                 # backbone features -> anchors
    loss_fn = LatentAlignmentLoss()                     # the paper's settings
    loss = loss_fn(head(backbone(view1)), head(backbone(view2)))

`LatentAlignmentLoss(query, key)` takes the anchors (b, q) of two views of the same b samples. The
latents of the query view are computed in the zones of the query anchors (noise scaled by
`alpha`), then aligned to the zones of the key anchors, sample i's target being anchor i
(`lzn.zoning.alignment_loss`). There are no negatives, memory bank or momentum encoder: distinct
samples get disjoint zones by construction. `symmetric=True` averages both directions. With
`gather_distributed` (the default) the anchors of every process are gathered with their gradients
(`lzn.zoning.gather_anchors`), so a DDP run computes the loss of the global batch.

Defaults are the paper's case-study-2 settings (the official code's where the paper is silent):
alpha 0.45, the flow `ALIGNMENT_FLOW` (Euler, 20 steps, g 1e-4), cutoff 0.2, the log form.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lzn import zoning
from lzn.nets.heads import ProjectionHead
from lzn.zoning.flow_settings import FlowSettings, resolve

__all__ = ["ALIGNMENT_FLOW", "LatentAlignmentLoss", "ProjectionHead"]

# The latent flow of case study 2: Euler, 20 steps, g = 1e-4 (code); its noise scale alpha and
# the share of first steps left out of the loss (paper App. D; the recipes' defaults too).
ALIGNMENT_FLOW = FlowSettings(solver="euler", steps=20, g=1e-4)
ALIGNMENT_ALPHA, ALIGNMENT_CUTOFF = 0.45, 0.2


class LatentAlignmentLoss(nn.Module):
    def __init__(
        self, *, alpha: float = ALIGNMENT_ALPHA, flow: FlowSettings = ALIGNMENT_FLOW,
        solver: str | None = None, steps: int | None = None, g: float | None = None,
        cutoff: float = ALIGNMENT_CUTOFF, log: bool = True, symmetric: bool = False,
        gather_distributed: bool = True,
    ):  # fmt: skip
        """flow: the latent flow of both latent computation and alignment; solver, steps, g
        override its fields."""
        super().__init__()
        if alpha < 0:
            raise ValueError(f"alpha must be non-negative, got {alpha}")
        self.alpha, self.flow = alpha, resolve(flow, solver=solver, steps=steps, g=g)
        self.cutoff, self.log, self.symmetric = cutoff, log, symmetric
        self.gather_distributed = gather_distributed

    def extra_repr(self) -> str:
        flow = self.flow
        return (
            f"alpha={self.alpha}, solver={flow.solver!r}, steps={flow.steps}, g={flow.g}, "
            f"cutoff={self.cutoff}, log={self.log}, symmetric={self.symmetric}"
        )

    def forward(self, query: Tensor, key: Tensor) -> Tensor:
        """Scalar loss for the anchors (b, q) of two views of the same b samples."""
        if query.ndim != 2 or query.shape != key.shape:
            raise ValueError(
                f"query and key must be anchors of the same shape (b, q), got "
                f"{tuple(query.shape)} and {tuple(key.shape)}"
            )
        queries, index = self._gather(query)
        keys, _ = self._gather(key)
        loss = self._align(queries, keys, index)
        if self.symmetric:
            loss = (loss + self._align(keys, queries, index)) / 2
        return loss

    def _gather(self, anchors: Tensor) -> tuple[Tensor, Tensor]:
        if self.gather_distributed:
            return zoning.gather_anchors(anchors)
        return anchors, torch.arange(len(anchors), device=anchors.device)

    def _align(self, queries: Tensor, keys: Tensor, index: Tensor) -> Tensor:
        latents = zoning.compute_latents(queries, index=index, alpha=self.alpha, flow=self.flow)
        return zoning.alignment_loss(
            latents, keys, index, flow=self.flow, cutoff=self.cutoff, log=self.log
        )
