"""The images lzn evaluate reads: CIFAR-10 in memory as the files hold them, ImageNet and image
folders streamed in file order at the model's size, the same batches either way."""

import numpy as np
import pytest
import torch
from PIL import Image

from lzn.data import cifar10
from lzn.data.imagenet import ImageNet
from lzn.eval.datasets import evaluation_split
from lzn.eval.sources import Images, open_data
from tests.data.test_cifar10 import N, fake_files, write_folder


@pytest.fixture
def cifar_root(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "RECORDS_PER_FILE", N)
    files = fake_files()
    write_folder(tmp_path, files)
    return tmp_path, files


def test_cifar10_is_the_official_split_scaled_to_minus_one_one(cifar_root):
    root, files = cifar_root
    train, test = open_data(evaluation_split(None, data="cifar10"), root, size=32, channels=3)
    for part, images in (("train", train), ("test", test)):
        names = cifar10.FILES[part]
        pixels = np.concatenate([files[n][0] for n in names])
        labels = np.concatenate([files[n][1] for n in names])
        assert not images.streamed and len(images) == len(labels) == N * len(names)
        assert torch.equal(images.tensor, torch.from_numpy(pixels).float() / 127.5 - 1)
        assert images.labels.tolist() == labels.tolist()
        assert torch.equal(torch.cat(list(images.batches(3))), images.tensor)
    with pytest.raises(ValueError, match="the model takes 1x28x28 images, cifar10 has 3x32x32"):
        open_data(evaluation_split(None, data="cifar10"), root, size=28, channels=1)


def write_imagenet(root, sizes=((40, 30), (30, 50), (48, 48))):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for wnid in ("n01", "n02"):
            for i, (w, h) in enumerate(sizes):
                (root / split / wnid).mkdir(parents=True, exist_ok=True)
                pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / wnid / f"{i}.png")


def test_imagenet_is_streamed_in_file_order_with_the_evaluation_crop(tmp_path):
    write_imagenet(tmp_path)
    train, val = open_data(evaluation_split(None, data="imagenet"), tmp_path, size=14, channels=3)
    for part, images in (("train", train), ("val", val)):
        # 14 x 256/224 = 16: the shorter side resized to 16, the centre 14 kept.
        reference = ImageNet(tmp_path, part, size=14, resize=16)
        assert images.streamed and len(images) == len(reference) == 6
        want = torch.stack([reference[i][0] for i in range(len(reference))])
        assert torch.equal(torch.cat(list(images.batches(4))), want)
        assert torch.equal(images.first(5), want[:5])
        assert images.labels.tolist() == [0, 0, 0, 1, 1, 1]
        with pytest.raises(ValueError, match="needs the whole split in memory; imagenet"):
            images.in_memory("accuracy")


def test_a_folder_is_one_unlabelled_reference_split(tmp_path):
    write_imagenet(tmp_path)
    folder = tmp_path / "train" / "n01"
    train, test = open_data(evaluation_split(None, data="folder"), folder, size=8, channels=3)
    assert test is None and len(train) == 3 and train.labels.tolist() == [-1, -1, -1]
    assert next(train.batches(8)).shape == (3, 3, 8, 8)


def test_a_missing_or_unnamed_root_is_refused(tmp_path):
    split = evaluation_split(None, data="cifar10")
    with pytest.raises(ValueError, match="data: cifar10 needs data_root"):
        open_data(split, None, size=32, channels=3)
    with pytest.raises(FileNotFoundError, match=r"data_root .*nowhere does not exist"):
        open_data(split, tmp_path / "nowhere", size=32, channels=3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"CIFAR-10 .* not found"):
        open_data(split, tmp_path / "empty", size=32, channels=3)
    with pytest.raises(ValueError, match="exactly one"):
        Images(torch.zeros(2, dtype=torch.long))


def test_download_fetches_cifar10_into_a_new_root_and_only_cifar10(tmp_path, monkeypatch):
    import hashlib
    import io

    from tests.data.test_cifar10 import tar_bytes

    files = fake_files()
    payload = tar_bytes(files)
    monkeypatch.setattr(cifar10, "RECORDS_PER_FILE", N)
    monkeypatch.setattr(cifar10, "MD5", hashlib.md5(payload).hexdigest())
    monkeypatch.setattr(cifar10, "urlopen", lambda url, timeout=None: io.BytesIO(payload))
    root = tmp_path / "new"
    split = evaluation_split(None, data="cifar10")
    train, test = open_data(split, root, size=32, channels=3, download=True)
    assert (root / cifar10.ARCHIVE).is_file() and len(train) == 5 * N and len(test) == N
    with pytest.raises(ValueError, match="download is for cifar10 only; imagenet"):
        open_data(evaluation_split(None, data="imagenet"), root, size=8, channels=3, download=True)


def test_imagenet_splits_with_different_classes_are_refused(tmp_path):
    write_imagenet(tmp_path)
    (tmp_path / "val" / "n02").rename(tmp_path / "val" / "n03")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="labels would not match"):
        open_data(evaluation_split(None, data="imagenet"), tmp_path, size=8, channels=3)
