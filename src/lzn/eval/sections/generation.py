"""`generation:` FID, KID, Inception Score and precision/recall of generated samples, one run per
number of sampler steps, against the train split and with the held-out split as the floor."""

from __future__ import annotations

import time
from typing import ClassVar

import torch

from lzn.eval import datasets
from lzn.eval.sections import values
from lzn.eval.sections.base import EvaluationSection
from lzn.eval.sections.context import EvaluationContext


class Generation(EvaluationSection):
    name = "generation"
    defaults: ClassVar[dict] = {
        "metrics": ["fid", "kid", "inception_score", "precision_recall"],
        "samples": None,  # per run; null: as many as the reference (the train split)
        "sampler": "euler",
        "steps": [20],  # one run per value: FID vs steps
        "batch_size": 250,
        "kid": {},
        "precision_recall_k": 3,
        "inception_score_splits": 10,
        "grid": 100,  # samples in samples.png
    }

    @classmethod
    def check(cls, settings: dict, given: dict) -> None:
        from lzn.eval.generative import METRICS

        if isinstance(settings["steps"], int):
            settings["steps"] = [settings["steps"]]
        unknown = sorted(set(settings["metrics"]) - set(METRICS))
        if unknown:
            raise ValueError(f"unknown generation metrics {unknown}; they are {list(METRICS)}")
        values.sampler(settings["sampler"], "generation")
        values.positive_ints(settings["steps"], "generation steps")
        values.positive_ints(settings["samples"], "generation samples", allow_none=True)

    def check_model(self, model) -> None:
        if model.image.decoder is None:
            raise ValueError("generation metrics need an image decoder; this model has none")

    def check_split(self, config: dict, split: datasets.EvaluationSplit) -> None:
        from lzn.eval import classifier

        if config["features"] == "classifier" and split.data not in classifier.SHIPPED:
            raise ValueError(
                f"no shipped classifier for {split.data!r} (there are: "
                f"{', '.join(classifier.SHIPPED)}); use features: inception (the standard FID: "
                "torch-fidelity and its weights file, docs/evaluation.md) or features: pixels "
                "(offline, not comparable with published FIDs)"
            )
        if config["features"] == "inception":  # before minutes of loading and sampling
            from lzn.eval import inception

            inception.check_available(config["inception_weights"])

    def check_data(self, model, train, test) -> None:
        super().check_data(model, train, test)
        # Before the reference features are computed, not after.
        if model.label is not None and int(train.labels.min()) < 0:
            raise ValueError(
                f"class-conditional generation draws labels from the reference's, and "
                f"{train.source} has no labels (class folders)"
            )

    def describe(self, context: EvaluationContext) -> str:
        gen = self.settings
        n = gen["samples"] or len(context.train)
        return f"{len(gen['steps'])} run(s) of {n} samples ({gen['sampler']}, steps {gen['steps']})"

    def run(self, context: EvaluationContext) -> dict:
        from lzn import images
        from lzn.eval import features as feats
        from lzn.eval import report as rep
        from lzn.eval.generative import GenerativeMetrics, generated_batches

        gen, split, model = self.settings, context.split, context.model
        train, test, y_ref = context.train, context.test, context.train.labels
        extractor, description = _extractor(context.config, split)
        context.report["features"] = {"name": extractor.name, "description": description}
        metrics = GenerativeMetrics(
            extractor,
            gen["metrics"],
            batch_size=gen["batch_size"],
            kid=gen["kid"],
            inception_score_splits=gen["inception_score_splits"],
            precision_recall_k=gen["precision_recall_k"],
        )
        # The key names the split: another split's train images are other images.
        key = context.reference_key()
        reference, cache = feats.cached_extract(
            key,
            extractor,
            lambda: train.batches(gen["batch_size"]),
            total=len(train),
            cache_dir=context.config["cache_dir"],
            keep_features=metrics.keeps_features,
            keep_logits=False,
            batch_size=gen["batch_size"],
            progress=context.progress,
        )
        n = gen["samples"] or len(train)
        conditional = model.label is not None
        runs = []
        for steps in gen["steps"]:
            generator = torch.Generator().manual_seed(context.seed)
            labels = None
            if conditional:  # the reference's label frequencies, as the official code
                order = torch.randperm(n, generator=generator) % len(y_ref)
                labels = y_ref[order]
            stream = generated_batches(
                model,
                n,
                batch_size=gen["batch_size"],
                labels=labels,
                generator=generator,
                sampler=gen["sampler"],
                steps=steps,
            )
            kept: list[torch.Tensor] = []

            def keep_grid(stream=stream, kept=kept):
                for batch in stream:
                    if sum(map(len, kept)) < gen["grid"]:
                        kept.append(batch[: gen["grid"] - sum(map(len, kept))].cpu())
                    yield batch

            start = time.perf_counter()
            generated = metrics.features(
                keep_grid(),
                progress=context.progress,
                desc=f"samples ({gen['sampler']}, {steps} steps)",
                total=n,
            )
            result = metrics.compute(reference, generated)
            runs.append(
                {
                    "sampler": gen["sampler"],
                    "steps": steps,
                    "samples": n,
                    "conditional": conditional,
                    "seconds": round(time.perf_counter() - start, 2),
                    **result,
                }
            )
            if kept:  # the grid shows the last run's first samples
                images.save_grid(torch.cat(kept), context.out / "samples.png", columns=10)
        # Real held-out images against the same reference: the floor the numbers above approach
        # (with fewer samples than the runs, so a larger FID bias). A folder has no test split.
        floor = None
        if test is not None:
            floor = metrics.compute(
                reference,
                metrics.features(
                    test.batches(gen["batch_size"]),
                    progress=context.progress,
                    desc="held-out features",
                    total=len(test),
                ),
            )
        if "fid" in gen["metrics"] and len(runs) > 1:
            floor_fid = floor.get("fid") if floor else None
            rep.plot_fid_vs_steps(runs, context.out / "fid_vs_steps.png", floor_fid)
        return {
            "held_out_real": {"samples": len(test), **floor} if floor is not None else None,
            "reference": {
                "description": f"{len(train)} images: {_reference(split, train.source)} (the "
                "paper and the official code compare with the training set)",
                "cache": str(cache),
            },
            "labels": "class-conditional, labels drawn from the reference split's labels"
            if conditional
            else "unconditional (latents from N(0, I))",
            "runs": runs,
            "grid": f"samples.png: the first {gen['grid']} samples of the "
            f"{runs[-1]['steps']}-step run",
        }


