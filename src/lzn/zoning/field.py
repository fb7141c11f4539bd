"""The flow field of a set of anchors, as the solvers see it: a data prediction mean(s, t).

`AnchorField` picks the implementation (`lzn.zoning.backend`) and the precision of every
evaluation, keeps the flow out of autocast, and, when given targets, records log P(target | s_t)
at every evaluation: the soft assignment of the paper's latent alignment, computed from the same
logsumexp. The PyTorch path computes a step in float64 where its float32 expansion is too coarse
(`lzn.zoning.precision`, with the tighter tolerance when targets are recorded); the Triton kernel
takes the float64 state as it is, as its distances are exact, and float64 anchors only where the
float32 mean would be too coarse (the trajectory's tolerance).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lzn.zoning import precision
from lzn.zoning.backend import kernel_for, posterior


class AnchorField:
    def __init__(self, anchors: Tensor, log_weights: Tensor, targets: Tensor | None = None):
        self.anchors = anchors
        self.log_weights = log_weights
        self.targets = targets
        self.target_log_probs: list[Tensor] = []
        self._anchor_norm = float(anchors.detach().norm(dim=1).max())
        self._by_dtype: dict[torch.dtype, tuple[Tensor, Tensor]] = {}
        # Anchors of weight zero take no part in the flow: leave them out of the kernel.
        active = torch.isfinite(log_weights)
        self._active = None if bool(active.all()) else active

    def _anchors_in(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        # One differentiable cast per trajectory, not one per step.
        if dtype not in self._by_dtype:
            anchors, log_w = self.anchors.to(dtype), self.log_weights.to(dtype)
            if self._active is not None:
                anchors, log_w = anchors[self._active], log_w[self._active]
            self._by_dtype[dtype] = (anchors, log_w)
        return self._by_dtype[dtype]

    @staticmethod
    def _query_norm(s: Tensor) -> float:
        return float(s.detach().norm(dim=1).max())

    def _step_dtypes(self, s: Tensor, t: float) -> tuple[torch.dtype, torch.dtype]:
        """(dtype of the points, dtype of the anchors) for this evaluation."""
        norms = (self._query_norm(s), self._anchor_norm, t, self.anchors.dtype)
        if kernel_for(s.device) == "triton":
            # Exact logits whatever the dtype; float64 values only where the float32 mean's
            # rounding would be amplified as much as the expansion's (near t = 1).
            return s.dtype, precision.step_dtype(*norms)
        tolerance = None if self.targets is None else precision.TARGET_LOGIT_TOLERANCE
        dtype = precision.step_dtype(*norms, tolerance)
        return dtype, dtype

    def __call__(self, s: Tensor, t: float) -> Tensor:
        point_dtype, anchor_dtype = self._step_dtypes(s, t)
        anchors, log_w = self._anchors_in(anchor_dtype)
        s_c = s.to(point_dtype)
        with torch.autocast(s.device.type, enabled=False):
            mean, lse = posterior(s_c, anchors, log_w, t)
            if self.targets is not None:
                self.target_log_probs.append(self._target_log_prob(s_c, t, lse))
        return mean.to(s.dtype)

    def _target_log_prob(self, s: Tensor, t: float, lse: Tensor) -> Tensor:
        # The target's logit from the difference itself: exact, and only O(m q).
        a = self.anchors[self.targets].to(s.dtype)
        log_w = self.log_weights[self.targets].to(s.dtype)
        logit = log_w - (s - t * a).square().sum(1) / (2.0 * (1.0 - t) ** 2)
        # lse carries the rounding of the other logits (<= the tolerance): keep log P <= 0.
        return (logit - lse).clamp(max=0.0).to(self.anchors.dtype)
