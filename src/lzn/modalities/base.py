"""What every data type of LZN provides.

A modality owns an encoder (a batch of samples -> anchors (b, q) in the shared latent space) and,
optionally, a decoder (latents (b, q) -> samples). `latents` places a batch in its zones: by
default the zones cut by the batch's own anchors (images); a modality with a fixed set of anchors
(labels) overrides it. Tasks are compositions: `LZN.translate(batch, source, target)` decodes the
source's latents with the target's decoder. A new data type is one subclass:

    class TextModality(Modality):
        name = "text"
        def validate(self, batch): ...           # raise ValueError naming the problem
        def encode(self, batch): ...             # -> anchors (b, latent_dim)
        def decode(self, latents, **kw): ...     # -> samples (omit if it has no decoder)

then `model.add_modality(TextModality(...))` and `model.translate(texts, "text", "image")`. To be
saved with the model (`LZN.save_pretrained`), it also says how it is rebuilt (`init_args`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from lzn import zoning
from lzn.zoning.flow_settings import DEFAULT_FLOW, FlowSettings


class Modality(nn.Module, ABC):
    name: str
    latent_dim: int
    # How latents are computed from this modality's anchors (t = 0 Gaussian, t = 1 anchors), read
    # by every computation of the modality. A modality with its own settings sets `self.flow`.
    flow: FlowSettings = DEFAULT_FLOW

    @abstractmethod
    def validate(self, batch: Tensor) -> Tensor:
        """Check a batch at the API boundary; return it (possibly converted) or raise ValueError."""

    @abstractmethod
    def encode(self, batch: Tensor) -> Tensor:
        """Anchors (b, latent_dim) of a batch of samples."""

    def latents(
        self,
        batch: Tensor,
        *,
        alpha: float = 1.0,
        bank: Tensor | None = None,
        generator: torch.Generator | None = None,
        gather: bool = False,
    ) -> Tensor:
        """Latents (b, q) of the batch in the zones cut by its anchors (plus a fixed `bank`).
        gather: the zones are cut by the anchors of every process's batch (all-gathered, with
        gradients back to their process: the paper's latent parallelism); without a process
        group this changes nothing."""
        anchors = self.encode(batch)
        index = None
        if gather:
            anchors, index = zoning.gather_anchors(anchors)
        if bank is not None:
            own = torch.arange(len(anchors), device=anchors.device) if index is None else index
            index = own + len(bank)
            anchors = torch.cat([bank.to(anchors), anchors])
        return zoning.compute_latents(
            anchors, alpha=alpha, index=index, generator=generator, flow=self.flow
        )

    def decode(
        self, latents: Tensor, *, generator: torch.Generator | None = None, **kwargs
    ) -> Tensor:
        """Samples for latents (b, q); randomness, if any, comes from `generator`."""
        raise NotImplementedError(f"the {self.name} modality of this model has no decoder")

    def init_args(self) -> dict | None:
        """The keyword arguments, JSON-able, that rebuild this modality (its weights aside):
        `type(self)(**init_args)`. `LZN.save_pretrained` stores them, with the class path, for a
        modality added with `add_modality`; None (the default) means it cannot be stored."""
        return None
