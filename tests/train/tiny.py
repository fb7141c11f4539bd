"""Presets at tiny widths, for training tests."""

from lzn import presets
from lzn.train.module import JointModule


def tiny(name: str) -> tuple[dict, dict]:
    """The preset's tiny config and its recipe without the batch size (the data module's)."""
    recipe = presets.recipe(name)
    del recipe["batch_size"]
    return presets.config(name, tiny=True), recipe


def tiny_module(cls=JointModule, **recipe_changes):
    config, recipe = tiny("digits-joint")
    return cls(model=config, recipe=recipe | recipe_changes)
