"""Lightning modules of the case studies, on one shared base.

`LZNModule` owns the mechanics every case study shares: the LZN model built from a preset (with
changes) or a full config, one Adam parameter group per part (encoder, decoder, label anchors)
with its own learning rate, linear warm-up, per-part iteration budgets after which a part is
frozen (it stays in the graph, as in the paper's recipes), gradient clipping, a step skipped
whenever the gradient is not finite (never NaN weights), an EMA of each part while it trains (a
frozen part keeps the average it had at its freeze, as in the official code), and random numbers
that are a function of (seed, step, rank) so that a resumed run repeats the uninterrupted one
exactly. A case study only says what its losses are, and which recipe keys it reads
(`recipe_keys`: a key given that the module does not read is refused by name):

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
import torch.distributed as dist
from torch import Tensor

from lzn import presets, rng, zoning
from lzn.data import augment
from lzn.losses import LatentAlignmentLoss
from lzn.model import LZN
from lzn.train.ema import EMA

# Adam is every recipe's; SGD makes one step an exact function of the gradient (tests, probes).
_OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
_AUGMENTATIONS = ("none", "hflip", "simclr")

# A recipe without a preset starts from these; `lr` and `iterations` must name every trained part.
RECIPE_DEFAULTS = {
    "lr": None,  # {part: learning rate}
    "iterations": None,  # {part: steps before it is frozen}
    "ema": 0.999,
    "optimizer": "adam",
    "weight_decay": 0.0,
    "grad_clip": 1.0,
    "warmup_steps": 0,
    "augment": "none",
    "alpha": 1.0,  # representation: noise scale of the query view's latents
    "cutoff": 0.2,  # representation: share of the flow's first steps left out of the loss
    "log_loss": True,  # representation: -mean(log max P) (the paper's CE form)
    "label_loss_weight": 1.0,  # joint
    "paper": "",
    "source": "",
}
# What a recipe says about itself, not what runs: never refused.
RECIPE_METADATA = ("paper", "source")


def resolve(preset: str | None, model: dict | None, recipe: dict | None) -> tuple[dict, dict]:
    """The model config and training recipe: a preset's with `model`/`recipe` changes applied
    (unknown keys refused), or, without a preset, a full model config and a recipe."""
    recipe = dict(recipe or {})
    if "batch_size" in recipe:
        raise ValueError(
            "recipe.batch_size: the batch size is set by the data module (data.batch_size, "
            "the global batch over all devices)"
        )
    if preset is not None:
        base = presets.recipe(preset)
        base.pop("batch_size")
        return presets.merge(presets.config(preset), model or {}, "model"), presets.merge(
            base, recipe, "recipe"
        )
    if model is None:
        raise ValueError("give a preset (see lzn.presets.names()) or a full model config")
    return dict(model), presets.merge(RECIPE_DEFAULTS, recipe, "recipe")


def step_seed(step: int, rank: int) -> int:
    """The seed of one training step on one rank, from the run's seed (`seed_everything`)."""
    return ((rng.run_seed() * 1_000_003 + step) * 4099 + rank) % 2**63


