"""Networks: the NCSN++ U-Net (decoder) and its down path (encoder), and a GroupNorm ResNet."""

from lzn.nets.ncsnpp import HeadConfig, UNetConfig, UNetDecoder, UNetEncoder
from lzn.nets.resnet import ResNetConfig, ResNetEncoder

__all__ = [
    "HeadConfig",
    "ResNetConfig",
    "ResNetEncoder",
    "UNetConfig",
    "UNetDecoder",
    "UNetEncoder",
]
