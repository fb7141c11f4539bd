import torch

from lzn.nets.layers import AttnBlock, Resample, ResBlock
from lzn.nets.ncsnpp import UNetConfig, UNetDecoder


def test_fir_resampling_keeps_constant_images_and_shapes():
    x = torch.full((2, 3, 8, 8), 0.7)
    up, down = (
        Resample(up=True, fir_kernel=(1, 3, 3, 1)),
        Resample(up=False, fir_kernel=(1, 3, 3, 1)),
    )
    y = up(x)
    assert y.shape == (2, 3, 16, 16)
    assert torch.allclose(y[:, :, 2:-2, 2:-2], torch.full_like(y[:, :, 2:-2, 2:-2], 0.7))
    z = down(torch.full((2, 3, 16, 16), 0.7))
    assert z.shape == (2, 3, 8, 8)
    assert torch.allclose(z[:, :, 1:-1, 1:-1], torch.full_like(z[:, :, 1:-1, 1:-1], 0.7))


def test_blocks_start_close_to_their_skip_path():
    """The last layer of each residual branch starts at zero (init_scale 0), as in NCSN++."""
    x = torch.randn(2, 16, 8, 8)
    assert torch.allclose(ResBlock(16)(x), x / 2**0.5, atol=1e-3)
    assert torch.allclose(AttnBlock(16)(x), x / 2**0.5, atol=1e-3)


def test_decoder_output_shape_and_latent_dependence():
    cfg = UNetConfig(
        image_size=8,
        channels=1,
        nf=8,
        ch_mult=(1, 2),
        num_res_blocks=1,
        attn_resolutions=(4,),
        dropout=0.0,
        init_scale=1.0,
    )
    decoder = UNetDecoder(cfg, latent_dim=4).eval()
    x, t = torch.randn(3, 1, 8, 8), torch.rand(3)
    z = torch.randn(3, 4)
    v = decoder(x, t, z)
    assert v.shape == x.shape
    assert not torch.allclose(v, decoder(x, t, z + 1.0))
