"""Tasks as compositions: a new data type is one small class; anchor banks against batch drift."""

import pytest
import torch
from torch import nn

from lzn import presets
from lzn.modalities import Modality


class VectorModality(Modality):
    """A toy data type: 5-d vectors, a linear encoder, no decoder."""

    name = "vector"

    def __init__(self, latent_dim):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Linear(5, latent_dim)

    def validate(self, batch):
        if batch.ndim != 2 or batch.shape[1] != 5:
            raise ValueError(f"vectors must have shape (batch, 5), got {tuple(batch.shape)}")
        return batch

    def encode(self, batch):
        return self.encoder(self.validate(batch))


def test_a_new_modality_composes_with_the_others(tmp_path):
    model = presets.build("digits-joint", tiny=True).eval()
    model.add_modality(VectorModality(model.latent_dim))
    labels = model.translate(torch.randn(6, 5), "vector", "label", alpha=0.0)
    assert labels.shape == (6,) and labels.dtype == torch.long
    images = model.translate(
        torch.randn(2, 5), "vector", "image", labels=torch.tensor([1, 2]), sampler="euler", steps=1
    )
    assert images.shape == (2, 1, 8, 8)
    with pytest.raises(NotImplementedError, match="vector modality of this model has no decoder"):
        model.translate(torch.randn(2, 1, 8, 8).clamp(-1, 1), "image", "vector")
    with pytest.raises(ValueError, match="latent_dim 3, this model 16"):
        model.add_modality(VectorModality(3))
    with pytest.raises(ValueError, match="has no text modality"):
        model.translate(torch.randn(2, 5), "text", "label")
    with pytest.raises(ValueError, match="save the state_dict of vector yourself"):
        model.save_pretrained(tmp_path)


def test_an_anchor_bank_keeps_latents_from_drifting_with_the_batch():
    torch.manual_seed(0)
    model = presets.build("digits-joint", tiny=True).eval()
    images = torch.rand(16, 1, 8, 8) * 2 - 1
    bank = model.anchor_bank(torch.rand(256, 1, 8, 8) * 2 - 1)
    assert bank.shape == (256, model.latent_dim)

    def first_latent(batch, bank=None):
        with torch.no_grad():
            return model.latents(images[:batch], alpha=0.0, bank=bank)[0]

    drift = (first_latent(2) - first_latent(16)).norm()
    drift_with_bank = (first_latent(2, bank) - first_latent(16, bank)).norm()
    assert drift_with_bank < 0.5 * drift
