"""Labels as an LZN data type (paper section 5): learned anchors, one per class.

Encoder: the row of the anchor matrix. Decoder: the flow from a latent to the label anchors and the
nearest anchor at its end (the official code's Euclidean rule). Training aligns image latents to
the label anchors with class-frequency weights (App. E.2, so that a batch's imbalance does not
bias the zones); tests use uniform weights.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn

from lzn import zoning
from lzn.modalities.base import Modality
from lzn.zoning.flow_settings import FlowSettings, resolve

# The label flow of case study 3: Euler, 100 steps (paper App. E.4), g = 1e-4 (code); the
# alignment loss leaves out the first 20% of its steps (cutoff 0.2).
LABEL_FLOW = FlowSettings(solver="euler", steps=100, g=1e-4)
LABEL_CUTOFF = 0.2


class LabelModality(Modality):
    name = "label"

    def __init__(
        self,
        num_classes: int,
        latent_dim: int,
        *,
        flow: FlowSettings = LABEL_FLOW,
        cutoff: float = LABEL_CUTOFF,
        steps: int | None = None,
        g: float | None = None,
        solver: str | None = None,
    ):
        """flow: the label flow (`self.flow`, read by latents, decode and the alignment loss);
        steps, g, solver override its fields. cutoff: the share of the flow's first steps the
        alignment loss leaves out."""
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a label set needs at least 2 classes, got {num_classes}")
        self.num_classes, self.latent_dim = num_classes, latent_dim
        self.flow = resolve(flow, solver=solver, steps=steps, g=g)
        self.cutoff = cutoff
        self.anchors = nn.Parameter(torch.randn(num_classes, latent_dim))

    def validate(self, labels: object) -> Tensor:
        if not isinstance(labels, Tensor):
            labels = torch.as_tensor(labels)
        if labels.ndim != 1 or labels.is_floating_point() or labels.dtype == torch.bool:
            raise ValueError(
                f"labels must be a 1-D tensor of integers, got {tuple(labels.shape)} {labels.dtype}"
            )
        if labels.numel() == 0:
            raise ValueError("the batch of labels is empty")
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= self.num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"label {bad} is outside the label set (0..{self.num_classes - 1})")
        return labels.long().to(self.anchors.device)

    def encode(self, labels: Tensor) -> Tensor:
        return self.anchors[self.validate(labels)]

    def latents(
        self,
        labels: Tensor,
        *,
        alpha: float = 1.0,
        bank: Tensor | None = None,
        generator: torch.Generator | None = None,
        gather: bool = False,
    ) -> Tensor:
        """Latents in the zones of `labels` among all label anchors, with uniform weights (the
        label set is fixed, so `bank` and `gather` do not apply)."""
        if bank is not None or gather:
            raise ValueError("labels have a fixed anchor set: bank= and gather= do not apply")
        labels = self.validate(labels)
        return zoning.compute_latents(
            self.anchors, index=labels, alpha=alpha, generator=generator, flow=self.flow
        )

    def decode(
        self,
        latents: Tensor,
        *,
        weights: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The label (b,) whose zone holds each latent (deterministic: `generator` is unused)."""
        return zoning.assign(latents, self.anchors, flow=self.flow, weights=weights)

    def class_weights(self, labels: Tensor, *, gather: bool = False) -> Tensor:
        """The batch's class frequencies: the mixture weights of the label flow in training.
        gather: of the global batch (counts summed over the processes of a process group)."""
        counts = torch.bincount(self.validate(labels), minlength=self.num_classes)
        counts = counts.to(self.anchors.dtype)
        if gather and dist.is_available() and dist.is_initialized():
            dist.all_reduce(counts)
        return counts / counts.sum()

    def alignment_loss(
        self, latents: Tensor, labels: Tensor, weights: Tensor | None = None, *, log: bool = False
    ):
        """Make each latent's flow over the label anchors end at its label (paper eq. 2;
        `log=True`: -mean(max log P), the form case study 2 uses, instead of -mean(max P))."""
        labels = self.validate(labels)
        weights = self.class_weights(labels) if weights is None else weights
        return zoning.alignment_loss(
            latents,
            self.anchors,
            labels,
            flow=self.flow,
            cutoff=self.cutoff,
            log=log,
            weights=weights,
        )
