"""With the paper's settings, parameter counts equal the paper's tables (App. C-E)."""

import pytest

from lzn import presets
from lzn.nets import HeadConfig, ResNetConfig, ResNetEncoder, UNetConfig, UNetDecoder, UNetEncoder


def count(module):
    return sum(p.numel() for p in module.parameters())


CIFAR = UNetConfig()
HIGH_RES = UNetConfig(
    image_size=256,
    ch_mult=(1, 1, 2, 2, 2, 2, 2),
    num_res_blocks=2,
    dropout=0.0,
    fir_kernel=(1, 3, 3, 1),
    progressive="output_skip",
    progressive_input="input_skip",
    embedding="fourier",
    scale_by_sigma=True,
)


@pytest.mark.parametrize(
    ("build", "paper"),
    [
        (lambda: UNetDecoder(CIFAR, latent_dim=200), 61_906_819),  # Table 9, RF+LZN decoder
        (lambda: UNetEncoder(CIFAR, latent_dim=200), 49_790_260),  # RF+LZN encoder
        (lambda: UNetDecoder(CIFAR, latent_dim=0, num_classes=10), 61_809_539),  # RF, Table 10
        (lambda: UNetDecoder(CIFAR, latent_dim=200, num_classes=10), 61_911_939),  # RF+LZN
        (lambda: UNetDecoder(HIGH_RES, latent_dim=200), 65_676_949),  # 256x256 decoder
        (
            lambda: UNetEncoder(HIGH_RES, 200, HeadConfig(resolutions=(64, 32, 16, 8, 4))),
            87_768_896,
        ),
        # The paper's ResNet-50 count is a one-layer head; the code's two-layer head is 28.2 M.
        (lambda: ResNetEncoder(ResNetConfig(head_layers=1), 256), 24_032_832),
    ],
)
def test_paper_parameter_counts(build, paper):
    assert count(build()) == paper


def test_resnet50_with_the_code_head():
    model = ResNetEncoder(ResNetConfig(), 256)
    assert count(model) == 28_231_232
    assert count(model.head) == 4_723_200


def test_presets_use_the_paper_networks():
    model = presets.build("cifar10-joint")
    assert count(model.image.decoder) == 61_911_939
    assert count(model.image.encoder) == 49_790_260
    assert tuple(model.label.anchors.shape) == (10, 200)
