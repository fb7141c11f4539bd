"""Networks: the NCSN++ U-Net (decoder) and its down path (encoder), a GroupNorm ResNet, a small
conv net, the projection head, and any backbone as an encoder."""

from lzn.nets.backbone import BackboneEncoder
from lzn.nets.convnet import ConvNet
from lzn.nets.heads import ProjectionHead
from lzn.nets.ncsnpp import HeadConfig, UNetConfig, UNetDecoder, UNetEncoder
from lzn.nets.resnet import ResNetConfig, ResNetEncoder

__all__ = [
    "BackboneEncoder",
    "ConvNet",
    "HeadConfig",
    "ProjectionHead",
    "ResNetConfig",
    "ResNetEncoder",
    "UNetConfig",
    "UNetDecoder",
    "UNetEncoder",
]
