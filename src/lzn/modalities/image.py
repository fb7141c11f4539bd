"""Images as an LZN data type: an encoder to anchors, a latent-conditioned rectified-flow decoder.

Images are (b, channels, size, size) in [-1, 1]. Decoding a latent z draws image noise and solves
the rectified-flow ODE conditioned on z (and, for class-conditional models, on a one-hot label);
`invert` runs the same ODE backwards, from an image to its noise, for the paper's reconstruction.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lzn import rng
from lzn.modalities import rectified_flow as rf
from lzn.modalities.base import Modality
from lzn.zoning.flow_settings import FlowSettings

# Pixel values this far outside [-1, 1] mean the caller passed [0, 255] or unnormalised data.
_RANGE_SLACK = 0.5


class ImageModality(Modality):
    name = "image"

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module | None,
        *,
        image_size: int,
        channels: int,
        latent_dim: int,
        num_classes: int = 0,
        flow: FlowSettings | None = None,
    ):
        """flow: how latents are computed from image anchors (None: the base default)."""
        super().__init__()
        if flow is not None:
            self.flow = flow
        self.encoder, self.decoder = encoder, decoder
        self.image_size, self.channels = image_size, channels
        self.latent_dim, self.num_classes = latent_dim, num_classes

    def validate(self, images: object) -> Tensor:
        if not isinstance(images, Tensor):
            raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
        expected = f"(batch, {self.channels}, {self.image_size}, {self.image_size})"
        if images.ndim != 4:
            raise ValueError(f"images must have shape {expected}, got {tuple(images.shape)}")
        if images.shape[0] == 0:
            raise ValueError("the batch of images is empty")
        if images.shape[1] != self.channels:
            raise ValueError(
                f"images have {images.shape[1]} channels, this model takes {self.channels}"
                f" (shape {expected})"
            )
        if images.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"images are {images.shape[2]}x{images.shape[3]}, this model takes "
                f"{self.image_size}x{self.image_size} (shape {expected})"
            )
        if not images.is_floating_point():
            raise TypeError(f"images must be floating point in [-1, 1], got dtype {images.dtype}")
        # One pass and one host sync (a GPU waits for it on every encode): the extremes are NaN
        # or infinite exactly when some value is.
        lo, hi = torch.stack(torch.aminmax(images.detach())).double().tolist()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("images contain NaN or infinite values")
        if lo < -1 - _RANGE_SLACK or hi > 1 + _RANGE_SLACK:
            raise ValueError(
                f"image values span [{lo:.3g}, {hi:.3g}]; expected [-1, 1] "
                "(scale 8-bit images with x / 127.5 - 1)"
            )
        param = next(self.parameters())
        return images.to(device=param.device, dtype=param.dtype)

    def encode(self, images: Tensor) -> Tensor:
        return self.encoder(self.validate(images))

    def features(self, images: Tensor) -> Tensor:
        """The representation: the trunk features where the encoder has them, else its anchors."""
        images = self.validate(images)
        fn = getattr(self.encoder, "features", None)
        return fn(images) if fn is not None else self.encoder(images)

    def _require_decoder(self) -> nn.Module:
        if self.decoder is None:
            raise ValueError("this model has no image decoder (a representation-only preset)")
        return self.decoder

    def _onehot(self, labels: Tensor | None) -> Tensor | None:
        if self.num_classes == 0:
            return None
        if labels is None:
            raise ValueError(
                f"this decoder is class-conditional: pass labels (b,) in 0..{self.num_classes - 1}"
            )
        return F.one_hot(labels, self.num_classes).to(next(self.parameters()).dtype)

    def velocity(self, latents: Tensor, labels: Tensor | None = None) -> rf.Velocity:
        """The decoder's velocity field for fixed latents (and labels)."""
        decoder = self._require_decoder()
        onehot = self._onehot(labels)
        if decoder.latent_dim == 0:  # the rectified-flow baseline: latents are not an input
            latents = None
        return lambda x, t: decoder(x, t, latents, onehot)

    def loss(
        self, images: Tensor, latents: Tensor | None, labels: Tensor | None = None, **kw
    ) -> Tensor:
        """The rectified-flow loss of the decoder conditioned on the images' latents."""
        return rf.loss(self.velocity(latents, labels), images, **kw)

    def decode(
        self,
        latents: Tensor,
        *,
        labels: Tensor | None = None,
        noise: Tensor | None = None,
        sampler: str = "rk45",
        steps: int = 20,
        max_evaluations: int = rf.MAX_EVALUATIONS,
        generator: torch.Generator | None = None,
        progress: rf.Progress | None = None,
        clip: bool = True,
    ) -> Tensor:
        """Images (b, c, s, s) in [-1, 1] for latents (b, q), from image noise at t = T_MIN
        (`max_evaluations`, `progress`: see `rectified_flow.integrate`). clip=False: the ODE's
        end point as it is (the official samplers' `clip_x1=False`)."""
        rf.check_sampler(sampler, steps)
        shape = (latents.shape[0], self.channels, self.image_size, self.image_size)
        if noise is None:
            noise = rng.randn(*shape, generator=generator, device=latents.device)
        x, _ = rf.integrate(
            self.velocity(latents, labels),
            noise.to(latents.dtype),
            rf.T_MIN,
            1.0,
            sampler=sampler,
            steps=steps,
            max_evaluations=max_evaluations,
            progress=progress,
        )
        return x.clamp(-1.0, 1.0) if clip else x

    def invert(
        self,
        images: Tensor,
        latents: Tensor,
        *,
        labels: Tensor | None = None,
        sampler: str = "rk45",
        steps: int = 20,
        max_evaluations: int = rf.MAX_EVALUATIONS,
    ) -> Tensor:
        """The image noise (at t = T_MIN) that `decode` maps to `images` under these latents."""
        rf.check_sampler(sampler, steps)
        x, _ = rf.integrate(
            self.velocity(latents, labels),
            self.validate(images),
            1.0,
            rf.T_MIN,
            sampler=sampler,
            steps=steps,
            max_evaluations=max_evaluations,
        )
        return x
