"""Training modules from a preset with changes, or a full config; each case study refuses a
model or recipe it cannot train, naming the problem; the representation module trains."""

import math

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lzn.train.module import GenerationModule, JointModule, RepresentationModule, resolve

from .tiny import tiny


def test_changes_apply_on_top_of_the_preset():
    config, recipe = resolve("cifar10-joint", {"latent_dim": 64}, {"lr": {"label": 1e-3}})
    assert config["latent_dim"] == 64
    assert recipe["lr"] == {"encoder": 5e-5, "decoder": 2e-3, "label": 1e-3}
    assert "batch_size" not in recipe  # the data module's


@pytest.mark.parametrize(
    ("model", "recipe", "message"),
    [
        ({"image": {"flow": {"stepz": 3}}}, {}, "'model.image.flow.stepz'"),
        ({}, {"iterations": {"labels": 3}}, "'recipe.iterations.labels'"),
        ({}, {"batch_size": 3}, "data.batch_size"),
    ],
)
def test_unknown_keys_are_named(model, recipe, message):
    with pytest.raises(ValueError, match=message):
        resolve("digits-joint", model, recipe)


def test_each_case_study_refuses_a_model_it_cannot_train():
    config, recipe = tiny("mnist-representation")
    with pytest.raises(ValueError, match="image decoder"):
        GenerationModule(model=config, recipe=recipe)
    config, recipe = tiny("mnist-generation")
    with pytest.raises(ValueError, match="label modality"):
        JointModule(model=config, recipe=recipe)
    with pytest.raises(ValueError, match="encoder alone"):
        RepresentationModule(model=config, recipe=recipe)


def test_a_recipe_must_give_every_part_a_learning_rate():
    config, recipe = tiny("digits-joint")
    recipe["lr"] = {"encoder": 1e-3, "decoder": 1e-3}
    with pytest.raises(ValueError, match=r"recipe.lr must name exactly the trained parts"):
        JointModule(model=config, recipe=recipe)


def test_representation_learning_aligns_the_two_views():
    torch.manual_seed(0)
    config, recipe = tiny("mnist-representation")
    module = RepresentationModule(model=config, recipe=recipe | {"warmup_steps": 1})
    assert not any(k.startswith("views") for k in module.state_dict())  # no state to save
    x = torch.rand(32, 1, 28, 28) * 2 - 1
    batch = (x, torch.zeros(32, dtype=torch.long))

    def loss():  # the same views and latent noise every time
        torch.manual_seed(1)
        return module.losses(batch)["align"]

    first = loss().item()
    # -mean(log P(own zone)): chance among the batch's 32 anchors is log 32 = 3.47.
    assert 0.5 * math.log(32) < first < 1.5 * math.log(32)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    for _ in range(15):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < 0.8 * first

    before = [p.clone() for p in module.model.parameters()]
    trainer = L.Trainer(
        max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, DataLoader(TensorDataset(*batch), batch_size=16))
    assert module.skipped_steps == 0
    assert any(
        not torch.equal(a, b) for a, b in zip(before, module.model.parameters(), strict=True)
    )


def test_the_rectified_flow_baseline_trains_the_decoder_alone():
    torch.manual_seed(0)
    config, recipe = tiny("mnist-generation")
    config["image"]["decoder"]["latent_input"] = False
    module = GenerationModule(model=config, recipe=recipe | {"warmup_steps": 1})
    assert module.model.image.decoder.latent_dim == 0
    encoder = [p.clone() for p in module.model.image.encoder.parameters()]
    decoder = [p.clone() for p in module.model.image.decoder.parameters()]
    x = torch.rand(16, 1, 28, 28) * 2 - 1
    trainer = L.Trainer(
        max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, DataLoader(TensorDataset(x, torch.zeros(16, dtype=torch.long)), 8))
    after = module.model.image
    assert all(torch.equal(a, b) for a, b in zip(encoder, after.encoder.parameters(), strict=True))
    assert any(
        not torch.equal(a, b) for a, b in zip(decoder, after.decoder.parameters(), strict=True)
    )
    samples = module.model.generate(3, sampler="euler", steps=2)
    assert samples.shape == (3, 1, 28, 28) and torch.isfinite(samples).all()
