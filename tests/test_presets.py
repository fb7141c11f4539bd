"""Every preset, tiny, runs every task it has with the right shapes and dtypes."""

import pytest
import torch

from lzn import LZN, presets

PAPER = [
    "cifar10-generation",
    "afhq-cat-generation",
    "celebahq-generation",
    "lsun-bedroom-generation",
    "imagenet-representation",
    "cifar10-joint",
]
SMALL = [
    "digits-joint",
    "digits-generation",
    "mnist-joint",
    "mnist-generation",
    "mnist-representation",
]


def test_names_cover_the_paper_and_the_small_presets():
    assert set(presets.names()) == set(PAPER + SMALL)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown preset 'cifar100'.*digits-joint"):
        presets.build("cifar100")


@pytest.mark.parametrize("name", PAPER + SMALL)
def test_every_task_of_every_preset(name):
    torch.manual_seed(0)
    model = presets.build(name, tiny=True).eval()
    assert isinstance(model, LZN)
    size, channels, q = (
        model.config["image"]["size"],
        model.config["image"]["channels"],
        model.latent_dim,
    )
    batch = 1 if size >= 224 else 3
    x = torch.rand(batch, channels, size, size) * 2 - 1
    assert model.encode(x).shape == (batch, q)
    z = model.latents(x)
    assert z.shape == (batch, q) and z.dtype == torch.float32 and torch.isfinite(z).all()
    assert model.embed(x).ndim == 2
    labels = torch.arange(batch) if model.label is not None else None
    if model.image.decoder is not None:
        images = model.generate(batch, labels, sampler="euler", steps=1)
        assert images.shape == x.shape and images.dtype == torch.float32
        assert images.min() >= -1 and images.max() <= 1
        assert model.reconstruct(x, labels=labels, sampler="euler", steps=1).shape == x.shape
    if model.label is not None:
        predicted = model.classify(x)
        assert predicted.shape == (batch,) and predicted.dtype == torch.long
        assert ((predicted >= 0) & (predicted < 10)).all()


@pytest.mark.parametrize("name", PAPER + SMALL)
def test_recipes_record_their_hyper_parameters(name):
    recipe = presets.recipe(name)
    assert {"batch_size", "lr", "iterations", "ema", "grad_clip", "source"} <= set(recipe)
    assert set(recipe["lr"]) == set(recipe["iterations"])
