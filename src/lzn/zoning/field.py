"""The flow field of a set of anchors, as the solvers see it: a data prediction mean(s, t).

`AnchorField` picks the precision of every evaluation (`lzn.zoning.precision`), keeps the flow
out of autocast, and, when given targets, records log P(target | s_t) at every evaluation: the
soft assignment of the paper's latent alignment, computed from the same logsumexp.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lzn.zoning.kernel import posterior
from lzn.zoning.precision import step_dtype


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

    def __call__(self, s: Tensor, t: float) -> Tensor:
        dtype = step_dtype(self._query_norm(s), self._anchor_norm, t, self.anchors.dtype)
        anchors, log_w = self._anchors_in(dtype)
        s_c = s.to(dtype)
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
        # lse carries the expansion's rounding (<= LOGIT_TOLERANCE): keep log P <= 0.
        return (logit - lse).clamp(max=0.0).to(self.anchors.dtype)
