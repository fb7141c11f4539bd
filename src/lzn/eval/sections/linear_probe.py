"""`linear_probe:` a linear classifier on the model's features, by one of two protocols:
L-BFGS on frozen features (`augment: false`) or trained on augmented images (`augment: true`,
the paper's main protocol); docs/evaluation.md "Representation metrics"."""

from __future__ import annotations

from typing import ClassVar

from lzn.eval.sections import values
from lzn.eval.sections.base import EvaluationSection
from lzn.eval.sections.context import EvaluationContext

# The augmented probe's settings. The paper's ImageNet values are epochs 300, batch 8192, lr 3e-4,
# weight decay 0 (`augmented_probe.PAPER`); with 1.4k-5k images a batch of 8192 is one step per
# epoch, so the batch and lr are scaled to the data.
AUGMENTED_PROBE = {
    "epochs": 100,
    "batch_size": 256,
    "lr": 3e-3,
    "weight_decay": 0.0,
    "crop_scale": None,
    "flip": None,
}
LBFGS_PROBE = {"weight_decays": None, "validation_fraction": 0.2}  # null: the probe's own grid
# Augmentation for small grey digits: a milder crop than ImageNet's (0.08, 1), and no flips.
DIGIT_AUGMENTATION = {"crop_scale": [0.8, 1.0], "flip": False}
NATURAL_AUGMENTATION = {"crop_scale": [0.08, 1.0], "flip": True}  # the paper's (ImageNet)


class LinearProbe(EvaluationSection):
    name = "linear_probe"
    defaults: ClassVar[dict] = {"augment": False, **LBFGS_PROBE, **AUGMENTED_PROBE}
    phase = "representation"
    needs_test = True

    @classmethod
    def check(cls, settings: dict, given: dict) -> None:
        # A setting of the other protocol would be silently ignored: refuse it by name.
        augment = given.get("augment", False)
        unused = sorted(set(given) & set(LBFGS_PROBE if augment else AUGMENTED_PROBE))
        if unused:
            which = "augment: true (the augmented probe)" if augment else "augment: false (L-BFGS)"
            raise ValueError(f"linear_probe settings {unused} are not used with {which}")
        values.numbers(settings, "weight_decays", "validation_fraction", "lr")
        values.numbers(settings, "weight_decay", "crop_scale")
        if not isinstance(settings["augment"], bool):
            raise ValueError(
                f"linear_probe augment must be true or false, got {settings['augment']!r}"
            )
        values.positive_ints(
            [settings["epochs"], settings["batch_size"]], "linear_probe epochs and batch_size"
        )
        if not isinstance(settings["lr"], (int, float)) or settings["lr"] <= 0:
            raise ValueError(f"linear_probe lr must be a positive number, got {settings['lr']!r}")
        wd = settings["weight_decay"]
        if not isinstance(wd, (int, float)) or wd < 0:
            raise ValueError(f"linear_probe weight_decay must be a non-negative number, got {wd!r}")
        if settings["flip"] not in (None, True, False):
            raise ValueError(
                f"linear_probe flip must be true, false or null, got {settings['flip']!r}"
            )
        if settings["crop_scale"] is not None:
            from lzn.eval.augment import check_scale

            try:
                check_scale(settings["crop_scale"])
            except ValueError as e:
                raise ValueError(f"linear_probe {e}") from None

    def describe(self, context: EvaluationContext) -> str:
        lp = self.settings
        how = f"augmented, {lp['epochs']} epochs" if lp["augment"] else "L-BFGS"
        return f"linear_probe ({how})"

    def run(self, context: EvaluationContext) -> dict:
        from lzn.eval import augmented_probe
        from lzn.eval.representation import linear_probe

        lp, train, test = self.settings, context.train, context.test
        if lp["augment"]:
            options = {
                "epochs": lp["epochs"],
                "batch_size": lp["batch_size"],
                "lr": lp["lr"],
                "weight_decay": lp["weight_decay"],
                "seed": context.seed,
                "progress": context.progress,
                **self._augmentation(context.split.data),
            }
            if train.streamed:  # ImageNet: read from disk, batch by batch
                return augmented_probe.streamed_augmented_linear_probe(
                    context.model.embed,
                    train.dataset,
                    test.dataset,
                    workers=train.workers,
                    device=train.device,
                    **options,
                )
            return augmented_probe.augmented_linear_probe(
                context.model.embed, train.tensor, train.labels, test.tensor, test.labels,
                **options,
            )  # fmt: skip
        options = {"validation_fraction": lp["validation_fraction"]}
        if lp["weight_decays"] is not None:
            options["weight_decays"] = lp["weight_decays"]
        f_train, f_test = context.frozen_features()
        return linear_probe(
            f_train,
            train.labels,
            f_test,
            test.labels,
            seed=context.seed,
            device=context.config["device"],
            progress=context.progress,
            **options,
        )

    def _augmentation(self, data: str) -> dict:
        """The probe's crop scale and flip: the config's, or the defaults for the data set."""
        defaults = DIGIT_AUGMENTATION if data in ("digits", "mnist") else NATURAL_AUGMENTATION
        return {
            key: self.settings[key] if self.settings[key] is not None else defaults[key]
            for key in ("crop_scale", "flip")
        }
