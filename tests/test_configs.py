"""Every recipe in configs/ is accepted by `lzn fit --print_config`, names its preset and states
only what differs from it: each hyper-parameter has one home, `lzn.presets` (the paper's record,
printed by `lzn presets NAME`)."""

import dataclasses
import importlib
from pathlib import Path

import pytest
import torch
import yaml

from lzn import LZN, presets
from lzn.cli import main
from lzn.train.module import resolve
from lzn.train.recipe import Recipe

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
REQUIRED = [
    "cifar10-generation", "afhq-cat-generation", "celebahq-generation", "lsun-bedroom-generation",
    "imagenet-representation", "cifar10-joint", "mnist-generation", "mnist-representation",
    "mnist-joint",
]  # fmt: skip


def test_every_recipe_of_the_paper_has_a_config():
    assert set(REQUIRED) <= {p.stem for p in CONFIGS}


def _restated(base: dict, changes: dict, where: str = "") -> list[str]:
    """The keys of `changes` that give `base`'s own value (nested dicts key by key)."""
    same = []
    for key, value in (changes or {}).items():
        old = base.get(key) if isinstance(base, dict) else None
        if isinstance(value, dict) and isinstance(old, dict):
            same += _restated(old, value, f"{where}{key}.")
        elif value is not None and value == old:
            same.append(f"{where}{key}")
    return same


ALL_CONFIGS = sorted(
    p
    for p in (Path(__file__).parents[1] / "configs").rglob("*.yaml")
    if isinstance(yaml.safe_load(p.read_text()).get("model"), dict)
)


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: p.stem)
def test_a_config_names_its_preset_and_states_only_what_differs(path, capsys):
    """Every recipe number has one home, lzn.presets: a YAML restates none of them."""
    with pytest.raises(SystemExit) as done:
        main(["fit", "--config", str(path), "--print_config"])
    assert done.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    args = printed["model"]["init_args"]
    preset = args["preset"]
    if path.parent.name == "configs":
        assert preset == path.stem
    recipe = presets.recipe(preset)
    assert _restated(recipe, args["recipe"]) == []
    assert _restated(presets.config(preset), args["model"]) == []
    assert printed["data"]["init_args"]["batch_size"] != recipe["batch_size"]
    assert printed["trainer"]["max_steps"] != max(recipe["iterations"].values())


def test_lzn_fit_takes_the_batch_size_and_the_steps_from_the_preset(tmp_path):
    """What a YAML leaves out is the preset's: the global batch and the longest part budget."""
    from lzn.train.fit import _cli

    config = CONFIGS[0].parent / "digits-joint.yaml"
    cli = _cli(["--config", str(config), "--trainer.default_root_dir", str(tmp_path)])
    recipe = presets.recipe("digits-joint")
    assert cli.datamodule.batch_size == recipe["batch_size"]
    assert cli.trainer.max_steps == max(recipe["iterations"].values())
    assert cli.model.recipe.lr == recipe["lr"]


def args_class(printed: dict) -> str:
    return printed["model"]["class_path"].rsplit(".", 1)[1]


BASELINES = [  # (LZN recipe, its baseline without the latent)
    ("mnist-generation", "mnist-rf"), ("cifar10-generation", "cifar10-rf"),
    ("mnist-joint", "mnist-joint-rf"), ("cifar10-joint", "cifar10-joint-rf"),
    ("digits-generation", "digits-rf"), ("digits-joint", "digits-joint-rf"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "baseline_name"), BASELINES, ids=[b for _, b in BASELINES])
def test_a_baseline_differs_from_its_lzn_recipe_only_in_the_latent(name, baseline_name, capsys):
    def resolved(path):
        with pytest.raises(SystemExit):
            main(["fit", "--config", str(path), "--print_config"])
        printed = yaml.safe_load(capsys.readouterr().out)
        args = printed["model"]["init_args"]
        module = importlib.import_module("lzn.train").__dict__[args_class(printed)]
        config, recipe = resolve(args["preset"], args["model"], args["recipe"], module.recipe_type)
        shared = {f.name: getattr(recipe, f.name) for f in dataclasses.fields(Recipe)}
        return config, shared, printed["data"], printed["trainer"]["max_steps"]

    lzn = resolved(CONFIGS[0].parent / f"{name}.yaml")
    baseline = resolved(CONFIGS[0].parent / "baselines" / f"{baseline_name}.yaml")
    assert baseline[1:] == lzn[1:]  # recipe, data and budget
    assert baseline[0]["image"]["decoder"].pop("latent_input") is False
    assert lzn[0]["image"]["decoder"].pop("latent_input") is True
    assert baseline[0] == lzn[0]  # the one-hot label input (case study 3) included
    baseline[0]["image"]["decoder"]["latent_input"] = False
    lzn[0]["image"]["decoder"]["latent_input"] = True
    with torch.device("meta"):  # shapes only: no memory, no time
        decoder, lzn_decoder = (LZN(c[0]).image.decoder for c in (baseline, lzn))
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    # Exactly the latent's columns of the conditioning MLP's first layer (4 nf wide) are gone.
    nf = lzn[0]["image"]["decoder"]["unet"]["nf"]
    assert count(lzn_decoder) - count(decoder) == lzn[0]["latent_dim"] * 4 * nf
    assert decoder.latent_dim == 0 and decoder.num_classes == lzn_decoder.num_classes
    if baseline_name == "cifar10-rf":  # the paper's RF baseline decoder (App. C)
        assert count(decoder) == 61_804_419
