"""A training module's hyper-parameters, typed: one dataclass per case study.

    Recipe                  what every training module reads (GenerationModule's)
    JointRecipe(Recipe)     + the label loss (case study 3)
    RepresentationRecipe    + the alignment loss of two views (case study 2)

A module takes its recipe as changes to its preset's: a field left None keeps the preset's
value, or, without a preset, the default in `DEFAULTS`. `lzn fit --help` lists the fields with
their types and these docstrings, and a key the module's recipe does not have is refused by name.
`resolve` turns (preset, changes) into the recipe that runs, every field filled in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from lzn import dataclass_dicts, presets
from lzn.losses import ALIGNMENT_ALPHA, ALIGNMENT_CUTOFF

Optimizer = Literal["adam", "sgd"]
Augment = Literal["none", "hflip", "simclr"]

# Defaults of a recipe without a preset; `lr` and `iterations` have none: they name the parts.
DEFAULTS = {
    "ema": 0.999,
    "optimizer": "adam",
    "weight_decay": 0.0,
    "grad_clip": 1.0,
    "warmup_steps": 0,
    "augment": "none",
    "alpha": ALIGNMENT_ALPHA,
    "cutoff": ALIGNMENT_CUTOFF,
    "log_loss": True,
    "label_loss_weight": 1.0,
    "label_log": False,
    "paper": "",
    "source": "",
}


@dataclass(frozen=True)
class Recipe:
    """How a training module trains; None: the preset's value.

    Args:
        lr: learning rate of each trained part ({encoder, decoder, label}: those the model has).
        iterations: steps each part trains before it is frozen (it stays in the graph).
        ema: decay of the exponential moving average of the weights (what is exported).
        optimizer: 'adam' (every recipe's) or 'sgd'.
        weight_decay: the optimiser's weight decay.
        grad_clip: the largest global gradient norm (a step whose norm is not finite is skipped).
        warmup_steps: steps of the linear learning-rate warm-up.
        augment: 'none', 'hflip' (random horizontal flips) or 'simclr' (two views).
        paper: the result the recipe reproduces (a note; it changes nothing).
        source: where the numbers come from (a note; it changes nothing).
    """

    lr: dict[str, float] | None = None
    iterations: dict[str, int] | None = None
    ema: float | None = None
    optimizer: Optimizer | None = None
    weight_decay: float | None = None
    grad_clip: float | None = None
    warmup_steps: int | None = None
    augment: Augment | None = None
    paper: str | None = None
    source: str | None = None

    def changes(self) -> dict:
        """The fields that are set (not None), in their JSON form."""
        return {k: v for k, v in dataclass_dicts.to_dict(self).items() if v is not None}


@dataclass(frozen=True)
class JointRecipe(Recipe):
    """How JointModule trains (case study 3); None: the preset's value.

    Args:
        label_loss_weight: weight of the label alignment loss beside the decoder's.
        label_log: the label loss as -mean(max log P) instead of the paper's -mean(max P): it has
            a gradient where a latent sits in a wrong zone (P near 0).
    """

    label_loss_weight: float | None = None
    label_log: bool | None = None


@dataclass(frozen=True)
class RepresentationRecipe(Recipe):
    """How RepresentationModule trains (case study 2); None: the preset's value.

    Args:
        alpha: noise scale of the query view's latents.
        cutoff: share of the flow's first steps left out of the alignment loss.
        log_loss: -mean(max log P) (the paper's cross-entropy form) instead of -mean(max P).
    """

    alpha: float | None = None
    cutoff: float | None = None
    log_loss: bool | None = None


def read(recipe_type: type[Recipe], recipe: Recipe | dict | None) -> Recipe:
    """`recipe` as a `recipe_type`: a dict is checked key by key (unknown keys named)."""
    if recipe is None:
        return recipe_type()
    if isinstance(recipe, dict):
        return dataclass_dicts.from_dict(recipe_type, recipe, "recipe")
    if not isinstance(recipe, recipe_type):
        raise ValueError(
            f"recipe must be a {recipe_type.__name__} or its dict, got {type(recipe).__name__}"
        )
    return dataclass_dicts.from_dict(recipe_type, dataclass_dicts.to_dict(recipe), "recipe")


def resolve(recipe_type: type[Recipe], preset: str | None, changes: Recipe) -> Recipe:
    """The recipe that runs: `DEFAULTS`, then the preset's values, then `changes` (nested
    dicts merged key by key; a part the preset does not train is refused by name)."""
    fields = {f.name for f in dataclasses.fields(recipe_type)}
    base = {k: v for k, v in DEFAULTS.items() if k in fields}
    base |= {"lr": None, "iterations": None}
    if preset is not None:
        # A preset holds keys of other case studies (and the data module's batch size).
        base |= {k: v for k, v in presets.recipe(preset).items() if k in fields}
    resolved = presets.merge(base, changes.changes(), "recipe")
    return dataclass_dicts.from_dict(recipe_type, resolved, "recipe")
