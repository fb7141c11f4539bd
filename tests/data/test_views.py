"""Two random crops per image, cut from the full image: any part of it (borders included, unlike
the centre square), each view its own crop, seeded by (run seed, step, index), memory-bounded."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from lzn.data.batches import ItemKey
from lzn.data.folder import ImageFolder, as_tensor
from lzn.data.views import CroppedPairs, RandomCrops


def noise(path, size=(300, 200), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return Image.fromarray(pixels)


def framed(path, size=(300, 200), strip=50):
    """Grey inside, a coloured strip along each border: red left, blue right, green top, black
    bottom."""
    w, h = size
    pixels = np.full((h, w, 3), 128, dtype=np.uint8)
    pixels[:strip] = (0, 255, 0)
    pixels[-strip:] = (0, 0, 0)
    pixels[:, :strip] = (255, 0, 0)
    pixels[:, -strip:] = (0, 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def border_colours(views):
    """Which of the four border colours some pixel of `views` (..., 3, s, s) shows."""
    r, g, b = (views.movedim(-3, 0).flatten(1) > 0.6).float()
    dark = (views.movedim(-3, 0).flatten(1) < -0.6).all(0)
    return {
        "left": bool((r * (1 - g) * (1 - b)).any()),
        "right": bool(((1 - r) * (1 - g) * b).any()),
        "top": bool(((1 - r) * g * (1 - b)).any()),
        "bottom": bool(dark.any()),
    }


def test_an_item_is_two_different_crops_and_its_label(tmp_path):
    noise(tmp_path / "a" / "x.png")
    noise(tmp_path / "b" / "y.png", seed=1)
    pairs = CroppedPairs(ImageFolder(tmp_path, size=32), 32)
    assert len(pairs) == 2 and pairs.classes == ("a", "b") and pairs.targets.tolist() == [0, 1]
    for step in range(5):
        views, label = pairs[ItemKey(1, step, 0)]
        assert views.shape == (2, 3, 32, 32) and views.dtype == torch.float32
        assert views.min() >= -1 and views.max() <= 1 and label == 1
        assert (views[0] - views[1]).abs().max() > 0.1


def test_views_show_every_border_which_the_centre_square_never_does(tmp_path):
    framed(tmp_path / "x.png")
    pairs = CroppedPairs(ImageFolder(tmp_path, size=16), 16)
    views = torch.stack([pairs[ItemKey(0, step, 0)][0] for step in range(40)])
    assert border_colours(views) == dict.fromkeys(("left", "right", "top", "bottom"), True)
    centre = ImageFolder(tmp_path, size=16)[0][0]  # the old source of the crops
    assert border_colours(centre) == {"left": False, "right": False, "top": True, "bottom": True}


def test_the_crops_depend_on_seed_step_and_index_only(tmp_path):
    for name in "xy":
        noise(tmp_path / f"{name}.png", seed=ord(name))
    pairs = CroppedPairs(ImageFolder(tmp_path, size=16), 16)
    again = CroppedPairs(ImageFolder(tmp_path, size=16), 16)
    torch.manual_seed(0)
    first = pairs[ItemKey(0, 3, 7)][0]
    torch.manual_seed(1)  # the global generator plays no part
    assert torch.equal(first, again[ItemKey(0, 3, 7)][0])
    for other in (ItemKey(0, 4, 7), ItemKey(0, 3, 8)):
        assert not torch.equal(first, pairs[other][0])


def test_a_plain_index_draws_from_torchs_generator(tmp_path):
    noise(tmp_path / "x.png")
    pairs = CroppedPairs(ImageFolder(tmp_path, size=16), 16)
    torch.manual_seed(5)
    a, b = pairs[0][0], pairs[0][0]
    torch.manual_seed(5)
    assert torch.equal(a, pairs[0][0]) and not torch.equal(a, b)


def test_the_whole_image_is_resized_bilinear_and_the_bound_first_downscales_it(tmp_path):
    image = noise(tmp_path / "x.png")  # 300 x 200
    folder = ImageFolder(tmp_path, size=16)
    whole = dict(scale=(1, 1), ratio=(1.5, 1.5))  # the only box: the whole image
    views = CroppedPairs(folder, 16, **whole)[ItemKey(0, 0, 0)][0]
    want = as_tensor(image.resize((16, 16), Image.Resampling.BILINEAR))
    assert torch.equal(views[0], want) and torch.equal(views[1], want)
    bounded = image.resize((75, 50), Image.Resampling.BICUBIC)
    views = CroppedPairs(folder, 16, max_short_side=50, **whole)[ItemKey(0, 0, 0)][0]
    assert torch.equal(views[0], as_tensor(bounded.resize((16, 16), Image.Resampling.BILINEAR)))


def test_a_bounded_image_shows_the_same_part_at_lower_resolution(tmp_path):
    image = noise(tmp_path / "x.png", size=(400, 200))
    image = image.resize((40, 20), Image.Resampling.NEAREST).resize((400, 200))  # 10 px blocks
    image.save(tmp_path / "x.png")
    folder = ImageFolder(tmp_path, size=8)
    full = CroppedPairs(folder, 8)[ItemKey(0, 2, 0)][0]
    bounded = CroppedPairs(folder, 8, max_short_side=100)[ItemKey(0, 2, 0)][0]
    assert (full - bounded).abs().mean() < 0.02  # the same boxes; other boxes: 0.2 to 0.3


def test_a_corrupt_file_is_skipped_or_named(tmp_path):
    noise(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not an image")
    noise(tmp_path / "c.png", seed=2)
    with pytest.raises(ValueError, match=r"b\.png"):
        CroppedPairs(ImageFolder(tmp_path, size=8), 8)[ItemKey(1, 0, 0)]
    skipping = CroppedPairs(ImageFolder(tmp_path, size=8, on_corrupt="skip"), 8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        views, _ = skipping[ItemKey(1, 0, 0)]
    assert views.shape == (2, 3, 8, 8) and "b.png" in str(caught[0].message)


def test_grey_folders_give_one_channel(tmp_path):
    noise(tmp_path / "x.png")
    views, _ = CroppedPairs(ImageFolder(tmp_path, size=8, channels=1), 8)[ItemKey(0, 0, 0)]
    assert views.shape == (2, 1, 8, 8)


def test_bad_settings_are_refused(tmp_path):
    noise(tmp_path / "x.png")
    folder = ImageFolder(tmp_path, size=8)
    with pytest.raises(ValueError, match="crop size"):
        CroppedPairs(folder, 0)
    with pytest.raises(ValueError, match=r"max_short_side \(100\) must be at least"):
        CroppedPairs(folder, 224, max_short_side=100)
    with pytest.raises(ValueError, match="crop scale"):
        CroppedPairs(folder, 8, scale=(0.5, 2))


def test_random_crops_are_one_view_of_the_full_image_flipped_half_the_time(tmp_path):
    image = noise(tmp_path / "x.png")  # 300 x 200
    folder = ImageFolder(tmp_path, size=16)
    whole = dict(scale=(1, 1), ratio=(1.5, 1.5))  # the only box: the whole image
    want = as_tensor(image.resize((16, 16), Image.Resampling.BILINEAR))
    views = [RandomCrops(folder, 16, **whole)[ItemKey(0, step, 0)][0] for step in range(40)]
    assert all(v.shape == (3, 16, 16) for v in views)
    flipped = [bool(torch.equal(v, want.flip(-1))) for v in views]
    assert all(f or torch.equal(v, want) for v, f in zip(views, flipped, strict=True))
    assert 10 <= sum(flipped) <= 30  # p = 0.5 over 40 draws
    unflipped = RandomCrops(folder, 16, flip=False, **whole)
    assert all(torch.equal(unflipped[ItemKey(0, s, 0)][0], want) for s in range(10))
    # Seeded by the key alone, as the pairs; and random crops show every border.
    crops = RandomCrops(folder, 16)
    assert torch.equal(crops[ItemKey(0, 3, 7)][0], crops[ItemKey(0, 3, 7)][0])
    framed(tmp_path / "framed" / "x.png")
    crops = RandomCrops(ImageFolder(tmp_path / "framed", size=16), 16, flip=False)
    views = torch.stack([crops[ItemKey(0, step, 0)][0] for step in range(40)])
    assert border_colours(views) == dict.fromkeys(("left", "right", "top", "bottom"), True)
