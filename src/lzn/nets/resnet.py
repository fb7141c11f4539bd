"""ResNet with GroupNorm and a SimCLR-style projection head: the image encoder of case study 2.

GroupNorm instead of BatchNorm: the anchors of a batch must not depend on each other through the
normalisation statistics (and no SyncBN is needed across ranks). The trunk's pooled features are
the representation (`features`); the head maps them to the anchor. The head follows the official
code (two bias-free Linears, each followed by GroupNorm): with ResNet-50 the model has 28.2 M
parameters, while the paper's table lists 24,032,832.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from lzn.nets.heads import ProjectionHead, group_norm


def _group_norm(channels: int, groups: int | None = None) -> nn.GroupNorm:
    """`groups` groups (the official code's rule: 32 everywhere), or, when None, up to 32
    groups of at least 4 channels (this library's rule, which models saved earlier use)."""
    if groups is None:
        return group_norm(channels, channels_per_group=4)
    return group_norm(channels, channels_per_group=1, max_groups=groups)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int, groups: int | None = None):
        super().__init__()
        out_ch = width * self.expansion

        def _gn(channels: int) -> nn.GroupNorm:
            return _group_norm(channels, groups)

        self.branch = nn.Sequential(
            nn.Conv2d(in_ch, width, 1, bias=False),
            _gn(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False),
            _gn(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, out_ch, 1, bias=False),
            _gn(out_ch),
        )
        nn.init.zeros_(self.branch[-1].weight)  # each block starts as the identity
        self.shortcut = (
            nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), _gn(out_ch))
            if stride != 1 or in_ch != out_ch
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.branch(x) + self.shortcut(x))


@dataclass(frozen=True)
class ResNetConfig:
    """Defaults: ResNet-50 for 224x224 images, head 2048 -> 2048 -> 256."""

    layers: tuple[int, ...] = (3, 4, 6, 3)
    width: int = 64
    channels: int = 3
    stem: str = "imagenet"  # 7x7/2 conv + max-pool; "small": one 3x3 conv, for tiny images
    head_hidden: int = 2048
    head_layers: int = 2
    # GroupNorm groups in every layer, trunk and head (the official code: 32); None: up to 32
    # groups of at least 4 channels each (16 groups at 64 channels; this library's first rule)
    groups: int | None = None

    def __post_init__(self):
        if self.groups is not None and self.groups < 1:
            raise ValueError(
                f"groups must be a positive number of GroupNorm groups or null, got {self.groups}"
            )


class ResNetEncoder(nn.Module):
    """Images in [-1, 1] -> anchors (b, latent_dim); `features` gives the pooled trunk output."""

    def __init__(self, cfg: ResNetConfig, latent_dim: int):
        super().__init__()
        self.cfg, self.latent_dim = cfg, latent_dim
        w = cfg.width

        def _gn(channels: int) -> nn.GroupNorm:
            return _group_norm(channels, cfg.groups)

        if cfg.stem == "imagenet":
            self.stem = nn.Sequential(
                nn.Conv2d(cfg.channels, w, 7, stride=2, padding=3, bias=False),
                _gn(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2, padding=1),
            )
        elif cfg.stem == "small":
            self.stem = nn.Sequential(
                nn.Conv2d(cfg.channels, w, 3, padding=1, bias=False), _gn(w), nn.ReLU(inplace=True)
            )
        else:
            raise ValueError(f"stem must be 'imagenet' or 'small', got {cfg.stem!r}")
        blocks: list[nn.Module] = []
        in_ch = w
        for i, count in enumerate(cfg.layers):
            width = w * 2**i
            for j in range(count):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(Bottleneck(in_ch, width, stride, cfg.groups))
                in_ch = width * Bottleneck.expansion
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = in_ch
        # The trunk's rule: fixed groups, or 4 channels a group at least (models saved earlier)
        per_group, max_groups = (4, 32) if cfg.groups is None else (1, cfg.groups)
        self.head = ProjectionHead(
            in_ch, cfg.head_hidden, latent_dim, layers=cfg.head_layers,
            channels_per_group=per_group, max_groups=max_groups,
        )  # fmt: skip

    def features(self, x: Tensor) -> Tensor:
        """The representation: globally pooled trunk features (b, feature_dim)."""
        h = self.blocks(self.stem((x + 1) / 2))  # the trunk sees [0, 1], as in the official code
        return h.mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
