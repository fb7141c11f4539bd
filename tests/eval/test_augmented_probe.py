import numpy as np
import pytest
import torch

from lzn.data import digits
from lzn.data.folder import ImageFolder
from lzn.eval import augmented_linear_probe, linear_probe
from lzn.eval.augmented_probe import streamed_augmented_linear_probe


@pytest.fixture(scope="module")
def split():
    return digits.load()


def pixels(images):
    return images.flatten(1)


class Recorder:
    """Pixel features that keep every batch of images they were given."""

    def __init__(self):
        self.inputs = []

    def __call__(self, images):
        self.inputs.append(images.clone())
        return images.flatten(1)


FAST = {"epochs": 30, "batch_size": 128, "lr": 1e-2, "crop_scale": (0.8, 1.0), "flip": False}


def test_on_digit_pixels_it_comes_within_a_few_points_of_the_lbfgs_probe(split):
    x_train, y_train, x_test, y_test = split
    augmented = augmented_linear_probe(pixels, x_train, y_train, x_test, y_test, **FAST)
    frozen = linear_probe(pixels(x_train), y_train, pixels(x_test), y_test, weight_decays=(1e-2,))
    # Raw pixels are the hardest case for crops (a pixel feature moves with the crop): a linear
    # probe on them still reaches ~96% against L-BFGS's 97.5% without augmentation.
    assert abs(augmented["top1"] - frozen["top1"]) <= 0.03
    assert augmented["top1"] <= augmented["top5"]
    assert augmented["train_samples"] == len(x_train) and augmented["test_samples"] == len(x_test)
    assert "augmented anew every epoch" in augmented["protocol"]


def test_the_same_seed_gives_the_same_probe(split):
    x_train, y_train, x_test, y_test = split
    options = {**FAST, "epochs": 2}
    first = augmented_linear_probe(pixels, x_train, y_train, x_test, y_test, seed=4, **options)
    again = augmented_linear_probe(pixels, x_train, y_train, x_test, y_test, seed=4, **options)
    other = augmented_linear_probe(pixels, x_train, y_train, x_test, y_test, seed=5, **options)
    assert first == again
    assert other["final_train_loss"] != first["final_train_loss"]


def test_every_epoch_sees_freshly_augmented_train_images_and_the_test_is_not_augmented(split):
    x_train, y_train, x_test, y_test = split
    n = len(x_train)
    embed = Recorder()
    augmented_linear_probe(
        embed, x_train, y_train, x_test, y_test, epochs=2, batch_size=n,
        embed_batch_size=n, crop_scale=(0.5, 1.0), flip=False,
    )  # fmt: skip
    # Calls: the un-augmented train images (standardisation), epoch 1, epoch 2, the test images.
    assert len(embed.inputs) == 4
    reference, epoch1, epoch2, test = embed.inputs
    assert torch.equal(reference, x_train) and torch.equal(test, x_test)

    def nearest(a, b):  # distance from each image of a to its nearest image of b
        return torch.cdist(a.flatten(1), b.flatten(1)).min(1).values

    # No training view is an original image, and epoch 2's views are not epoch 1's.
    assert float(nearest(epoch1, x_train).min()) > 0
    assert float(nearest(epoch2, epoch1).min()) > 0


def test_no_augmentation_and_one_full_batch_is_plain_full_batch_training(split):
    # With the identity "crop" every epoch sees the same features: the probe then depends on
    # the seed only through the shuffling, which one full batch removes.
    x_train, y_train, x_test, y_test = split
    options = {"epochs": 3, "batch_size": len(x_train), "crop_scale": (1.0, 1.0), "flip": False}
    a = augmented_linear_probe(pixels, x_train, y_train, x_test, y_test, seed=0, **options)
    b = augmented_linear_probe(pixels, x_train, y_train, x_test, y_test, seed=9, **options)
    assert a["top1"] == b["top1"] and a["final_train_loss"] == pytest.approx(b["final_train_loss"])


BAD_SETTINGS = [
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer"),
    ({"lr": 0.0}, "lr must be positive"),
    ({"weight_decay": -1.0}, "weight_decay non-negative"),
    ({"crop_scale": (0.5, 2.0)}, "crop scale must satisfy"),
]


@pytest.mark.parametrize(("change", "message"), BAD_SETTINGS)
def test_bad_settings_are_refused(split, change, message):
    x_train, y_train, x_test, y_test = split
    with pytest.raises(ValueError, match=message):
        augmented_linear_probe(pixels, x_train, y_train, x_test, y_test, **change)


