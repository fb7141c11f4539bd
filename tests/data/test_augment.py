import pytest
import torch

from lzn.data.augment import SimCLRViews, blur_kernel_size, hflip

OFF = dict(
    scale=(1.0, 1.0), ratio=(1.0, 1.0), jitter=(0, 0, 0, 0), jitter_p=0.0, grayscale_p=0.0,
    blur_p=0.0, flip_p=0.0,
)  # fmt: skip


def images(c=3, s=16, b=6):
    return torch.rand(b, c, s, s) * 2 - 1


def total_variation(x):
    return (x[..., 1:, :] - x[..., :-1, :]).abs().sum((1, 2, 3)) + (
        x[..., 1:] - x[..., :-1]
    ).abs().sum((1, 2, 3))


def test_hflip_all_none_and_some():
    x = images(b=64)
    assert torch.equal(hflip(x, p=1.0), torch.flip(x, dims=[-1]))
    assert torch.equal(hflip(x, p=0.0), x)
    y = hflip(x, generator=torch.Generator().manual_seed(5))
    flipped = (y == x.flip(-1)).flatten(1).all(1)
    assert ((y == x).flatten(1).all(1) | flipped).all()  # each sample is whole, flipped or not
    assert 10 < flipped.sum() < 54
    assert torch.equal(y, hflip(x, generator=torch.Generator().manual_seed(5)))


@pytest.mark.parametrize("c", [1, 3])
def test_views_shapes_range_and_difference(c):
    x = images(c, s=24)
    view1, view2 = SimCLRViews(16)(x)
    for view in (view1, view2):
        assert view.shape == (6, c, 16, 16) and view.dtype == x.dtype and view.device == x.device
        assert view.min() >= -1 and view.max() <= 1
    assert (view1 - view2).abs().flatten(1).amax(1).min() > 0.01  # every pair differs
    same_size = SimCLRViews(24)(x)[0]
    assert (same_size - x).abs().flatten(1).amax(1).min() > 0.01


@pytest.mark.parametrize("c", [1, 3])
def test_all_off_is_the_identity(c):
    x = images(c)
    for view in SimCLRViews(16, **OFF)(x):
        assert (view - x).abs().max() < 1e-5


def test_blur_alone_smooths_every_image():
    x = images()
    view, _ = SimCLRViews(16, **{**OFF, "blur_p": 1.0, "blur_sigma": (1.0, 2.0)})(x)
    assert (total_variation(view) < 0.8 * total_variation(x)).all()


def test_grayscale_gives_equal_channels():
    view, _ = SimCLRViews(16, grayscale_p=1.0)(images())
    assert torch.equal(view[:, 0], view[:, 1]) and torch.equal(view[:, 1], view[:, 2])
    colour, _ = SimCLRViews(16, grayscale_p=0.0, jitter_p=0.0)(images())
    assert not torch.equal(colour[:, 0], colour[:, 1])


def test_the_seed_fixes_the_views():
    x, views = images(), SimCLRViews(16)
    torch.manual_seed(7)
    a = views(x)
    torch.manual_seed(7)
    b = views(x)
    c = views(x)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_half_precision_comes_back_as_given():
    view, _ = SimCLRViews(8)(images().bfloat16())
    assert view.dtype == torch.bfloat16 and view.shape == (6, 3, 8, 8)


def test_blur_kernel_default():
    assert [blur_kernel_size(s) for s in (8, 32, 64, 96, 224, 256)] == [3, 3, 7, 9, 23, 25]
    assert SimCLRViews(224).blur.flags["kernel_size"] in (23, (23, 23))
    with pytest.raises(ValueError, match="odd"):
        SimCLRViews(16, blur_kernel=4)


def test_bad_inputs_are_refused():
    for bad in (torch.rand(2, 2, 8, 8), torch.rand(3, 8, 8), torch.zeros(2, 3, 8, 8, dtype=int)):
        with pytest.raises(ValueError, match="c = 1 or 3"):
            hflip(bad)
        with pytest.raises(ValueError, match="c = 1 or 3"):
            SimCLRViews(8)(bad)


def test_the_plain_path_is_the_crop_then_the_other_ops_as_before():
    views, x = SimCLRViews(16), images(s=24)
    torch.manual_seed(3)
    view1, view2 = views(x)
    torch.manual_seed(3)
    want = views.flip(views.crop((torch.cat([x, x]) + 1) / 2))
    want = views.blur(views.grayscale(views.jitter(want))).clamp(0, 1) * 2 - 1
    assert torch.equal(view1, want[:6]) and torch.equal(view2, want[6:])


@pytest.mark.parametrize("c", [1, 3])
def test_pre_cropped_pairs_skip_the_crop(c):
    x, y = images(c), images(c)
    crop_only = SimCLRViews(16, **{**OFF, "scale": (0.08, 1.0), "ratio": (3 / 4, 4 / 3)})
    view1, view2 = crop_only(torch.stack([x, y], 1))
    assert (view1 - x).abs().max() < 1e-6 and (view2 - y).abs().max() < 1e-6
    assert (crop_only(x)[0] - x).abs().max() > 0.1  # the plain path crops


@pytest.mark.parametrize("c", [1, 3])
def test_pre_cropped_pairs_get_the_other_ops_of_the_plain_path(c):
    # Every op but the crop on or off for certain (and a fixed blur): both paths must agree.
    fixed = dict(flip_p=1.0, grayscale_p=1.0, jitter_p=0.0, blur_p=1.0, blur_sigma=(1.0, 1.0))
    views = SimCLRViews(16, scale=(1.0, 1.0), ratio=(1.0, 1.0), **fixed)  # crop: the identity
    x, y = images(c), images(c)
    view1, view2 = views(torch.stack([x, y], 1))
    assert (view1 - views(x)[0]).abs().max() < 1e-5 and (view2 - views(y)[1]).abs().max() < 1e-5
    assert (view1 - x).abs().max() > 0.1  # the ops did something


def test_each_pre_cropped_view_draws_its_own_ops_from_the_seed():
    x = images(b=8)
    pairs, views = torch.stack([x, x], 1), SimCLRViews(16)
    torch.manual_seed(4)
    view1, view2 = views(pairs)
    assert (view1 - view2).abs().flatten(1).amax(1).min() > 0.01  # equal crops, other ops
    torch.manual_seed(4)
    assert torch.equal(views(pairs)[0], view1)
    assert views(pairs.bfloat16())[0].dtype == torch.bfloat16


def test_bad_pairs_are_refused():
    with pytest.raises(ValueError, match="8 x 8, but these views are 16 x 16"):
        SimCLRViews(16)(torch.rand(2, 2, 3, 8, 8))
    for bad in (torch.rand(2, 3, 3, 16, 16), torch.rand(2, 2, 2, 16, 16)):
        with pytest.raises(ValueError, match=r"\(b, 2, c, s, s\) with c = 1 or 3"):
            SimCLRViews(16)(bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_views_stay_on_the_gpu():
    x = images().cuda()
    torch.manual_seed(0)
    a = SimCLRViews(16)(x)
    torch.manual_seed(0)
    b = SimCLRViews(16)(x)
    assert a[0].device == x.device and torch.equal(a[0], b[0])
    assert hflip(x, generator=torch.Generator().manual_seed(0)).device == x.device
    pairs = SimCLRViews(16)(torch.stack([x, x], 1))
    assert pairs[0].device == x.device and pairs[0].shape == x.shape
