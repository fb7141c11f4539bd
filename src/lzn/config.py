"""A model's configuration, typed: what `LZN(config)` builds and `config.json` holds.

    ModelConfig(name, latent_dim, image: ImageConfig, label: LabelConfig | None)
    ImageConfig(size, channels, encoder, decoder: DecoderConfig | None, flow: FlowSettings)
        encoder, by its "type": UNetEncoderConfig(unet: UNetConfig, head: HeadConfig)
                              | ResNetEncoderConfig(resnet: ResNetConfig)
                              | BackboneEncoderConfig(backbone, feature_dim, head)
    DecoderConfig(unet: UNetConfig, latent_input, label_input)
    LabelConfig(num_classes, flow: FlowSettings, cutoff)

The networks' own settings (`UNetConfig`, `HeadConfig`, `ResNetConfig`, `BackboneHeadConfig`) and
the latent flow's (`FlowSettings`) are used as they are. `ModelConfig.from_dict(d)` reads the JSON
form (config.json, `presets.config`) and refuses an unknown key or a value of the wrong type with
its dotted path (`image.decoder.unet.nf: expected int, got 'x'`); `to_dict()` writes it back, so
`ModelConfig.from_dict(d).to_dict() == d` for a complete config. Keys that may be left out take
their defaults, and come back filled in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from lzn import dataclass_dicts
from lzn.modalities.label import LABEL_CUTOFF, LABEL_FLOW
from lzn.nets.backbone import BackboneHeadConfig, check_backbone
from lzn.nets.ncsnpp import HeadConfig, UNetConfig
from lzn.nets.resnet import ResNetConfig
from lzn.zoning.flow_settings import DEFAULT_FLOW, FlowSettings


@dataclass(frozen=True)
class UNetEncoderConfig:
    """The U-Net down path with latent heads on its feature maps (paper App. C)."""

    type: ClassVar[str] = "unet"
    unet: UNetConfig
    head: HeadConfig = field(default_factory=HeadConfig)


@dataclass(frozen=True)
class ResNetEncoderConfig:
    """A GroupNorm ResNet with a projection head (case study 2)."""

    type: ClassVar[str] = "resnet"
    resnet: ResNetConfig


@dataclass(frozen=True)
class BackboneEncoderConfig:
    """The user's network by class path (`lzn.nets.backbone`), then a projection head."""

    type: ClassVar[str] = "backbone"
    # {"class_path": "package.module.Class", "init_args": {...}}; building imports the module.
    backbone: dict = field(metadata={dataclass_dicts.CHECK: check_backbone})
    feature_dim: int
    head: BackboneHeadConfig = field(default_factory=BackboneHeadConfig)


EncoderConfig = UNetEncoderConfig | ResNetEncoderConfig | BackboneEncoderConfig


@dataclass(frozen=True)
class DecoderConfig:
    """The latent-conditioned NCSN++ decoder; latent_input False: it ignores latents (the
    rectified-flow baseline); label_input: it also takes the one-hot label (case study 3)."""

    unet: UNetConfig
    latent_input: bool = True
    label_input: bool = False


@dataclass(frozen=True)
class ImageConfig:
    """Images (channels, size, size) in [-1, 1]: their encoder, decoder and latent flow."""

    size: int
    channels: int
    encoder: EncoderConfig
    decoder: DecoderConfig | None = None  # None: a representation-only model
    flow: FlowSettings = DEFAULT_FLOW  # how latents are computed from image anchors

    def __post_init__(self):
        # The U-Nets restate the image's size and channels: they must agree with it.
        unets = {
            "encoder.unet": isinstance(self.encoder, UNetEncoderConfig) and self.encoder.unet,
            "decoder.unet": self.decoder and self.decoder.unet,
        }
        for where, unet in unets.items():
            if not unet:
                continue
            for name, own, value in (
                ("image_size", "size", self.size), ("channels", "channels", self.channels)
            ):  # fmt: skip
                if getattr(unet, name) != value:
                    raise ValueError(
                        f"{where}.{name} is {getattr(unet, name)} but the image's {own} is {value}"
                    )


@dataclass(frozen=True)
class LabelConfig:
    """Labels 0..num_classes-1, one learned anchor each (case study 3)."""

    num_classes: int
    # The flow's keys sit beside num_classes in the JSON form, as the first release wrote them.
    flow: FlowSettings = field(default=LABEL_FLOW, metadata={dataclass_dicts.INLINE: True})
    cutoff: float = LABEL_CUTOFF  # share of the flow's first steps the alignment loss leaves out


@dataclass(frozen=True)
class ModelConfig:
    """A whole model: its name, the latent dimension q and its modalities."""

    name: str
    latent_dim: int
    image: ImageConfig
    label: LabelConfig | None = None  # a label modality (case study 3)

    @classmethod
    def from_dict(cls, data: object) -> ModelConfig:
        """The config a JSON-form dict describes; a ValueError names any bad key by its path."""
        return dataclass_dicts.from_dict(cls, data)

    def to_dict(self) -> dict:
        """The JSON form (what config.json holds)."""
        return dataclass_dicts.to_dict(self)
