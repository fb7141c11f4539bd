"""Building blocks of the NCSN++ networks (Song et al., 2021), in our own words.

Initialisation follows the original: variance scaling (fan_avg, uniform), with `scale=0` for the
last layer of every residual branch so that each block starts as (near) the identity.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def variance_scaling_(weight: Tensor, scale: float = 1.0) -> Tensor:
    """Uniform init with variance scale / fan_avg; scale 0 gives (near) zero weights."""
    scale = 1e-10 if scale == 0 else scale
    receptive = weight[0][0].numel() if weight.ndim > 2 else 1
    fan_in, fan_out = weight.shape[1] * receptive, weight.shape[0] * receptive
    bound = math.sqrt(3.0 * scale / ((fan_in + fan_out) / 2))
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


def conv(in_ch: int, out_ch: int, kernel: int = 3, init_scale: float = 1.0) -> nn.Conv2d:
    layer = nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2)
    variance_scaling_(layer.weight, init_scale)
    nn.init.zeros_(layer.bias)
    return layer


def dense(in_features: int, out_features: int, init_scale: float = 1.0) -> nn.Linear:
    layer = nn.Linear(in_features, out_features)
    variance_scaling_(layer.weight, init_scale)
    nn.init.zeros_(layer.bias)
    return layer


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(channels // 4, 32), channels, eps=1e-6)


class Resample(nn.Module):
    """Parameter-free 2x up- or down-sampling: nearest / average pooling, or an FIR filter
    (e.g. [1, 3, 3, 1], as StyleGAN2 and NCSN++ at 256x256 use)."""

    def __init__(self, up: bool, fir_kernel: tuple[int, ...] | None = None):
        super().__init__()
        self.up = up
        if fir_kernel is None:
            self.register_buffer("kernel", None)
        else:
            k = torch.tensor(fir_kernel, dtype=torch.float32)
            k = torch.outer(k, k)
            self.register_buffer("kernel", k / k.sum(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.kernel is None:
            return (
                F.interpolate(x, scale_factor=2, mode="nearest") if self.up else F.avg_pool2d(x, 2)
            )
        c = x.shape[1]
        k = self.kernel.to(x.dtype)
        pad = k.shape[0] - 2
        weight = k.flip(0, 1)[None, None].repeat(c, 1, 1, 1)
        if self.up:
            # Zero-stuff to 2x, then filter with the kernel scaled by 4 to keep the mean.
            b, _, h, w = x.shape
            z = x.new_zeros(b, c, h * 2, w * 2)
            z[:, :, ::2, ::2] = x
            lo, hi = (pad + 1) // 2 + 1, pad // 2
            z = F.pad(z, (lo, hi, lo, hi))
            return F.conv2d(z, weight * 4, groups=c)
        lo, hi = (pad + 1) // 2, pad // 2
        return F.conv2d(F.pad(x, (lo, hi, lo, hi)), weight, stride=2, groups=c)


class ResBlock(nn.Module):
    """BigGAN-style residual block of NCSN++, optionally resampling, optionally conditioned by
    a vector (added as a per-channel bias after the first convolution)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int | None = None,
        *,
        cond_dim: int | None = None,
        up: bool = False,
        down: bool = False,
        dropout: float = 0.0,
        fir_kernel: tuple[int, ...] | None = None,
        skip_rescale: bool = True,
        init_scale: float = 0.0,
    ):
        super().__init__()
        out_ch = out_ch or in_ch
        self.norm_in = group_norm(in_ch)
        self.resample = Resample(up, fir_kernel) if (up or down) else None
        self.conv_in = conv(in_ch, out_ch)
        self.cond = dense(cond_dim, out_ch) if cond_dim is not None else None
        self.norm_out = group_norm(out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv_out = conv(out_ch, out_ch, init_scale=init_scale)
        self.skip = conv(in_ch, out_ch, 1) if (in_ch != out_ch or up or down) else None
        self.skip_rescale = skip_rescale

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        h = F.silu(self.norm_in(x))
        if self.resample is not None:
            h, x = self.resample(h), self.resample(x)
        h = self.conv_in(h)
        if self.cond is not None:
            h = h + self.cond(F.silu(cond))[:, :, None, None]
        h = self.conv_out(self.dropout(F.silu(self.norm_out(h))))
        if self.skip is not None:
            x = self.skip(x)
        return (x + h) / math.sqrt(2.0) if self.skip_rescale else x + h


class AttnBlock(nn.Module):
    """Self-attention over pixels with one head, as in NCSN++ (at 16x16)."""

    def __init__(self, channels: int, skip_rescale: bool = True, init_scale: float = 0.0):
        super().__init__()
        self.norm = group_norm(channels)
        self.qkv = nn.ModuleList(dense(channels, channels) for _ in range(3))
        self.out = dense(channels, channels, init_scale)
        self.skip_rescale = skip_rescale

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)  # (b, hw, c)
        q, k, v = (proj(tokens) for proj in self.qkv)
        y = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        y = self.out(y).transpose(1, 2).reshape(b, c, h, w)
        return (x + y) / math.sqrt(2.0) if self.skip_rescale else x + y


def positional_embedding(t: Tensor, dim: int, max_positions: int = 10_000) -> Tensor:
    """Sinusoidal embedding of (scaled) times t (b,) -> (b, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_positions) / (half - 1) * torch.arange(half, device=t.device))
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([args.sin(), args.cos()], dim=1)


class FourierEmbedding(nn.Module):
    """Random Fourier features of log-time, frozen (Gaussian Fourier projection)."""

    def __init__(self, size: int, scale: float = 16.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(size) * scale, requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        args = x[:, None] * self.weight[None, :] * 2 * math.pi
        return torch.cat([args.sin(), args.cos()], dim=1)
