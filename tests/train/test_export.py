"""The exported model folder: EMA weights with their anchor bank and the training split."""

import torch

from lzn import LZN, bank
from lzn.data import DigitsData
from lzn.train.export import bank_images, dataset_labels, export
from tests.train.tiny import tiny_module


def test_export_writes_the_ema_weights_their_bank_and_the_split(tmp_path):
    module = tiny_module()
    with torch.no_grad():  # live weights that differ from the EMA's
        for p in module.model.parameters():
            p.add_(0.1)
    live = {k: v.clone() for k, v in module.model.state_dict().items()}
    data = DigitsData(batch_size=64, split_seed=5)
    data.setup()
    export(module, data, tmp_path)
    model = LZN.from_pretrained(tmp_path)
    assert model.training_data == {"data": "digits", "test_fraction": 0.2, "seed": 5}
    x, y = data.train.tensors
    index = bank.select(len(x), y)
    assert torch.equal(model.bank_labels, y[index])
    assert torch.allclose(model.bank, model.encode(x[index]), atol=1e-6)  # the EMA weights'
    for k, v in module.model.state_dict().items():  # the live model is left as it was
        assert torch.equal(v, live[k]), k
    assert module.model.bank is None


def test_bank_images_of_folders_and_labelless_sets(tmp_path):
    from PIL import Image

    from lzn.data.folder import ImageFolder
    from lzn.data.views import CroppedPairs

    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(3):
            Image.new("RGB", (20, 12), (40 * i, 0, 0)).save(tmp_path / c / f"{i}.png")
    folder = ImageFolder(tmp_path, size=8)
    assert dataset_labels(folder).tolist() == [0, 0, 0, 1, 1, 1]
    images, labels = bank_images(CroppedPairs(folder, 8))  # pairs: the folder's own images
    assert images.shape == (6, 3, 8, 8) and sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]
    assert dataset_labels(ImageFolder(tmp_path, size=8, labels=False)) is None
