import pytest
import torch

from lzn.eval.augment import crop_boxes, random_resized_crop


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def test_a_whole_image_square_crop_without_flip_is_the_identity():
    images = torch.randn(16, 3, 8, 8)
    same = random_resized_crop(images, scale=(1, 1), ratio=(1, 1), flip=False, generator=seeded())
    assert torch.equal(same, images)


def test_flip_mirrors_about_half_of_the_images_and_changes_nothing_else():
    images = torch.randn(200, 1, 6, 6)
    out = random_resized_crop(images, scale=(1, 1), ratio=(1, 1), flip=True, generator=seeded())
    kept = torch.isclose(out, images, atol=1e-6).flatten(1).all(1)
    mirrored = torch.isclose(out, images.flip(-1), atol=1e-6).flatten(1).all(1)
    assert bool((kept | mirrored).all())
    assert 70 < int(mirrored.sum()) < 130


def test_the_crop_samples_the_box_it_drew():
    # Bilinear resampling is exact on a linear ramp, so each output pixel holds the input
    # coordinate it was sampled from: x0 + width * (output pixel centre), in [0, 1] units.
    size = 32
    centres = (torch.arange(size) + 0.5) / size
    ramp = centres.expand(size, size).clone()  # value = the x coordinate of the pixel centre
    images = torch.stack([ramp, ramp.T])[None].repeat(64, 1, 1, 1)  # channels: x and y ramps
    out = random_resized_crop(images, scale=(0.3, 0.9), flip=False, generator=seeded(5))
    boxes = crop_boxes(64, scale=(0.3, 0.9), generator=seeded(5))  # the same draws, in order
    x0, y0, width, height = (b[:, None] for b in boxes.unbind(1))
    want_x = x0 + width * centres
    want_y = y0 + height * centres
    # Only where the sample lies between the outermost pixel centres (the border is clamped).
    inner_x = (want_x >= centres[0]) & (want_x <= centres[-1])
    inner_y = (want_y >= centres[0]) & (want_y <= centres[-1])
    got_x, got_y = out[:, 0, 0, :], out[:, 1, :, 0]
    assert torch.allclose(got_x[inner_x], want_x[inner_x], atol=1e-5)
    assert torch.allclose(got_y[inner_y], want_y[inner_y], atol=1e-5)
    assert inner_x.float().mean() > 0.8


def test_crop_boxes_lie_in_the_image_with_the_asked_area():
    boxes = crop_boxes(2000, scale=(0.25, 0.5), generator=seeded())
    x0, y0, width, height = boxes.unbind(1)
    assert bool((x0 >= 0).all() and (y0 >= 0).all())
    assert bool((x0 + width <= 1 + 1e-6).all() and (y0 + height <= 1 + 1e-6).all())
    area = width * height
    assert bool(((area >= 0.25 - 1e-6) & (area <= 0.5 + 1e-6)).all())
    ratio = width / height
    assert bool(((ratio >= 3 / 4 - 1e-5) & (ratio <= 4 / 3 + 1e-5)).all())
    # Positions spread over the room left: some crops touch the left edge region, some the right.
    assert float(x0.min()) < 0.02 and float((x0 + width).max()) > 0.98


def test_the_draws_are_fixed_by_the_seed():
    images = torch.randn(10, 1, 8, 8)
    first = random_resized_crop(images, scale=(0.5, 1), flip=True, generator=seeded(1))
    again = random_resized_crop(images, scale=(0.5, 1), flip=True, generator=seeded(1))
    other = random_resized_crop(images, scale=(0.5, 1), flip=True, generator=seeded(2))
    assert torch.equal(first, again) and not torch.equal(first, other)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": (0.0, 1.0)}, "crop scale must satisfy 0 < low <= high <= 1"),
        ({"scale": (0.9, 0.5)}, "crop scale must satisfy"),
        ({"scale": "big"}, "crop scale must be two numbers"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        random_resized_crop(torch.zeros(2, 1, 4, 4), flip=False, **kwargs)


def test_non_image_input_is_refused():
    with pytest.raises(ValueError, match=r"float images \(b, c, h, w\)"):
        random_resized_crop(torch.zeros(2, 4, 4), scale=(0.5, 1), flip=False)
