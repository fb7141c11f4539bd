"""Training modules from a preset with changes, or a full config; each case study refuses a
model or recipe it cannot train, naming the problem; the representation module trains."""

import dataclasses
import importlib
import math
import re
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from torch.utils.data import DataLoader, TensorDataset

from lzn import presets
from lzn.train.module import GenerationModule, JointModule, RepresentationModule, resolve
from lzn.train.recipe import DEFAULTS, JointRecipe, RepresentationRecipe

from .tiny import tiny


def test_changes_apply_on_top_of_the_preset():
    config, recipe = resolve(
        "cifar10-joint", {"latent_dim": 64}, {"lr": {"label": 1e-3}}, JointRecipe
    )
    assert config["latent_dim"] == 64
    assert recipe.lr == {"encoder": 5e-5, "decoder": 2e-3, "label": 1e-3}
    assert recipe.ema == presets.recipe("cifar10-joint")["ema"]
    assert not hasattr(recipe, "batch_size")  # the data module's


@pytest.mark.parametrize(
    ("model", "recipe", "message"),
    [
        ({"image": {"flow": {"stepz": 3}}}, {}, "'model.image.flow.stepz'"),
        ({}, {"iterations": {"labels": 3}}, "'recipe.iterations.labels'"),
        ({}, {"batch_size": 3}, "data.batch_size"),
        ({}, {"ema": "high"}, "recipe.ema: expected float or null, got 'high'"),
        ({}, {"lr": {"encoder": "x"}}, "recipe.lr.encoder: expected float, got 'x'"),
        ({}, {"optimizer": "adamw"}, "recipe.optimizer: expected one of 'adam', 'sgd'"),
        ({}, {"label_loss_weigth": 2.0}, "unknown key recipe.label_loss_weigth"),
    ],
)
def test_unknown_keys_and_wrong_types_are_named(model, recipe, message):
    with pytest.raises(ValueError, match=re.escape(message) if "'" in message else message):
        resolve("digits-joint", model, recipe, JointRecipe)


def test_each_case_study_refuses_a_model_it_cannot_train():
    config, recipe = tiny("mnist-representation", GenerationModule)
    with pytest.raises(ValueError, match="image decoder"):
        GenerationModule(model=config, recipe=recipe)
    config, recipe = tiny("mnist-generation")
    with pytest.raises(ValueError, match="label modality"):
        JointModule(model=config, recipe=recipe)
    with pytest.raises(ValueError, match="encoder alone"):
        RepresentationModule(model=config, recipe=recipe | {"augment": "simclr"})


def test_a_recipe_must_give_every_part_a_learning_rate():
    config, recipe = tiny("digits-joint")
    recipe["lr"] = {"encoder": 1e-3, "decoder": 1e-3}
    with pytest.raises(ValueError, match=r"recipe.lr must name exactly the trained parts"):
        JointModule(model=config, recipe=recipe)


def test_representation_learning_aligns_the_two_views():
    torch.manual_seed(0)
    config, recipe = tiny("mnist-representation", RepresentationModule)
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


@pytest.mark.parametrize(
    ("cls", "preset", "recipe", "key"),
    [
        (GenerationModule, "mnist-generation", {"alpha": 0.5}, "alpha"),
        (JointModule, "digits-joint", {"cutoff": 0.1, "log_loss": False}, "cutoff"),
        (RepresentationModule, "mnist-representation", {"label_loss_weight": 2.0},
         "label_loss_weight"),
        (GenerationModule, "mnist-generation", {"label_log": True}, "label_log"),
    ],
)  # fmt: skip
def test_a_recipe_key_the_module_does_not_use_is_refused_by_name(cls, preset, recipe, key):
    known = ", ".join(f.name for f in dataclasses.fields(cls.recipe_type))
    with pytest.raises(ValueError, match=rf"^unknown key recipe\.{key} \(known: {known}\)$"):
        cls(preset, recipe=recipe)


def test_a_recipe_is_a_typed_object_or_its_dict():
    by_dict = JointModule("digits-joint", recipe={"label_log": True, "lr": {"label": 1e-2}})
    typed = JointModule("digits-joint", recipe=JointRecipe(label_log=True, lr={"label": 1e-2}))
    assert by_dict.recipe == typed.recipe
    assert typed.recipe.label_log is True and typed.recipe.lr["label"] == 1e-2
    assert typed.recipe.lr["encoder"] == presets.recipe("digits-joint")["lr"]["encoder"]
    # What a checkpoint stores: the changes, as plain data (no class to unpickle).
    assert typed.hparams["recipe"] == {"label_log": True, "lr": {"label": 1e-2}}
    with pytest.raises(ValueError, match="recipe must be a JointRecipe or its dict"):
        JointModule("digits-joint", recipe=RepresentationRecipe(alpha=0.5))


