import pytest
from PIL import Image

from lzn.data.imagenet import ImageNet


def write(root, split, wnids, per_class=2):
    for k, wnid in enumerate(wnids):
        (root / split / wnid).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (12, 10), (k * 60, i * 100, 0)).save(root / split / wnid / f"{i}.JPEG")


def test_train_and_val_share_sorted_wnid_labels(tmp_path):
    write(tmp_path, "train", ["n02", "n01"])
    write(tmp_path, "val", ["n01", "n02"], per_class=1)
    train, val = ImageNet(tmp_path, "train", size=8), ImageNet(tmp_path, "val", size=8)
    assert train.classes == val.classes == ("n01", "n02")
    assert train.targets.tolist() == [0, 0, 1, 1] and val.targets.tolist() == [0, 1]
    image, label = val[1]
    assert image.shape == (3, 8, 8) and label == 1
    assert ImageNet(tmp_path, "val", size=4, resize=8)[0][0].shape == (3, 4, 4)


def test_a_missing_split_says_where_and_how(tmp_path):
    write(tmp_path, "train", ["n01"])
    with pytest.raises(FileNotFoundError) as error:
        ImageNet(tmp_path, "val")
    assert str(tmp_path / "val") in str(error.value) and "valprep" in str(error.value)


def test_flat_val_images_need_the_valprep_layout(tmp_path):
    (tmp_path / "val").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG")
    with pytest.raises(ValueError, match=r"ILSVRC2012_val_00000001\.JPEG.*valprep"):
        ImageNet(tmp_path, "val", size=8)


def test_different_class_folders_in_the_splits_warn(tmp_path):
    write(tmp_path, "train", ["n01", "n02", "n03"])
    write(tmp_path, "val", ["n01", "n03"])
    with pytest.warns(UserWarning, match="labels differ"):
        val = ImageNet(tmp_path, "val", size=8)
    assert val.targets.tolist() == [0, 0, 1, 1]  # n03 is label 1 here, 2 in train


def test_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="split"):
        ImageNet(tmp_path, "test")
