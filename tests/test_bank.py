"""The anchor bank a model carries: class-balanced choice, saved and loaded with the weights, and
classification that does not depend on the batch."""

import pytest
import torch

from lzn import LZN, bank, presets


def test_selection_is_class_balanced_as_far_as_the_data_allow():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 5)
    index = bank.select(len(labels), labels, size=40, seed=1)
    counts = torch.bincount(labels[index], minlength=3).tolist()
    assert counts == [18, 17, 5]  # class 2 gives all it has, the others share the rest evenly
    assert len(set(index.tolist())) == 40
    assert torch.equal(index, bank.select(len(labels), labels, size=40, seed=1))
    assert not torch.equal(index, bank.select(len(labels), labels, size=40, seed=2))
    assert torch.equal(bank.select(85, labels, size=1000), torch.arange(85))  # all if fewer


def test_selection_without_labels_is_a_seeded_subset():
    index = bank.select(100, None, size=10, seed=0)
    assert len(index) == 10 and len(set(index.tolist())) == 10 and int(index.max()) < 100
    with pytest.raises(ValueError, match="bank size must be positive"):
        bank.select(100, None, size=0)
    with pytest.raises(ValueError, match=r"\(3,\) labels for 100 images"):
        bank.select(100, torch.tensor([0, 1, 2]))


@pytest.fixture
def model():
    return presets.build("digits-joint", tiny=True).eval()


def _digits(n=120):
    from lzn.data import digits

    x, y, _, _ = digits.load()
    return x[:n], y[:n]


def test_bank_and_training_data_round_trip(model, tmp_path):
    x, y = _digits()
    model.set_bank(x, y, size=50)
    model.training_data = {"data": "digits", "test_fraction": 0.2, "seed": 3}
    model.save_pretrained(tmp_path)
    loaded = LZN.from_pretrained(tmp_path)
    assert torch.equal(loaded.bank, model.bank) and loaded.bank.shape == (50, model.latent_dim)
    assert torch.equal(loaded.bank_labels, model.bank_labels)
    assert torch.bincount(loaded.bank_labels, minlength=10).tolist() == [5] * 10
    assert loaded.training_data == model.training_data
    # The bank is the encoder's anchors of the chosen images, in eval mode.
    index = bank.select(len(x), y, 50)
    assert torch.equal(model.bank, model.encode(x[index]))
    # A later save without a bank removes the old bank file: it belongs to other weights.
    loaded.bank = loaded.bank_labels = None
    loaded.save_pretrained(tmp_path)
    assert not (tmp_path / "bank.safetensors").exists()
    assert LZN.from_pretrained(tmp_path).bank is None


def test_a_foreign_bank_is_refused(model, tmp_path):
    from safetensors.torch import save_file

    model.save_pretrained(tmp_path)
    save_file({"anchors": torch.zeros(5, model.latent_dim + 1)}, tmp_path / "bank.safetensors")
    with pytest.raises(ValueError, match=r"must hold anchors \(k, 16\)"):
        LZN.from_pretrained(tmp_path)


def test_classify_uses_the_models_bank_by_default(model):
    x, y = _digits()
    model.set_bank(x, y, size=60)
    queries = x[-10:]
    default = model.classify(queries)
    assert torch.equal(default, model.classify(queries, bank=model.bank))
    # One image at a time gets the label it gets in the batch (up to the batch's own anchors,
    # which shift the zones a little: here 10 queries against 60 bank anchors).
    alone = torch.cat([model.classify(q) for q in queries.split(1)])
    assert (alone == default).float().mean() >= 0.8
    # Without a bank, one image alone is its own only anchor: every image gets the same latent.
    lonely = torch.stack([model.latents(q, alpha=0.0, bank=None)[0] for q in queries.split(1)])
    assert torch.allclose(lonely, lonely[:1].expand_as(lonely), atol=1e-5)
    with pytest.raises(ValueError, match="bank must be anchors, 'model' or None"):
        model.classify(queries, bank="train")


def test_saved_files_are_readable_by_others_as_umask_allows(model, tmp_path):
    import os

    model.set_bank(*_digits(), size=20)
    model.save_pretrained(tmp_path)
    mask = os.umask(0)
    os.umask(mask)
    for name in ("config.json", "model.safetensors", "bank.safetensors"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


def test_from_pretrained_returns_the_model_in_eval_mode(model, tmp_path):
    model.train().save_pretrained(tmp_path)
    loaded = LZN.from_pretrained(tmp_path)
    assert not loaded.training and not any(m.training for m in loaded.modules())
