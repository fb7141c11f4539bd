import math

import pytest
import torch

from lzn import presets
from lzn.data import digits
from lzn.eval import accuracy_grid, classification_accuracy, reconstruction_error


class LabelInPixel:
    """A stand-in model: the label is written in pixel (0, 0); classify reads it back, wrongly for
    label 9. It records the evaluation batches it is given."""

    def __init__(self):
        self.calls = []

    def classify(self, images, *, alpha, bank, generator):
        self.calls.append((len(images), alpha, None if bank is None else len(bank)))
        labels = images[:, 0, 0, 0].round().long()
        return torch.where(labels == 9, torch.zeros_like(labels), labels)


def labelled_images(n):
    labels = torch.arange(n) % 10
    images = torch.zeros(n, 1, 2, 2)
    images[:, 0, 0, 0] = labels.float()
    return images, labels


def test_accuracy_counts_correct_labels_and_records_the_batches():
    model, (images, labels) = LabelInPixel(), labelled_images(100)
    bank = torch.zeros(7, 3)
    result = classification_accuracy(
        model, images, labels, alpha=0.5, batch_size=30, bank=bank, bank_source="toy bank"
    )
    assert result["accuracy"] == pytest.approx(0.9)  # every 9 is wrong
    assert [c[0] for c in model.calls] == [30, 30, 30, 10]
    assert all(c[1:] == (0.5, 7) for c in model.calls)
    assert result["batch_size"] == 30 and result["batches"] == 4 and result["last_batch"] == 10
    assert result["bank_size"] == 7 and result["bank"] == "toy bank" and result["alpha"] == 0.5


def test_the_default_bank_is_the_one_the_model_carries():
    model, (images, labels) = LabelInPixel(), labelled_images(20)
    model.bank = torch.zeros(5, 3)
    row = classification_accuracy(model, images, labels, batch_size=10)
    assert [c[2] for c in model.calls] == [5, 5]  # the model's 5 anchors joined every batch
    assert row["bank"] == "the model's exported bank" and row["bank_size"] == 5
    model.calls.clear()
    row = classification_accuracy(model, images, labels, bank=None)  # the paper's Alg. 9
    assert model.calls == [(20, 0.0, None)] and row["bank"] == "none" and row["bank_size"] == 0
    del model.bank  # a model without a bank: the batch alone, and the row says why
    row = classification_accuracy(model, images, labels)
    assert row["bank"] == "none (the model carries no bank)" and row["bank_size"] == 0
    with pytest.raises(ValueError, match="bank must be anchors, 'model' or None"):
        classification_accuracy(model, images, labels, bank="train")


def test_accuracy_grid_covers_every_alpha_and_batch_size():
    model, (images, labels) = LabelInPixel(), labelled_images(20)
    rows = accuracy_grid(model, images, labels, alphas=(1.0, 0.0), batch_sizes=(None, 5))
    assert [(r["batch_size"], r["alpha"]) for r in rows] == [
        (20, 1.0),
        (20, 0.0),
        (5, 1.0),
        (5, 0.0),
    ]


def test_accuracy_refuses_mismatched_labels():
    images, labels = labelled_images(10)
    with pytest.raises(ValueError, match=r"labels must have shape \(10,\)"):
        classification_accuracy(LabelInPixel(), images, labels[:5])


class ShiftedReconstruction:
    """A stand-in model whose reconstruction is the image plus a fixed offset plus seeded noise."""

    def __init__(self, offset, noise=0.0):
        self.offset, self.noise = offset, noise

    def reconstruct(self, images, *, labels, sampler, steps, bank, generator):
        noise = torch.randn(images.shape, generator=generator)
        return images + self.offset + self.noise * noise


def test_reconstruction_error_is_the_per_image_l2_norm_in_pixel_units():
    images = torch.rand(10, 3, 4, 4) * 2 - 1
    result = reconstruction_error(ShiftedReconstruction(0.1), images, repeats=3)
    assert result["error"] == pytest.approx(0.1 * math.sqrt(3 * 4 * 4))
    assert result["images"] == 10 and result["repeats"] == 3


def test_reconstruction_error_averages_random_draws_reproducibly():
    images = torch.zeros(200, 1, 8, 8)
    model = ShiftedReconstruction(0.0, noise=0.5)
    first = reconstruction_error(model, images, repeats=4, batch_size=64, seed=3)
    again = reconstruction_error(model, images, repeats=4, batch_size=64, seed=3)
    assert first == again
    # The norm of 64 N(0, 0.25) pixels is close to 0.5 * sqrt(64) = 4.
    assert first["error"] == pytest.approx(4.0, rel=0.02) and first["std_over_draws"] > 0


def test_reconstruction_refuses_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        reconstruction_error(ShiftedReconstruction(0.0), torch.zeros(0, 1, 2, 2))
    with pytest.raises(ValueError, match="repeats"):
        reconstruction_error(ShiftedReconstruction(0.0), torch.zeros(2, 1, 2, 2), repeats=0)


@pytest.fixture(scope="module")
def tiny_model_and_data():
    torch.manual_seed(0)
    model = presets.build("digits-joint", tiny=True).eval()
    return model, digits.load()


def test_accuracy_and_reconstruction_of_a_real_model(tiny_model_and_data):
    model, (x_train, y_train, x_test, y_test) = tiny_model_and_data
    bank = model.anchor_bank(x_train[:100])
    rows = accuracy_grid(
        model, x_test[:40], y_test[:40], alphas=(1.0, 0.0), batch_sizes=(20,), bank=bank, seed=1
    )
    again = accuracy_grid(
        model, x_test[:40], y_test[:40], alphas=(1.0, 0.0), batch_sizes=(20,), bank=bank, seed=1
    )
    assert rows == again and all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    assert rows[0]["bank_size"] == 100
    result = reconstruction_error(
        model, x_train[:6], labels=y_train[:6], repeats=2, sampler="euler", steps=2
    )
    assert math.isfinite(result["error"]) and 0 < result["error"] <= 2 * 8  # at most 2 per pixel
