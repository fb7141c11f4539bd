"""Lightning modules of the case studies, on one shared base.

`LZNModule` owns the mechanics every case study shares: the LZN model built from a config, one
Adam parameter group per part (encoder, decoder, label anchors) with its own learning rate, linear
warm-up, per-part iteration budgets after which a part is frozen (it stays in the graph, as in the
paper's recipes), gradient clipping, a step skipped whenever the gradient is not finite (never NaN
weights), and an EMA of the whole model. A case study only says what its losses are:

- `GenerationModule` (case study 1): the rectified-flow loss of the decoder conditioned on the
  latents of the images, with the anchors of all ranks gathered (latent parallelism).
- `JointModule` (case study 3): the same, plus aligning the image latents to the label anchors with
  the batch's class frequencies as weights.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.distributed as dist
from torch import Tensor

from lzn import zoning
from lzn.model import LZN
from lzn.train.ema import EMA

# Adam is every recipe's; SGD makes one step an exact function of the gradient (tests, probes).
_OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


class LZNModule(L.LightningModule):
    def __init__(self, config: dict, recipe: dict):
        super().__init__()
        self.save_hyperparameters()
        self.model = LZN(config)
        self.recipe = recipe
        self.automatic_optimization = False  # to skip non-finite steps and freeze parts
        self.ema = EMA(self.model, recipe["ema"])
        self.skipped_steps = 0  # steps whose gradient was not finite

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
        kind = self.recipe.get("optimizer", "adam")
        if kind not in _OPTIMIZERS:
            raise ValueError(f"unknown optimizer {kind!r}: use one of {', '.join(_OPTIMIZERS)}")
        optimizer = _OPTIMIZERS[kind](groups, weight_decay=self.recipe.get("weight_decay", 0.0))
        warmup = max(1, self.recipe.get("warmup_steps", 0))
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
        return zoning.compute_latents(anchors, index=index, alpha=alpha, **self.model.image.flow)

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
        self.log_dict({f"loss/{k}": v.detach() for k, v in losses.items()}, prog_bar=True)
        self.log("grad_norm", norm.detach())
        self.log("skipped_steps", float(self.skipped_steps))
        return total.detach()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["ema"] = self.ema.state_dict()
        checkpoint["skipped_steps"] = self.skipped_steps

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
    def losses(self, batch) -> dict[str, Tensor]:
        images, labels = batch
        z = self.latents(images)
        conditional = self.model.image.num_classes > 0
        losses = {"rf": self.model.image.loss(images, z, labels if conditional else None)}
        return {**losses, **self.latent_losses(z, labels)}

    def latent_losses(self, z: Tensor, labels: Tensor) -> dict[str, Tensor]:
        """Losses on the image latents besides the decoder's (none in case study 1)."""
        return {}


class JointModule(GenerationModule):
    def latent_losses(self, z: Tensor, labels: Tensor) -> dict[str, Tensor]:
        label = self.model.label
        weights = global_class_weights(labels, label.num_classes)
        weight = self.recipe.get("label_loss_weight", 1.0)
        return {"label": weight * label.alignment_loss(z, labels, weights)}
