"""What every data type of LZN provides.

A modality owns an encoder (a batch of samples -> anchors (b, q) in the shared latent space) and,
optionally, a decoder (latents (b, q) -> samples). Tasks are compositions: encoder = embedding,
encoder of one modality + decoder of another = translation. A new data type is one subclass:

    class TextModality(Modality):
        name = "text"
        def validate(self, batch): ...           # raise ValueError naming the problem
        def encode(self, batch): ...             # -> anchors (b, latent_dim)
        def decode(self, latents, **kw): ...     # -> samples (or raise if it has no decoder)

and `LZN(..., modalities={"text": TextModality(...)})` composes it with the others.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn


class Modality(nn.Module, ABC):
    name: str
    latent_dim: int

    @abstractmethod
    def validate(self, batch: Tensor) -> Tensor:
        """Check a batch at the API boundary; return it (possibly converted) or raise ValueError."""

    @abstractmethod
    def encode(self, batch: Tensor) -> Tensor:
        """Anchors (b, latent_dim) of a batch of samples."""

    def decode(self, latents: Tensor, **kwargs) -> Tensor:
        raise NotImplementedError(f"the {self.name} modality of this model has no decoder")
