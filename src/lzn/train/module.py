"""Lightning modules of the case studies, on one shared base.

`LZNModule` owns the mechanics every case study shares: the LZN model built from a preset (with
changes) or a full config, one Adam parameter group per part (encoder, decoder, label anchors)
with its own learning rate, linear warm-up, per-part iteration budgets after which a part is
frozen (it stays in the graph, as in the paper's recipes), gradient clipping, a step skipped
whenever the gradient is not finite (never NaN weights), an EMA of each part while it trains (a
frozen part keeps the average it had at its freeze, as in the official code), and random numbers
that are a function of (seed, step, rank) so that a resumed run repeats the uninterrupted one
exactly. A case study only says what its losses are, and which hyper-parameters it reads (its
`recipe_type`, `lzn.train.recipe`: a key given that the module does not read is refused by name):

- `GenerationModule` (case study 1): the rectified-flow loss of the decoder conditioned on the
  latents of the images, with the anchors of all ranks gathered (latent parallelism).
- `RepresentationModule` (case study 2): the latents of one augmented view (noise scaled by
  alpha) aligned to the zones of the other view's anchors; no decoder.
- `JointModule` (case study 3): generation, plus aligning the image latents to the label anchors
  with the batch's class frequencies as weights.

The batch size is not part of a recipe here: it is the data module's (the global batch).
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor

from lzn import presets, rng
from lzn.data import augment
from lzn.losses import LatentAlignmentLoss
from lzn.model import LZN
from lzn.train import recipe as recipes
from lzn.train.ema import EMA
from lzn.train.recipe import JointRecipe, Recipe, RepresentationRecipe

# Adam is every recipe's; SGD makes one step an exact function of the gradient (tests, probes).
_OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


def resolve(
    preset: str | None, model: dict | None, recipe: Recipe | dict | None, recipe_type=Recipe
) -> tuple[dict, Recipe]:
    """The model config and training recipe: a preset's with `model`/`recipe` changes applied
    (unknown keys refused by name), or, without a preset, a full model config and a recipe."""
    if isinstance(recipe, dict) and "batch_size" in recipe:
        raise ValueError(
            "recipe.batch_size: the batch size is set by the data module (data.batch_size, "
            "the global batch over all devices)"
        )
    changes = recipes.read(recipe_type, recipe)
    if preset is not None:
        config = presets.merge(presets.config(preset), model or {}, "model")
    elif model is None:
        raise ValueError("give a preset (see lzn.presets.names()) or a full model config")
    else:
        config = dict(model)
    return config, recipes.resolve(recipe_type, preset, changes)


def step_seed(step: int, rank: int) -> int:
    """The seed of one training step on one rank, from the run's seed (`seed_everything`)."""
    return ((rng.run_seed() * 1_000_003 + step) * 4099 + rank) % 2**63


