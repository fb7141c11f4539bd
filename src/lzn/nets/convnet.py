"""A small GroupNorm conv net: a backbone for small images (issue 12's MNIST protocol) and the
example of a user's own network as an LZN image encoder (`lzn.nets.backbone`)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class ConvNet(nn.Sequential):
    """(b, channels, h, w) -> (b, widths[-1]): 3x3 convolutions (no bias) with the given strides,
    each followed by GroupNorm(`groups`) and ReLU, then a global average pool. The defaults are
    the 4-block MNIST backbone of the case-study-2 benchmark (240,608 parameters)."""

    def __init__(
        self, channels: int = 1, widths: Sequence[int] = (32, 64, 128, 128),
        strides: Sequence[int] = (1, 2, 2, 1), groups: int = 8,
    ):  # fmt: skip
        if len(widths) != len(strides) or not widths:
            raise ValueError(f"give one stride per width, got {list(widths)} and {list(strides)}")
        layers: list[nn.Module] = []
        for width, stride in zip(widths, strides, strict=True):
            layers += [
                nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                nn.GroupNorm(groups, width),
                nn.ReLU(inplace=True),
            ]
            channels = width
        super().__init__(*layers)
        self.feature_dim = channels

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).mean(dim=(2, 3))
