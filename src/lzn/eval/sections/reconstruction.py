"""`reconstruction:` the paper's reconstruction error of training images (image -> noise -> image
with the same latent), docs/evaluation.md "Reconstruction error"."""

from __future__ import annotations

from typing import ClassVar

from lzn.eval.sections import values
from lzn.eval.sections.base import EvaluationSection
from lzn.eval.sections.context import EvaluationContext


class Reconstruction(EvaluationSection):
    name = "reconstruction"
    defaults: ClassVar[dict] = {
        "images": 2000,  # the first n training images (all of them if fewer)
        "repeats": 20,
        "sampler": "rk45",
        "steps": 20,
        "batch_size": None,  # null: all images' latents in one batch, as the paper
    }

    @classmethod
    def check(cls, settings: dict, given: dict) -> None:
        values.sampler(settings["sampler"], "reconstruction")
        values.positive_ints(
            [settings["images"], settings["repeats"], settings["steps"]],
            "reconstruction images, repeats and steps",
        )
        values.positive_ints(settings["batch_size"], "reconstruction batch_size", allow_none=True)

    def check_model(self, model) -> None:
        if model.image.decoder is None:
            raise ValueError("reconstruction metrics need an image decoder; this model has none")

    def check_data(self, model, train, test) -> None:
        super().check_data(model, train, test)
        if model.image.num_classes and int(train.labels.min()) < 0:
            raise ValueError(
                f"reconstruction with a class-conditional decoder needs the images' labels, and "
                f"{train.source} has none (class folders)"
            )

    def describe(self, context: EvaluationContext) -> str:
        rec = self.settings
        n = min(rec["images"], len(context.train))
        return f"{n} images x {rec['repeats']} draws ({rec['sampler']}, {rec['steps']} steps)"

    def run(self, context: EvaluationContext) -> dict:
        from lzn.eval.reconstruction import reconstruction_error

        rec = self.settings
        images = context.train.first(rec["images"])
        labels = context.train.labels[: len(images)] if context.model.image.num_classes else None
        return reconstruction_error(
            context.model,
            images,
            labels=labels,
            repeats=rec["repeats"],
            batch_size=rec["batch_size"],
            sampler=rec["sampler"],
            steps=rec["steps"],
            seed=context.seed,
            progress=context.progress,
        )
