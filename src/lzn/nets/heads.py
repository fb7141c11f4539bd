"""The projection head of case study 2: backbone features -> anchors.

The official code's head: bias-free Linear layers, each followed by GroupNorm, ReLU between them
(SimCLR's MLP with GroupNorm for BatchNorm: an anchor must not depend on its batch-mates through
batch statistics, or the zones would). GroupNorm's group count matters at the output: with 2
channels per group the anchors collapse to sign patterns and nothing is learnt; the paper's head
(256 outputs, 32 groups) has 8, which is the default here.
"""

from __future__ import annotations

import itertools

from torch import nn


def group_norm(channels: int, channels_per_group: int = 8, max_groups: int = 32) -> nn.GroupNorm:
    """GroupNorm with `max_groups` groups, or fewer so that each has `channels_per_group`."""
    return nn.GroupNorm(max(1, min(max_groups, channels // channels_per_group)), channels)


class ProjectionHead(nn.Sequential):
    """(b, in_dim) -> (b, out_dim): `layers` bias-free Linears (hidden width `hidden_dim`), each
    followed by GroupNorm (`group_norm`), with ReLU between them."""

    def __init__(
        self, in_dim: int, hidden_dim: int, out_dim: int, *, layers: int = 2,
        channels_per_group: int = 8, max_groups: int = 32,
    ):  # fmt: skip
        if layers < 1:
            raise ValueError(f"a projection head needs at least 1 layer, got {layers}")
        dims = [in_dim] + [hidden_dim] * (layers - 1) + [out_dim]
        modules: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(dims)):
            modules += [nn.Linear(a, b, bias=False), group_norm(b, channels_per_group, max_groups)]
            if i < layers - 1:
                modules.append(nn.ReLU(inplace=True))
        super().__init__(*modules)
        self.in_dim, self.out_dim = in_dim, out_dim
