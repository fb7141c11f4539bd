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

import importlib

from torch import Tensor, nn

from lzn.nets.heads import ProjectionHead

HEAD_DEFAULTS = {"hidden": 256, "layers": 2, "channels_per_group": 8}


def build_backbone(spec: dict) -> nn.Module:
    """The network `{"class_path": "package.module.Class", "init_args": {...}}` describes."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_path"), str):
        raise ValueError(f"a backbone is {{class_path: ..., init_args: {{...}}}}, got {spec!r}")
    extra = sorted(set(spec) - {"class_path", "init_args"})
    if extra:
        raise ValueError(f"unknown backbone keys {extra} (give class_path and init_args)")
    module_name, _, name = spec["class_path"].rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(f"backbone class {spec['class_path']!r} cannot be imported") from None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"backbone {spec['class_path']!r} is not a torch.nn.Module class")
    try:
        return cls(**(spec.get("init_args") or {}))
    except TypeError as e:
        raise ValueError(f"backbone {spec['class_path']}: {e}") from None


class BackboneEncoder(nn.Module):
    """Images in [-1, 1] -> anchors (b, latent_dim): `backbone`, then a `ProjectionHead`."""

    def __init__(self, backbone: nn.Module, feature_dim: int, latent_dim: int, head: dict):
        super().__init__()
        unknown = sorted(set(head) - set(HEAD_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown head keys {unknown} (known: {list(HEAD_DEFAULTS)})")
        head = {**HEAD_DEFAULTS, **head}
        self.backbone, self.feature_dim = backbone, feature_dim
        self.head = ProjectionHead(
            feature_dim, head["hidden"], latent_dim, layers=head["layers"],
            channels_per_group=head["channels_per_group"],
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