class LZNModule(L.LightningModule):
    # The recipe keys this module reads (besides RECIPE_METADATA); a subclass adds its own.
    recipe_keys: tuple[str, ...] = (
        "lr", "iterations", "ema", "optimizer", "weight_decay", "grad_clip", "warmup_steps",
        "augment",
    )  # fmt: skip

    def __init__(
        self, preset: str | None = None, model: dict | None = None, recipe: dict | None = None
    ):
        """preset: a name from `lzn.presets.names()` (architecture and recipe); model, recipe:
        changes to the preset's (nested keys, e.g. {"lr": {"encoder": 1e-4}}), or in full
        without a preset. A recipe key this module does not read is refused; `self.recipe`
        holds the keys it reads (and the recipe's metadata), nothing else."""
        super().__init__()
        self.save_hyperparameters()
        self._refuse_unused_keys(recipe or {})
        config, resolved = resolve(preset, model, recipe)
        used = (*self.recipe_keys, *RECIPE_METADATA)
        self.recipe = {k: v for k, v in resolved.items() if k in used}
        self.model = LZN(config)
        self._check_recipe()
        self.automatic_optimization = False  # to skip non-finite steps and freeze parts
        self.ema = EMA(self.model, self.recipe["ema"])
        self.skipped_steps = 0  # steps whose gradient was not finite
        self.step_metrics: dict = {}  # what the last training step logged

    def _refuse_unused_keys(self, given: dict) -> None:
        """The keys the user gave must be read by this module: `alpha` set for a generation run
        would otherwise change nothing, silently. Keys a preset holds for another case study are
        not the user's and are dropped quietly."""
        known = {*self.recipe_keys, *RECIPE_METADATA, "batch_size"}  # resolve explains the last
        unused = [k for k in given if k not in known]
        if unused:
            names = ", ".join(f"recipe.{k}" for k in unused)
            verb = "is" if len(unused) == 1 else "are"
            raise ValueError(
                f"{names} {verb} not used by {type(self).__name__} "
                f"(it uses: {', '.join(self.recipe_keys)})"
            )

    def _check_recipe(self) -> None:
        parts = set(self.parts())
        for key in ("lr", "iterations"):
            given = set(self.recipe[key] or {})
            if given != parts:
                raise ValueError(
                    f"recipe.{key} must name exactly the trained parts {sorted(parts)}, "
                    f"got {sorted(given)}"
                )
        if self.recipe["optimizer"] not in _OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.recipe['optimizer']!r}: use one of "
                f"{', '.join(_OPTIMIZERS)}"
            )
        if self.recipe["augment"] not in _AUGMENTATIONS:
            raise ValueError(
                f"recipe.augment must be one of {', '.join(_AUGMENTATIONS)}, "
                f"got {self.recipe['augment']!r}"
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
        lr = self.recipe["lr"]
        groups = [{"params": p, "lr": lr[name], "name": name} for name, p in self.parts().items()]
        optimizer = _OPTIMIZERS[self.recipe["optimizer"]](
            groups, weight_decay=self.recipe["weight_decay"]
        )
        warmup = max(1, self.recipe["warmup_steps"])
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / warmup)
        )
        return [optimizer], [schedule]

    def _freeze_finished_parts(self) -> None:
        for name, params in self.parts().items():
            if self.global_step >= self.recipe["iterations"][name]:
                for p in params:
                    p.requires_grad_(False)

    def latents(self, images: Tensor, alpha: float = 1.0) -> Tensor:
        """Latents of this rank's images against the anchors of all ranks' images."""
        anchors, index = zoning.gather_anchors(self.model.image.encode(images))
        return zoning.compute_latents(anchors, index=index, alpha=alpha, flow=self.model.image.flow)

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
        norm = torch.nn.utils.clip_grad_norm_(params, self.recipe["grad_clip"])
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


def global_class_weights(labels: Tensor, num_classes: int) -> Tensor:
    """Class frequencies of the global batch (summed over ranks): the label flow's weights."""
    counts = torch.bincount(labels, minlength=num_classes).float()
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(counts)
    return counts / counts.sum()


class GenerationModule(LZNModule):
    def _check_recipe(self) -> None:
        super()._check_recipe()
        if self.model.image.decoder is None:
            raise ValueError(f"{type(self).__name__} needs a model with an image decoder")
        if self.recipe["augment"] == "simclr":
            raise ValueError("recipe.augment 'simclr' (two views) is for RepresentationModule")

    def losses(self, batch) -> dict[str, Tensor]:
        images, labels = batch
        if self.recipe["augment"] == "hflip":
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
    recipe_keys = (*GenerationModule.recipe_keys, "label_loss_weight")

    def _check_recipe(self) -> None:
        super()._check_recipe()
        if self.model.label is None:
            raise ValueError("JointModule needs a model with a label modality (model.label)")

    def latent_losses(self, z: Tensor, labels: Tensor) -> dict[str, Tensor]:
        label = self.model.label
        weights = global_class_weights(labels, label.num_classes)
        weight = self.recipe["label_loss_weight"]
        return {"label": weight * label.alignment_loss(z, labels, weights)}


class RepresentationModule(LZNModule):
    recipe_keys = (*LZNModule.recipe_keys, "alpha", "cutoff", "log_loss")

    def __init__(
        self, preset: str | None = None, model: dict | None = None, recipe: dict | None = None
    ):
        super().__init__(preset, model, recipe)
        self.views = augment.SimCLRViews(self.model.image.image_size)
        self.align = LatentAlignmentLoss(
            alpha=self.recipe["alpha"], flow=self.model.image.flow, cutoff=self.recipe["cutoff"],
            log=self.recipe["log_loss"],
        )  # fmt: skip

    def _check_recipe(self) -> None:
        super()._check_recipe()
        if self.model.image.decoder is not None or self.model.label is not None:
            raise ValueError(
                "RepresentationModule trains an image encoder alone: set "
                "model.image.decoder and model.label to null"
            )
        if self.recipe["augment"] != "simclr":
            raise ValueError("RepresentationModule needs recipe.augment 'simclr' (two views)")

    def losses(self, batch) -> dict[str, Tensor]:
        images, _ = batch
        query, key = self.views(images)
        encode = self.model.image.encode
        return {"align": self.align(encode(query), encode(key))}
