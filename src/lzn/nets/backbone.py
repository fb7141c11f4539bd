"""Any network as LZN's image encoder: a backbone (images -> features) and the projection head.

A model config names the backbone by class path, as LightningCLI does:

    "encoder": {"type": "backbone",
                "backbone": {"class_path": "lzn.nets.ConvNet", "init_args": {"channels": 1}},
                "feature_dim": 128,
                "head": {"hidden": 256, "layers": 2, "channels_per_group": 8}}

The backbone gets the images in [-1, 1] (normalise inside it if it wants other inputs) and must
return features (b, feature_dim): `model.embed` gives them, the head maps them to the anchors.
Loading such a model imports the named class from an installed package; nothing is ever read as
code from the weight files.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from lzn.class_path import import_class
from lzn.nets.heads import ProjectionHead


@dataclass(frozen=True)
class BackboneHeadConfig:
    """The projection head from the backbone's features to the anchors (`ProjectionHead`)."""

    hidden: int = 256
    layers: int = 2
    channels_per_group: int = 8


def check_backbone(spec: dict) -> None:
    """Refuse a backbone entry that is not {"class_path": "...", "init_args": {...}}."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_path"), str):
        raise ValueError(f"a backbone is {{class_path: ..., init_args: {{...}}}}, got {spec!r}")
    extra = sorted(set(spec) - {"class_path", "init_args"})
    if extra:
        raise ValueError(f"unknown backbone keys {extra} (give class_path and init_args)")


def build_backbone(spec: dict) -> nn.Module:
    """The network `{"class_path": "package.module.Class", "init_args": {...}}` describes
    (importing its module: see `lzn.class_path`)."""
    check_backbone(spec)
    path = spec["class_path"]
    cls = import_class(path, nn.Module, what="backbone", base_name="torch.nn.Module")
    try:
        return cls(**(spec.get("init_args") or {}))
    except TypeError as e:
        raise ValueError(f"backbone {path}: {e}") from None


class BackboneEncoder(nn.Module):
    """Images in [-1, 1] -> anchors (b, latent_dim): `backbone`, then a `ProjectionHead`."""

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        latent_dim: int,
        head: BackboneHeadConfig = BackboneHeadConfig(),
    ):
        super().__init__()
        self.backbone, self.feature_dim = backbone, feature_dim
        self.head = ProjectionHead(
            feature_dim, head.hidden, latent_dim, layers=head.layers,
            channels_per_group=head.channels_per_group,
        )  # fmt: skip

    def features(self, x: Tensor) -> Tensor:
        features = self.backbone(x)
        if features.ndim != 2 or features.shape[1] != self.feature_dim:
            raise ValueError(
                f"the backbone returned {tuple(features.shape)}; the config's feature_dim says "
                f"(b, {self.feature_dim})"
            )
        return features

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
