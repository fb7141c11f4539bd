import hashlib
import io
import tarfile

import numpy as np
import pytest
import torch

from lzn.data import cifar10

N = 3  # records per fake batch file


@pytest.fixture(autouse=True)
def _small_files(monkeypatch):
    monkeypatch.setattr(cifar10, "RECORDS_PER_FILE", N)


def fake_files(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray, bytes]]:
    """Every batch file of both splits: name -> (pixels (N, 3, 32, 32), labels, file bytes)."""
    rng = np.random.default_rng(seed)
    files = {}
    for name in cifar10.FILES["train"] + cifar10.FILES["test"]:
        pixels = rng.integers(0, 256, (N, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, N, dtype=np.uint8)
        records = np.concatenate([labels[:, None], pixels.reshape(N, -1)], axis=1)
        files[name] = (pixels, labels, records.tobytes())
    return files


def write_folder(root, files):
    folder = root / cifar10.FOLDER
    folder.mkdir(parents=True)
    for name, (_, _, data) in files.items():
        (folder / name).write_bytes(data)


def tar_bytes(files) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, (_, _, data) in files.items():
            info = tarfile.TarInfo(f"{cifar10.FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def expected(files, split):
    names = cifar10.FILES[split]
    pixels = torch.from_numpy(np.concatenate([files[n][0] for n in names]))
    labels = torch.from_numpy(np.concatenate([files[n][1] for n in names])).long()
    return pixels, labels


@pytest.mark.parametrize("layout", ["folder", "tarball"])
def test_exact_round_trip_of_both_splits(tmp_path, layout):
    files = fake_files()
    if layout == "folder":
        write_folder(tmp_path, files)
    else:
        (tmp_path / cifar10.ARCHIVE).write_bytes(tar_bytes(files))
    for split, n in [("train", 5 * N), ("test", N)]:
        images, labels = cifar10.load(tmp_path, split=split)
        assert images.dtype == torch.uint8 and images.shape == (n, 3, 32, 32)
        assert labels.dtype == torch.long and labels.shape == (n,)
        want_images, want_labels = expected(files, split)
        assert torch.equal(images, want_images) and torch.equal(labels, want_labels)
    assert (tmp_path / cifar10.FOLDER).exists() == (layout == "folder")  # nothing extracted


def test_records_are_label_then_red_green_blue_planes_row_major(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "RECORDS_PER_FILE", 1)
    folder = tmp_path / cifar10.FOLDER
    folder.mkdir()
    (folder / "test_batch.bin").write_bytes(bytes([7]) + bytes(k % 251 for k in range(3072)))
    images, labels = cifar10.load(tmp_path, split="test")
    assert labels.tolist() == [7]
    assert images[0, 0, 0, :3].tolist() == [0, 1, 2]  # red, first row
    assert images[0, 0, 1, 0] == 32  # red, second row
    assert images[0, 1, 0, 0] == 1024 % 251  # green plane follows the red one
    assert images[0, 2, 31, 31] == 3071 % 251  # last byte: blue, bottom right
    assert len(cifar10.CLASSES) == 10 and cifar10.CLASSES[7] == "horse"


def test_the_extracted_folder_is_preferred_to_the_tarball(tmp_path):
    write_folder(tmp_path, fake_files(seed=1))
    (tmp_path / cifar10.ARCHIVE).write_bytes(tar_bytes(fake_files(seed=2)))
    images, _ = cifar10.load(tmp_path, split="test")
    assert torch.equal(images, expected(fake_files(seed=1), "test")[0])


def test_missing_data_names_every_path_and_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        cifar10.load(tmp_path, split="train")
    message = str(error.value)
    for name in cifar10.FILES["train"]:
        assert str(tmp_path / cifar10.FOLDER / name) in message
    assert str(tmp_path / cifar10.ARCHIVE) in message
    assert cifar10.URL in message and "download" in message


@pytest.mark.parametrize("cut", [5, cifar10._RECORD])  # mid-record, and one whole record short
def test_a_truncated_file_is_named(tmp_path, cut):
    files = fake_files()
    write_folder(tmp_path, files)
    path = tmp_path / cifar10.FOLDER / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(ValueError, match=r"data_batch_3\.bin.*truncated"):
        cifar10.load(tmp_path, split="train")
    assert cifar10.load(tmp_path, split="test")[0].shape == (N, 3, 32, 32)  # other split fine


def test_a_truncated_member_of_the_tarball_is_named(tmp_path):
    files = fake_files()
    pixels, labels, data = files["test_batch.bin"]
    files["test_batch.bin"] = (pixels, labels, data[:-100])
    (tmp_path / cifar10.ARCHIVE).write_bytes(tar_bytes(files))
    with pytest.raises(ValueError, match=r"cifar-10-binary\.tar\.gz:.*test_batch\.bin"):
        cifar10.load(tmp_path, split="test")


def test_a_broken_tarball_is_named(tmp_path):
    (tmp_path / cifar10.ARCHIVE).write_bytes(tar_bytes(fake_files())[:200])
    with pytest.raises(ValueError, match=r"cifar-10-binary\.tar\.gz"):
        cifar10.load(tmp_path, split="train")


def test_check_md5(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"lzn" * 1000)
    good = hashlib.md5(b"lzn" * 1000).hexdigest()
    cifar10.check_md5(path, good)
    with pytest.raises(ValueError) as error:
        cifar10.check_md5(path, cifar10.MD5)
    assert cifar10.MD5 in str(error.value) and good in str(error.value)


def serve(monkeypatch, payload: bytes) -> list:
    asked = []

    def urlopen(url, timeout=None):
        asked.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(cifar10, "urlopen", urlopen)
    return asked


def test_download_checks_and_places_the_tarball(tmp_path, monkeypatch):
    files = fake_files()
    payload = tar_bytes(files)
    monkeypatch.setattr(cifar10, "MD5", hashlib.md5(payload).hexdigest())
    asked = serve(monkeypatch, payload)
    root = tmp_path / "new" / "cifar"
    images, _ = cifar10.load(root, split="test", download=True)
    assert asked == [cifar10.URL]
    assert torch.equal(images, expected(files, "test")[0])
    assert sorted(p.name for p in root.iterdir()) == [cifar10.ARCHIVE]  # no partial file left
    cifar10.load(root, split="train", download=True)
    assert asked == [cifar10.URL]  # present: not fetched again


def test_download_with_a_wrong_md5_leaves_nothing(tmp_path, monkeypatch):
    payload = tar_bytes(fake_files())
    serve(monkeypatch, payload)
    with pytest.raises(ValueError) as error:
        cifar10.load(tmp_path, split="test", download=True)
    assert cifar10.MD5 in str(error.value)
    assert hashlib.md5(payload).hexdigest() in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="split"):
        cifar10.load(tmp_path, split="val")
