"""Every recipe in configs/ is accepted by `lzn fit --print_config` and restates its preset: the
YAML a user reads holds the same hyper-parameters as `lzn.presets`, the paper's record."""

from pathlib import Path

import pytest
import torch
import yaml

from lzn import LZN, presets
from lzn.cli import main
from lzn.train.module import resolve

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
REQUIRED = [
    "cifar10-generation", "afhq-cat-generation", "celebahq-generation", "lsun-bedroom-generation",
    "imagenet-representation", "cifar10-joint", "mnist-generation", "mnist-representation",
    "mnist-joint",
]  # fmt: skip


def test_every_recipe_of_the_paper_has_a_config():
    assert set(REQUIRED) <= {p.stem for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_a_config_parses_and_restates_its_preset(path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["fit", "--config", str(path), "--print_config"])
    assert done.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    args = printed["model"]["init_args"]
    preset = args["preset"]
    assert preset == path.stem
    config, recipe = resolve(preset, args["model"], args["recipe"])
    assert config == presets.config(preset)
    expected = presets.recipe(preset)
    assert printed["data"]["init_args"]["batch_size"] == expected.pop("batch_size")
    assert {k: v for k, v in recipe.items() if k in args["recipe"]} == {
        k: expected[k] for k in args["recipe"]
    }
    assert set(args["recipe"]) >= set(expected) - {"paper", "source"}  # every value spelled out
    assert printed["trainer"]["max_steps"] == max(recipe["iterations"].values())


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
        config, recipe = resolve(args["preset"], args["model"], args["recipe"])
        return config, recipe, printed["data"], printed["trainer"]["max_steps"]

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