def test_keys_a_preset_holds_for_another_module_are_dropped_and_defaults_fill_the_rest():
    # digits-joint's recipe holds label_loss_weight, which GenerationModule does not read.
    module = GenerationModule("digits-joint", recipe={"source": "here"})
    assert not hasattr(module.recipe, "label_loss_weight")  # what runs, nothing else
    assert module.recipe.source == "here"
    config, recipe = tiny("digits-joint")
    del recipe["label_loss_weight"], recipe["ema"]
    module = JointModule(model=config, recipe=recipe | {"paper": "a table"})
    assert module.recipe.paper == "a table"
    assert module.recipe.label_loss_weight == DEFAULTS["label_loss_weight"]
    assert module.recipe.ema == DEFAULTS["ema"]


def _recording(cls):
    """`cls` whose recipe records every field read from it, from construction on."""

    class Recorded(cls):
        def __setattr__(self, name, value):
            if name == "recipe":
                value = _Reads(value)
            super().__setattr__(name, value)

    return Recorded


class _Reads:
    def __init__(self, recipe):
        self._recipe, self.read = recipe, set()

    def __getattr__(self, name):
        self.read.add(name)
        return getattr(self._recipe, name)


@pytest.mark.parametrize("cls", [GenerationModule, JointModule, RepresentationModule])
def test_each_module_reads_every_field_of_its_recipe(cls):
    """Constructing the module and training it one step reads every field of its recipe type
    but the notes: a field it ignored would be accepted and do nothing."""
    name = {RepresentationModule: "mnist-representation"}.get(cls, "digits-joint")
    config, recipe = tiny(name, cls)
    if cls is GenerationModule:
        config["label"] = None
        recipe["lr"].pop("label"), recipe["iterations"].pop("label")
    module = _recording(cls)(model=config, recipe=recipe)
    size = module.model.image.image_size
    x = torch.rand(8, 1, size, size) * 2 - 1
    trainer = L.Trainer(
        max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, DataLoader(TensorDataset(x, torch.arange(8) % 10), batch_size=8))
    fields = {f.name for f in dataclasses.fields(cls.recipe_type)}
    assert module.recipe.read == fields - {"paper", "source"}


FIT_CONFIGS = sorted(
    p
    for p in (Path(__file__).parents[2] / "configs").rglob("*.yaml")
    if isinstance(yaml.safe_load(p.read_text()).get("model"), dict)
)


@pytest.mark.parametrize("path", FIT_CONFIGS, ids=lambda p: p.stem)
def test_every_config_constructs_its_training_module(path):
    """With its recipe checks (unused keys refused): on the meta device, shapes only."""
    args = yaml.safe_load(path.read_text())["model"]
    module_name, name = args["class_path"].rsplit(".", 1)
    with torch.device("meta"):
        module = getattr(importlib.import_module(module_name), name)(**args["init_args"])
    assert isinstance(module.recipe, type(module).recipe_type)


def test_the_conditional_rectified_flow_baseline_trains_the_decoder_with_the_label_alone():
    """Case study 3's baseline: the decoder takes the one-hot label and no latent. No latent and
    no label alignment are computed; the encoder and the label anchors stay as they were."""
    torch.manual_seed(0)
    config, recipe = tiny("mnist-joint")
    config["image"]["decoder"]["latent_input"] = False
    recipe = {k: v for k, v in recipe.items() if k not in ("label_loss_weight", "label_log")}
    module = GenerationModule(model=config, recipe=recipe | {"warmup_steps": 1})
    decoder = module.model.image.decoder
    assert decoder.latent_dim == 0 and decoder.num_classes == 10
    x = torch.rand(16, 1, 28, 28) * 2 - 1
    y = torch.arange(16) % 10

    def no_latents(*args, **kwargs):
        raise AssertionError("the baseline computed latents")

    module.latents = no_latents

    def losses(labels):  # the same noise every time
        torch.manual_seed(1)
        with torch.no_grad():
            return module.losses((x, labels))

    assert set(losses(y)) == {"rf"}  # no label alignment
    unused = [
        p.clone() for p in (*module.model.image.encoder.parameters(), module.model.label.anchors)
    ]
    trained = [p.clone() for p in decoder.parameters()]
    trainer = L.Trainer(
        max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, DataLoader(TensorDataset(x, y), batch_size=8))
    after = (*module.model.image.encoder.parameters(), module.model.label.anchors)
    assert all(torch.equal(a, b) for a, b in zip(unused, after, strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(trained, decoder.parameters(), strict=True))
    assert module.skipped_steps == 0
    assert losses(y)["rf"] != losses((y + 1) % 10)["rf"]  # the one-hot label is an input
    samples = module.model.generate(2, torch.tensor([3, 7]), sampler="euler", steps=2)
    assert samples.shape == (2, 1, 28, 28) and torch.isfinite(samples).all()
