"""The NCSN++ U-Net of rectified flow, as LZN's image decoder, and its down path as the encoder.

Decoder (paper section 3, App. C): the U-Net predicts the velocity of the rectified flow at
(x_t, t). The LZN latent (and, for class-conditional models, a one-hot label) is concatenated to
the time embedding and goes through the same two-layer MLP, whose output conditions every
residual block. With latent_dim = 0 and no classes it is the plain rectified-flow network.

Encoder (App. C): the decoder's down path (no time input). After the input convolution, every
residual block and every down-sampling block, a "latent transformation block" maps the feature
map to q dimensions (1x1 conv to a few channels, flatten, MLP); the anchor is the sum of them all.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lzn.nets.layers import (
    AttnBlock,
    FourierEmbedding,
    Resample,
    ResBlock,
    conv,
    dense,
    group_norm,
    positional_embedding,
)

_TIME_SCALE = 999.0  # the network sees t * 999, as rectified flow's NCSN++ does


@dataclass(frozen=True)
class UNetConfig:
    """Shape of an NCSN++ U-Net; defaults are the rectified-flow CIFAR-10 network."""

    image_size: int = 32
    channels: int = 3
    nf: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 2, 2)
    num_res_blocks: int = 4
    attn_resolutions: tuple[int, ...] = (16,)
    dropout: float = 0.15
    fir_kernel: tuple[int, ...] | None = None  # e.g. (1, 3, 3, 1) at 256x256
    skip_rescale: bool = True
    progressive: str = "none"  # or "output_skip"
    progressive_input: str = "none"  # or "input_skip"
    embedding: str = "positional"  # or "fourier"
    fourier_scale: float = 16.0
    scale_by_sigma: bool = False  # divide the output by 999 t (the 256x256 recipes)
    init_scale: float = 0.0

    def __post_init__(self):
        if self.progressive not in ("none", "output_skip"):
            raise ValueError(
                f"progressive must be 'none' or 'output_skip', got {self.progressive!r}"
            )
        if self.progressive_input not in ("none", "input_skip"):
            raise ValueError(
                f"progressive_input must be 'none' or 'input_skip', got {self.progressive_input!r}"
            )
        if self.embedding not in ("positional", "fourier"):
            raise ValueError(f"embedding must be 'positional' or 'fourier', got {self.embedding!r}")
        if self.image_size % 2 ** (len(self.ch_mult) - 1):
            raise ValueError(
                f"image_size {self.image_size} is not divisible by 2^{len(self.ch_mult) - 1}"
                f" (ch_mult has {len(self.ch_mult)} levels)"
            )

    def resolutions(self) -> list[int]:
        return [self.image_size // 2**i for i in range(len(self.ch_mult))]

    def res_block(self, in_ch: int, out_ch: int | None = None, **kw) -> ResBlock:
        return ResBlock(
            in_ch,
            out_ch,
            dropout=self.dropout,
            fir_kernel=self.fir_kernel,
            skip_rescale=self.skip_rescale,
            init_scale=self.init_scale,
            **kw,
        )

    def attn(self, channels: int) -> AttnBlock:
        return AttnBlock(channels, self.skip_rescale, self.init_scale)


class _DownPath(nn.Module):
    """Input convolution, residual levels with down-sampling, and the middle blocks. Returns the
    skip feature maps (input conv, every block) and the middle output."""

    def __init__(self, cfg: UNetConfig, cond_dim: int | None):
        super().__init__()
        self.cfg = cfg
        self.conv_in = conv(cfg.channels, cfg.nf)
        self.levels = nn.ModuleList()
        self.skip_channels = [cfg.nf]
        ch = cfg.nf
        for i, res in enumerate(cfg.resolutions()):
            level = nn.Module()
            level.blocks = nn.ModuleList()
            level.attns = nn.ModuleList()
            for _ in range(cfg.num_res_blocks):
                out = cfg.nf * cfg.ch_mult[i]
                level.blocks.append(cfg.res_block(ch, out, cond_dim=cond_dim))
                ch = out
                level.attns.append(cfg.attn(ch) if res in cfg.attn_resolutions else nn.Identity())
                self.skip_channels.append(ch)
            if i != len(cfg.ch_mult) - 1:
                level.down = cfg.res_block(ch, down=True, cond_dim=cond_dim)
                if cfg.progressive_input == "input_skip":
                    level.combine = conv(cfg.channels, ch, 1)
                self.skip_channels.append(ch)
            self.levels.append(level)
        self.mid = nn.ModuleList(
            [
                cfg.res_block(ch, cond_dim=cond_dim),
                cfg.attn(ch),
                cfg.res_block(ch, cond_dim=cond_dim),
            ]
        )
        self.channels = ch
        self.pyramid_down = Resample(up=False, fir_kernel=cfg.fir_kernel)

    def forward(self, x: Tensor, cond: Tensor | None) -> tuple[list[Tensor], Tensor]:
        pyramid = x
        skips = [self.conv_in(x)]
        for level in self.levels:
            for block, attn in zip(level.blocks, level.attns, strict=True):
                skips.append(attn(block(skips[-1], cond)))
            if hasattr(level, "down"):
                h = level.down(skips[-1], cond)
                if hasattr(level, "combine"):
                    pyramid = self.pyramid_down(pyramid)
                    h = h + level.combine(pyramid)
                skips.append(h)
        h = self.mid[0](skips[-1], cond)
        h = self.mid[2](self.mid[1](h), cond)
        return skips, h


class UNetDecoder(nn.Module):
    """Velocity v(x_t, t | latent, label) of the rectified flow, t in [0, 1] (1 = data)."""

    def __init__(self, cfg: UNetConfig, latent_dim: int = 0, num_classes: int = 0):
        super().__init__()
        self.cfg, self.latent_dim, self.num_classes = cfg, latent_dim, num_classes
        nf = cfg.nf
        if cfg.embedding == "fourier":
            self.fourier = FourierEmbedding(nf, cfg.fourier_scale)
            embed_dim = 2 * nf
        else:
            embed_dim = nf
        self.cond_mlp = nn.Sequential(
            dense(latent_dim + num_classes + embed_dim, 4 * nf), nn.SiLU(), dense(4 * nf, 4 * nf)
        )
        self.down = _DownPath(cfg, cond_dim=4 * nf)
        skips = list(self.down.skip_channels)
        ch = self.down.channels
        self.levels = nn.ModuleList()
        for i in reversed(range(len(cfg.ch_mult))):
            level = nn.Module()
            level.blocks = nn.ModuleList()
            for _ in range(cfg.num_res_blocks + 1):
                out = nf * cfg.ch_mult[i]
                level.blocks.append(cfg.res_block(ch + skips.pop(), out, cond_dim=4 * nf))
                ch = out
            level.attn = cfg.attn(ch) if cfg.resolutions()[i] in cfg.attn_resolutions else None
            if cfg.progressive == "output_skip":
                level.to_image = nn.Sequential(group_norm(ch), nn.SiLU(), conv(ch, cfg.channels))
            if i != 0:
                level.up = cfg.res_block(ch, up=True, cond_dim=4 * nf)
            self.levels.append(level)
        if cfg.progressive != "output_skip":
            self.to_image = nn.Sequential(
                group_norm(ch), nn.SiLU(), conv(ch, cfg.channels, init_scale=cfg.init_scale)
            )
        self.pyramid_up = Resample(up=True, fir_kernel=cfg.fir_kernel)

    def _condition(self, t: Tensor, latent: Tensor | None, onehot: Tensor | None) -> Tensor:
        t = t.clamp(1e-5, 1.0) * _TIME_SCALE
        if self.cfg.embedding == "fourier":
            temb = self.fourier(t.log())
        else:
            temb = positional_embedding(t, self.cfg.nf)
        parts = [p for p in (latent, onehot) if p is not None] + [temb.to(t.dtype)]
        return self.cond_mlp(torch.cat(parts, dim=1))

    def forward(
        self, x: Tensor, t: Tensor, latent: Tensor | None = None, onehot: Tensor | None = None
    ) -> Tensor:
        if (latent is None) != (self.latent_dim == 0):
            raise ValueError(f"this decoder takes a latent of dimension {self.latent_dim}")
        if (onehot is None) != (self.num_classes == 0):
            raise ValueError(f"this decoder takes a one-hot label over {self.num_classes} classes")
        cond = self._condition(t, latent, onehot)
        skips, h = self.down(x, cond)
        pyramid = None
        for level in self.levels:
            for block in level.blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), cond)
            if level.attn is not None:
                h = level.attn(h)
            if hasattr(level, "to_image"):
                out = level.to_image(h)
                pyramid = out if pyramid is None else self.pyramid_up(pyramid) + out
            if hasattr(level, "up"):
                h = level.up(h, cond)
        h = pyramid if pyramid is not None else self.to_image(h)
        if self.cfg.scale_by_sigma:
            h = h / (t.clamp(1e-5, 1.0) * _TIME_SCALE)[:, None, None, None]
        return h


@dataclass(frozen=True)
class HeadConfig:
    """The latent transformation blocks of the encoder (paper App. C)."""

    channels: int = 20
    hidden: int = 200
    layers: int = 2
    resolutions: tuple[int, ...] | None = None  # feature maps with a head (None: all)


class _LatentHead(nn.Module):
    def __init__(self, in_ch: int, resolution: int, latent_dim: int, head: HeadConfig):
        super().__init__()
        self.reduce = nn.Conv2d(in_ch, head.channels, 1)
        dims = [head.channels * resolution**2] + [head.hidden] * (head.layers - 1) + [latent_dim]
        mlp: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(dims)):
            mlp += [nn.Linear(a, b)] + ([nn.SiLU()] if i < len(dims) - 2 else [])
        self.mlp = nn.Sequential(*mlp)

    def forward(self, h: Tensor) -> Tensor:
        return self.mlp(F.silu(self.reduce(h)).flatten(1))


class UNetEncoder(nn.Module):
    """Images -> anchors (b, latent_dim): the U-Net down path with a latent head on every map."""

    def __init__(self, cfg: UNetConfig, latent_dim: int, head: HeadConfig | None = None):
        super().__init__()
        head = head or HeadConfig()
        self.cfg, self.latent_dim = cfg, latent_dim
        self.down = _DownPath(cfg, cond_dim=None)
        resolutions = [cfg.image_size]
        for i, res in enumerate(cfg.resolutions()):
            resolutions += [res] * cfg.num_res_blocks
            if i != len(cfg.ch_mult) - 1:
                resolutions.append(res // 2)
        maps = [*zip(self.down.skip_channels, resolutions, strict=True)]
        maps.append((self.down.channels, cfg.resolutions()[-1]))  # the middle output
        # Keyed by the index of the feature map; maps at excluded resolutions have no head.
        self.heads = nn.ModuleDict(
            {
                str(i): _LatentHead(ch, res, latent_dim, head)
                for i, (ch, res) in enumerate(maps)
                if head.resolutions is None or res in head.resolutions
            }
        )

    def forward(self, x: Tensor) -> Tensor:
        skips, mid = self.down(x, None)
        maps = [*skips, mid]
        return sum(head(maps[int(i)]) for i, head in self.heads.items())
