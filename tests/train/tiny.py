"""The digits-joint preset at tiny widths, for training tests."""

from lzn import presets
from lzn.train.module import JointModule


def tiny_module(cls=JointModule, **recipe_changes):
    recipe = presets.recipe("digits-joint") | recipe_changes
    del recipe["batch_size"]  # the data module's in training runs
    return cls(model=presets.config("digits-joint", tiny=True), recipe=recipe)