@pytest.mark.parametrize(("change", "message"), BAD_SETTINGS)
def test_bad_settings_of_the_streamed_probe_are_refused(tmp_path, change, message):
    folder = write_classes(tmp_path, per_class=2)
    with pytest.raises(ValueError, match=message):
        streamed_augmented_linear_probe(pixels, folder, folder, **change)


def test_bad_inputs_are_refused(split):
    x_train, y_train, x_test, y_test = split
    with pytest.raises(ValueError, match="the train labels must have shape"):
        augmented_linear_probe(pixels, x_train, y_train[:5], x_test, y_test)
    with pytest.raises(ValueError, match="train and test images differ in shape"):
        augmented_linear_probe(pixels, x_train, y_train, x_test[:, :, :4], y_test)
    with pytest.raises(ValueError, match="embed returned shape"):
        augmented_linear_probe(lambda x: x, x_train, y_train, x_test, y_test)


def write_classes(root, per_class=6, size=8, seed=0):
    """Square RGB PNGs in two class folders; class 1 is brighter in red, class 0 in blue."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label, name in enumerate(("n01", "n02")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 160, (size, size, 3))
            pixels[..., 0 if label else 2] += 90
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    return ImageFolder(root, size=size)


def stacked(folder):
    """(images, labels) of every item of `folder`, as tensors."""
    items = [folder[i] for i in range(len(folder))]
    return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])


def mean_colour(images):
    return images.mean((2, 3))


def test_streamed_from_disk_it_is_the_in_memory_probe_when_views_are_the_images(tmp_path):
    # Whole-image crops of square images without flips are the images themselves: the probe
    # read from disk (epochs of chunks gathered into batches) must then be the in-memory one.
    train = write_classes(tmp_path / "train")
    test = write_classes(tmp_path / "val", per_class=3, seed=1)
    options = {"epochs": 3, "batch_size": len(train), "crop_scale": (1.0, 1.0), "flip": False}
    streamed = streamed_augmented_linear_probe(
        pixels, train, test, embed_batch_size=5, lr=1e-2, **options
    )
    x_train, y_train = stacked(train)
    x_test, y_test = stacked(test)
    memory = augmented_linear_probe(
        pixels, x_train, y_train, x_test, y_test, embed_batch_size=5, lr=1e-2, **options
    )
    assert streamed["final_train_loss"] == pytest.approx(memory["final_train_loss"], rel=1e-5)
    assert (streamed["top1"], streamed["top5"]) == (memory["top1"], memory["top5"])
    assert streamed["train_samples"] == 12 and streamed["test_samples"] == 6


def test_streamed_it_learns_the_classes_and_any_number_of_workers_gives_the_same_probe(tmp_path):
    train = write_classes(tmp_path / "train", per_class=10)
    test = write_classes(tmp_path / "val", per_class=5, seed=1)
    options = {"epochs": 20, "batch_size": 8, "lr": 0.1, "seed": 3, "embed_batch_size": 3}
    one = streamed_augmented_linear_probe(mean_colour, train, test, **options)
    assert one["top1"] == 1.0  # the colours separate the classes; misread labels would not
    assert "augmented anew every epoch" in one["protocol"] and one["flip"] is True
    two = streamed_augmented_linear_probe(mean_colour, train, test, workers=2, **options)
    assert two == one
    other = streamed_augmented_linear_probe(mean_colour, train, test, **{**options, "seed": 4})
    assert other["final_train_loss"] != one["final_train_loss"]


def test_streamed_images_need_class_labels(tmp_path):
    train = write_classes(tmp_path / "train")
    (tmp_path / "loose").mkdir()
    (tmp_path / "train" / "n01" / "0.png").rename(tmp_path / "loose" / "0.png")
    with pytest.raises(ValueError, match="the test images need class labels"):
        streamed_augmented_linear_probe(
            pixels, train, ImageFolder(tmp_path / "loose", size=8), epochs=1
        )


def test_a_streamed_train_folder_that_skips_corrupt_files_is_refused(tmp_path):
    write_classes(tmp_path)
    skipping = ImageFolder(tmp_path, size=8, on_corrupt="skip")
    with pytest.raises(ValueError, match="on_corrupt='error'"):
        streamed_augmented_linear_probe(pixels, skipping, skipping, epochs=1)
