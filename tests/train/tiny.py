"""Presets at tiny widths, for training tests."""

from lzn import presets
from lzn.train.module import JointModule


def tiny(name: str, cls=JointModule) -> tuple[dict, dict]:
    """The preset's tiny config and the part of its recipe that `cls` reads."""
    recipe = presets.recipe(name)
    fields = cls.recipe_type.__dataclass_fields__
    return presets.config(name, tiny=True), {k: v for k, v in recipe.items() if k in fields}


def tiny_module(cls=JointModule, **recipe_changes):
    config, recipe = tiny("digits-joint", cls)
    return cls(model=config, recipe=recipe | recipe_changes)
