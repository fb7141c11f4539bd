"""Every recipe in configs/ is accepted by `lzn fit --print_config` and restates its preset: the
YAML a user reads holds the same hyper-parameters as `lzn.presets`, the paper's record."""

from pathlib import Path

import pytest
import yaml

from lzn import presets
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
