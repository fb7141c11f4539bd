import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from lzn.data.folder import ImageFolder


def solid(path, colour, size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def as_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(h, w, 3) uint8 -> (3, h, w) in [-1, 1], the documented mapping."""
    return torch.from_numpy(pixels).permute(2, 0, 1).float() / 127.5 - 1


@pytest.fixture
def classes(tmp_path):
    solid(tmp_path / "cat" / "b.png", (10, 200, 30))
    solid(tmp_path / "cat" / "a.png", (0, 0, 0))
    solid(tmp_path / "dog" / "c.JPG", (250, 250, 250))
    solid(tmp_path / "bird" / "sub" / "d.png", (255, 0, 0))
    return tmp_path


def test_class_folders_give_sorted_labels_and_a_sorted_order(classes):
    data = ImageFolder(classes, size=8)
    assert data.classes == ("bird", "cat", "dog")
    relative = [data.path(i).relative_to(classes).as_posix() for i in range(len(data))]
    assert relative == ["bird/sub/d.png", "cat/a.png", "cat/b.png", "dog/c.JPG"]
    assert data.targets.tolist() == [0, 1, 1, 2]
    image, label = data[2]
    assert image.dtype == torch.float32 and image.shape == (3, 8, 8)
    assert label.dtype == torch.long and label == 1
    want = torch.tensor([10, 200, 30]) / 127.5 - 1
    assert torch.equal(image, want[:, None, None].expand(3, 8, 8))  # PNG: exact
    jpeg, _ = data[3]
    assert (jpeg - (250 / 127.5 - 1)).abs().max() < 0.05  # JPEG: lossy
    assert data[0][0].min() == -1 and data[0][0].max() == 1  # pure red spans the range


def test_labels_off_auto_and_required(classes):
    unlabelled = ImageFolder(classes, size=8, labels=False)
    assert unlabelled.classes == () and unlabelled.targets.tolist() == [-1] * 4
    solid(classes / "loose.png", (1, 2, 3))
    auto = ImageFolder(classes, size=8)
    assert auto.classes == () and auto[0][1] == -1 and len(auto) == 5
    with pytest.raises(ValueError, match=r"loose\.png"):
        ImageFolder(classes, size=8, labels=True)


def test_a_wide_image_is_centre_cropped_not_squashed(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 40, 3), dtype=np.uint8)
    pixels[:, :10] = (255, 0, 0)
    pixels[:, 30:] = (0, 0, 255)
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    Image.fromarray(pixels.transpose(1, 0, 2).copy()).save(tmp_path / "tall.png")
    data = ImageFolder(tmp_path, size=20)  # shorter side already 20: a pure crop
    tall, wide = data[0][0], data[1][0]
    assert torch.equal(wide, as_tensor(pixels[:, 10:30]))
    assert torch.equal(tall, as_tensor(pixels.transpose(1, 0, 2)[10:30]))


def test_the_shorter_side_is_resized_bicubic_then_cropped(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (30, 60, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "x.png")
    source = Image.fromarray(pixels)
    reference = source.resize((20, 10), Image.Resampling.BICUBIC).crop((5, 0, 15, 10))
    assert torch.equal(ImageFolder(tmp_path, size=10)[0][0], as_tensor(np.array(reference)))
    # resize > size: the usual evaluation crop (e.g. 256 then the centre 224)
    reference = source.resize((32, 16), Image.Resampling.BICUBIC).crop((12, 4, 20, 12))
    got = ImageFolder(tmp_path, size=8, resize=16)[0][0]
    assert torch.equal(got, as_tensor(np.array(reference)))
    assert ImageFolder(tmp_path, size=64)[0][0].shape == (3, 64, 64)  # enlarged


def test_one_channel_uses_the_luma_conversion(tmp_path):
    solid(tmp_path / "red.png", (255, 0, 0))
    image, _ = ImageFolder(tmp_path, size=4, channels=1)[0]
    assert image.shape == (1, 4, 4)
    assert torch.allclose(image, torch.full((1, 4, 4), 76 / 127.5 - 1))  # 0.299 * 255 = 76


def write_corrupt(tmp_path):
    solid(tmp_path / "a.png", (0, 0, 0))
    (tmp_path / "b.png").write_bytes(np.random.default_rng(0).bytes(300))
    solid(tmp_path / "c.png", (255, 255, 255))
    good = solid(tmp_path / "full.png", (9, 9, 9), size=(64, 64)).read_bytes()
    (tmp_path / "d.png").write_bytes(good[: len(good) // 2])  # truncated
    return tmp_path


def test_a_corrupt_file_is_an_error_naming_it(tmp_path):
    data = ImageFolder(write_corrupt(tmp_path), size=4)
    assert data[0][0].shape == (3, 4, 4)
    with pytest.raises(ValueError, match=r"b\.png"):
        data[1]


def test_skip_warns_once_and_returns_the_next_decodable_item(tmp_path):
    data = ImageFolder(write_corrupt(tmp_path), size=4, on_corrupt="skip")
    with pytest.warns(UserWarning, match=r"b\.png"):
        image, _ = data[1]
    assert torch.equal(image, data[2][0])  # c.png, white
    assert image.min() == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data[1]  # known bad: no second warning
    with pytest.warns(UserWarning, match=r"d\.png"):
        image, _ = data[3]  # the last-but-one file is truncated: its successor
    assert torch.equal(image, data[4][0])


def test_skip_wraps_around_and_gives_up_when_nothing_decodes(tmp_path):
    (tmp_path / "a.png").write_bytes(b"not an image")
    solid(tmp_path / "b.png", (0, 0, 0))
    (tmp_path / "c.png").write_bytes(b"nor this")
    data = ImageFolder(tmp_path, size=4, on_corrupt="skip")
    with pytest.warns(UserWarning) as caught:
        assert data[-1][0].max() == -1  # c.png is bad, wraps to a.png (bad), then b.png
    assert ["c.png" in str(w.message) for w in caught] == [True, False]
    (tmp_path / "b.png").write_bytes(b"")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="none of the 3"):
        ImageFolder(tmp_path, size=4, on_corrupt="skip")[0]


def test_verify_lists_the_bad_files(tmp_path):
    data = ImageFolder(write_corrupt(tmp_path), size=4, on_corrupt="skip")
    assert data.verify() == [tmp_path / "b.png", tmp_path / "d.png"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(data[1][0], data[2][0])  # verified bad: skipped silently


def test_missing_and_empty_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere.*does not exist.*\.png"):
        ImageFolder(tmp_path / "nowhere", size=8)
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match="no image files") as error:
        ImageFolder(tmp_path, size=8)
    assert str(tmp_path) in str(error.value) and ".jpeg" in str(error.value)


def test_extensions_any_case_and_hidden_files_are_ignored(tmp_path):
    solid(tmp_path / "A.PNG", (0, 0, 0))
    solid(tmp_path / "b.jpeg", (0, 0, 0))
    solid(tmp_path / ".c.png", (0, 0, 0))
    solid(tmp_path / ".ipynb_checkpoints" / "d.png", (0, 0, 0))
    (tmp_path / "e.txt").write_text("text")
    names = lambda data: [data.path(i).name for i in range(len(data))]  # noqa: E731
    assert names(ImageFolder(tmp_path, size=4)) == ["A.PNG", "b.jpeg"]
    assert names(ImageFolder(tmp_path, size=4, extensions=(".png",))) == ["A.PNG"]


@pytest.mark.parametrize(
    "bad", [{"on_corrupt": "ignore"}, {"channels": 2}, {"size": 0}, {"size": 8, "resize": 4}]
)
def test_bad_arguments(tmp_path, bad):
    solid(tmp_path / "a.png", (0, 0, 0))
    with pytest.raises(ValueError):
        ImageFolder(tmp_path, **{"size": 4, **bad})


def test_batches_through_a_data_loader(classes):
    images, labels = next(iter(DataLoader(ImageFolder(classes, size=6), batch_size=4)))
    assert images.shape == (4, 3, 6, 6) and images.is_contiguous()
    assert labels.tolist() == [0, 1, 1, 2]


@pytest.mark.parametrize(("name", "decoded"), [("big.jpg", (200, 150)), ("big.png", (800, 600))])
def test_open_bounds_the_shorter_side_and_never_decodes_a_large_jpeg_whole(
    tmp_path, monkeypatch, name, decoded
):
    pixels = np.random.default_rng(2).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / name)
    data = ImageFolder(tmp_path, size=8)
    resized_from, resize = [], Image.Image.resize

    def recording_resize(self, *args, **kwargs):
        resized_from.append(self.size)
        return resize(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", recording_resize)
    image, full = data.open(0, max_short_side=100)
    assert image.size == (133, 100) and image.mode == "RGB" and full == (800, 600)
    # A JPEG is decoded at 1/4 scale (1/8 would be under 100 pixels), then resized to the bound.
    assert resized_from == [decoded]
    image, full = data.open(0, max_short_side=600)  # not over the bound: as it is
    assert image.size == full == (800, 600)
    assert data.open(0)[0].size == (800, 600)