def _reference(split: datasets.EvaluationSplit, source: str) -> str:
    if split.fixed:
        return f"{source}, {datasets.FIXED_SPLITS[split.data]}"
    return (
        f"the {split.data} train split (test_fraction {split.test_fraction:g}, seed {split.seed})"
    )


def _extractor(config: dict, split: datasets.EvaluationSplit):
    """The feature extractor the config names, and a description of it for the report."""
    from lzn.eval import classifier, features, inception

    if config["features"] == "inception":
        extractor = inception.InceptionFeatures(config["inception_weights"], config["device"])
        return extractor, f"TF-Inception pool3 (torch-fidelity port, weights {extractor.weights})"
    if config["features"] == "pixels":
        return features.pixels(), "raw pixels"
    # A data set without a shipped classifier was refused by check_split, before any work.
    extractor = classifier.ClassifierFeatures(split.data, config["device"])
    acc = extractor.metadata["training"]["test_accuracy"]
    description = (
        f"the shipped {split.data} classifier's 128-d penultimate layer ({extractor.name}, "
        f"test accuracy {acc:.2%}; docs/evaluation.md)"
    )
    if (split.test_fraction, split.seed) != (datasets.DEFAULT_TEST_FRACTION, datasets.DEFAULT_SEED):
        description += (
            f"; it was trained on the split test_fraction {datasets.DEFAULT_TEST_FRACTION:g}, "
            f"seed {datasets.DEFAULT_SEED}, so some of these held-out images were its training "
            "images (the held-out floor is biased low)"
        )
    return extractor, description