class LZNModule(L.LightningModule):
    recipe_type: type[Recipe] = Recipe  # the hyper-parameters this module reads

    def __init__(
        self, preset: str | None = None, model: dict | None = None, recipe: Recipe | None = None
    ):
        """A training module built from a preset with changes; `self.recipe` is what runs.

        Args:
            preset: a name from `lzn presets` (its architecture and recipe).
            model: changes to the preset's architecture (nested keys, e.g. {"latent_dim": 64}),
                or a full model config without a preset.
            recipe: changes to the preset's hyper-parameters (a `recipe_type`, or its dict,
                e.g. {"lr": {"encoder": 1e-4}}).
        """
        super().__init__()
        config, self.recipe = resolve(preset, model, recipe, self.recipe_type)
        # Plain data only: a checkpoint's hyper-parameters load without unpickling code.
        changes = recipes.read(self.recipe_type, recipe).changes()
        self.save_hyperparameters({"preset": preset, "model": model, "recipe": changes})
        self.model = LZN(config)
        self._check_recipe()
        self.automatic_optimization = False  # to skip non-finite steps and freeze parts
        self.ema = EMA(self.model, self.recipe.ema)
        self.skipped_steps = 0  # steps whose gradient was not finite
        self.step_metrics: dict = {}  # what the last training step logged

    def _check_recipe(self) -> None:
        parts = set(self.parts())
        for key in ("lr", "iterations"):
            given = set(getattr(self.recipe, key) or {})
            if given != parts:
                raise ValueError(
                    f"recipe.{key} must name exactly the trained parts {sorted(parts)}, "
                    f"got {sorted(given)}"
                )

    # What a case study defines ------------------------------------------------------------

    def losses(self, batch) -> dict[str, Tensor]:
        raise NotImplementedError

    # Shared mechanics ------------------------------------------------------------------------

    def parts(self) -> dict[str, list[torch.nn.Parameter]]:
        image = self.model.image
        parts = {"encoder": list(image.encoder.parameters())}
        if image.decoder is not None:
            parts["decoder"] = list(image.decoder.parameters())
        if self.model.label is not None:
            parts["label"] = [self.model.label.anchors]
        return parts

    def configure_optimizers(self):
        lr = self.recipe.lr
        groups = [{"params": p, "lr": lr[name], "name": name} for name, p in self.parts().items()]
        optimizer = _OPTIMIZERS[self.recipe.optimizer](
            groups, weight_decay=self.recipe.weight_decay
        )
        warmup = max(1, self.recipe.warmup_steps)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / warmup)
        )
        return [optimizer], [schedule]

    def _freeze_finished_parts(self) -> None:
        for name, params in self.parts().items():
            if self.global_step >= self.recipe.iterations[name]:
                for p in params:
                    p.requires_grad_(False)

    def latents(self, images: Tensor, alpha: float = 1.0) -> Tensor:
        """Latents of this rank's images against the anchors of all ranks' images."""
        return self.model.image.latents(images, alpha=alpha, gather=True)

    def on_train_batch_start(self, batch, batch_idx) -> None:
        # Noise, dropout and augmentation of a step depend on (seed, step, rank) only: a run
        # resumed from a checkpoint repeats the uninterrupted one, and ranks draw differently.
        torch.manual_seed(step_seed(self.global_step, self.global_rank))

    def training_step(self, batch, batch_idx):
        self._freeze_finished_parts()
        losses = self.losses(batch)
        total = sum(losses.values())
        optimizer = self.optimizers()
        schedule = self.lr_schedulers()
        optimizer.zero_grad(set_to_none=True)
        if total.requires_grad:  # False once every part has used its budget: nothing to train
            self.manual_backward(total)
        params = [p for p in self.model.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, self.recipe.grad_clip)
        finite = bool(torch.isfinite(norm))
        if not finite:
            self.skipped_steps += 1
            # Drop the gradients: Adam leaves parameters without one (and their moments) as they
            # are, and the step still counts, as Lightning's step budget needs.
            optimizer.zero_grad(set_to_none=True)
        optimizer.step()
        schedule.step()
        if finite:
            self.ema.update(self.model)
        metrics = {f"loss/{k}": v.detach() for k, v in losses.items()}
        self.log_dict(metrics, prog_bar=True)
        self.log("grad_norm", norm.detach())
        self.log("skipped_steps", float(self.skipped_steps))
        self.step_metrics = {
            "step": self.global_step - 1, "epoch": self.current_epoch, **metrics,
            "grad_norm": norm.detach(), "skipped_steps": float(self.skipped_steps),
        }  # fmt: skip
        return total.detach()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["ema"] = self.ema.state_dict()
        checkpoint["skipped_steps"] = self.skipped_steps
        # Lightning writes a step's checkpoint before the step's metrics reach the loggers; a
        # resumed run restores that row from here (lzn.train.loggers).
        checkpoint["step_metrics"] = {
            k: v.item() if isinstance(v, Tensor) else v for k, v in self.step_metrics.items()
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.ema.load_state_dict(checkpoint["ema"])
        self.skipped_steps = checkpoint.get("skipped_steps", 0)


class GenerationModule(LZNModule):
    def _check_recipe(self) -> None:
        super()._check_recipe()
        if self.model.image.decoder is None:
            raise ValueError(f"{type(self).__name__} needs a model with an image decoder")
        if self.recipe.augment == "simclr":
            raise ValueError("recipe.augment 'simclr' (two views) is for RepresentationModule")

    def losses(self, batch) -> dict[str, Tensor]:
        images, labels = batch
        if self.recipe.augment == "hflip":
            images = augment.hflip(images)
        one_hot = labels if self.model.image.num_classes > 0 else None  # decoder's label input
        if self.model.image.decoder.latent_dim == 0:
            # The paper's baseline, a rectified flow without latents: the encoder stays unused.
            return {"rf": self.model.image.loss(images, None, one_hot)}
        z = self.latents(images)
        losses = {"rf": self.model.image.loss(images, z, one_hot)}
        return {**losses, **self.latent_losses(z, labels)}

    def latent_losses(self, z: Tensor, labels: Tensor) -> dict[str, Tensor]:
        """Losses on the image latents besides the decoder's (none in case study 1)."""
        return {}


class JointModule(GenerationModule):
    recipe_type = JointRecipe

    def __init__(
        self,
        preset: str | None = None,
        model: dict | None = None,
        recipe: JointRecipe | None = None,
    ):
        """Case study 3: generation plus the label alignment loss (see `LZNModule`).

        Args:
            preset: a name from `lzn presets` (its architecture and recipe).
            model: changes to the preset's architecture, or a full config without a preset.
            recipe: changes to the preset's hyper-parameters.
        """
        super().__init__(preset, model, recipe)

    def _check_recipe(self) -> None:
        super()._check_recipe()
        if self.model.label is None:
            raise ValueError("JointModule needs a model with a label modality (model.label)")

    def latent_losses(self, z: Tensor, labels: Tensor) -> dict[str, Tensor]:
        label = self.model.label
        weights = label.class_weights(labels, gather=True)  # of the global batch
        loss = label.alignment_loss(z, labels, weights, log=self.recipe.label_log)
        return {"label": self.recipe.label_loss_weight * loss}


class RepresentationModule(LZNModule):
    recipe_type = RepresentationRecipe

    def __init__(
        self,
        preset: str | None = None,
        model: dict | None = None,
        recipe: RepresentationRecipe | None = None,
    ):
        """Case study 2: the latents of two views aligned (see `LZNModule`).

        Args:
            preset: a name from `lzn presets` (its architecture and recipe).
            model: changes to the preset's architecture, or a full config without a preset.
            recipe: changes to the preset's hyper-parameters.
        """
        super().__init__(preset, model, recipe)
        self.views = augment.SimCLRViews(self.model.image.image_size)
        self.align = LatentAlignmentLoss(
            alpha=self.recipe.alpha, flow=self.model.image.flow, cutoff=self.recipe.cutoff,
            log=self.recipe.log_loss,
        )  # fmt: skip

    def _check_recipe(self) -> None:
        super()._check_recipe()
        if self.model.image.decoder is not None or self.model.label is not None:
            raise ValueError(
                "RepresentationModule trains an image encoder alone: set "
                "model.image.decoder and model.label to null"
            )
        if self.recipe.augment != "simclr":
            raise ValueError("RepresentationModule needs recipe.augment 'simclr' (two views)")

    def losses(self, batch) -> dict[str, Tensor]:
        images, _ = batch
        query, key = self.views(images)
        encode = self.model.image.encode
        return {"align": self.align(encode(query), encode(key))}
