"""What the case study 1 and 3 tables share: training a case study's Lightning module on
scikit-learn's digits (the same module, data module and trainer as `lzn fit`), and scoring samples
with a classifier that never saw a digit.

Scoring: the 128-d features of the shipped `mnist-digits` classifier (trained on MNIST alone, in
the digits' format; it reads 91% of the real digits right), generated images against the 359
held-out digits (split seed 0, which no generator trains on): FID, KID (100 subsets of 300) and
precision/recall (k 3), as `lzn.eval.generative` computes them; for class-conditional samples also
the share the classifier reads as the requested digit.
"""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch

import runs
from lzn.data import DigitsData, digits
from lzn.eval import ClassifierFeatures, GenerativeMetrics

SCORER = "mnist-digits"
SPLIT_SEED = 0  # one held-out split for every run: the seed changes the training only
CURVE_EVERY = 25  # steps between the loss-curve points a record keeps


class LossCurve(L.Callback):
    """The module's losses every CURVE_EVERY steps (the last step's `step_metrics`)."""

    def __init__(self):
        self.points: list[dict] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        step = module.global_step
        if step % CURVE_EVERY == 0 or step == trainer.max_steps:
            metrics = {k: float(v) for k, v in module.step_metrics.items() if k.startswith("loss/")}
            self.points.append({"step": step, **metrics})


def train(module: L.LightningModule, steps: int, batch: int) -> tuple[float, list[dict]]:
    """Train `module` for `steps` steps of `batch` digits on CPU; (seconds, loss curve). Seed the
    run (`L.seed_everything`) before building the module: its weights come from that seed."""
    from lzn.train.quiet import quiet_lightning

    curve = LossCurve()
    data = DigitsData(batch_size=batch, split_seed=SPLIT_SEED)
    with quiet_lightning(False):
        trainer = L.Trainer(
            max_steps=steps, accelerator="cpu", devices=1, logger=False, callbacks=[curve],
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        )  # fmt: skip
        start = time.perf_counter()
        trainer.fit(module, data)
    return time.perf_counter() - start, curve.points


class Scorer:
    """Generated digits against the held-out ones, in the `mnist-digits` classifier's features."""

    def __init__(self):
        self.x_train, self.y_train, self.x_test, self.y_test = digits.load(seed=SPLIT_SEED)
        extractor = ClassifierFeatures(SCORER)
        self.name = extractor.name
        self.metrics = GenerativeMetrics(
            extractor, ["fid", "kid", "precision_recall"], kid={"subset_size": 300}
        )
        self.reference = self.metrics.features(self.x_test)
        self.classifier = extractor.model

    def score(self, images: torch.Tensor) -> dict:
        """FID, KID (mean and spread over subsets), precision and recall of images (n, 1, 8, 8)."""
        result = self.metrics.compute(self.reference, self.metrics.features(images))
        return {
            "fid": result["fid"], "kid": result["kid"]["mean"], "kid_std": result["kid"]["std"],
            "precision": result["precision_recall"]["precision"],
            "recall": result["precision_recall"]["recall"],
        }  # fmt: skip

    @torch.no_grad()
    def read_as(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        """The share of `images` the classifier reads as `labels`."""
        return float((self.classifier(images).argmax(1) == labels).double().mean())

    def real_train_images(self, n: int) -> dict:
        """The score of n real training digits (a seeded draw), for scale: what a generator that
        reproduced its training set would get; `read_as`: the share the classifier reads right."""
        index = torch.randperm(len(self.x_train), generator=torch.Generator().manual_seed(0))[:n]
        images, labels = self.x_train[index], self.y_train[index]
        return self.score(images) | {"read_as": self.read_as(images, labels)}

    @property
    def protocol(self) -> str:
        return (
            f"features of the {SCORER} classifier ({self.name}: trained on MNIST only, never on a "
            f"digit); {len(self.x_test)} held-out digits (split seed {SPLIT_SEED}) as reference; "
            f"FID, KID (100 subsets of 300, x 1e3 in the table), precision/recall (k 3)"
        )


def keep_model(module: L.LightningModule, directory: Path) -> str:
    """Save the module's EMA model (`LZN.from_pretrained` loads it) so that a later session can
    score it with other samplers without training again; returns the folder."""
    with module.ema.applied(module.model):
        module.model.save_pretrained(directory)
    return str(directory)


def models_dir(out: Path) -> Path:
    """Where a table's models go: `models/` in its results folder (ignored by git)."""
    return out / "models"


def sample(
    model, n: int, seed: int, sampler: str, steps: int, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, float]:
    """n samples in batches of 250 (with the given labels, or unconditional); (images, seconds)."""
    from lzn.eval.generative import generated_batches

    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    model.eval()
    images = torch.cat(
        list(
            generated_batches(
                model, n, labels=labels, generator=generator, sampler=sampler, steps=steps
            )
        )
    )
    return images, time.perf_counter() - start


def parser(
    doc: str, out: Path, arms: tuple[str, ...], steps: int, lrs: dict[str, float]
) -> argparse.ArgumentParser:
    """A digits table's options: where, which runs, the shared recipe and the sampling."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=out)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--arms", nargs="+", choices=arms, default=list(arms))
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch", type=int, default=256)
    for part, lr in lrs.items():
        p.add_argument(f"--lr-{part}", type=float, default=lr)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--sampler", choices=("rk45", "euler"), default="rk45")
    p.add_argument("--sample-steps", type=int, default=20, help="Euler steps (rk45: unused)")
    return p


def run_table(
    script: str,
    args: argparse.Namespace,
    argv: list[str],
    settings: Callable[[str, argparse.Namespace, Scorer], dict],
    run_one: Callable[[str, int, dict, Scorer, Path], dict],
    table: Callable[[list[dict], dict, str, str, str], str],
    summary: Callable[[list[dict]], dict],
    show: Callable[[dict], str],
) -> list[dict]:
    """A table's command: every (arm, seed) run of `args` (resumed from `args.out`), then
    results.json and results.md; returns the runs' records."""
    for name in ("steps", "batch", "samples", "sample_steps"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer")
    command = shlex.join(["python", f"benchmarks/{script}", *argv])
    scorer = Scorer()
    arms, seeds = list(dict.fromkeys(args.arms)), list(dict.fromkeys(args.seeds))
    config = {arm: settings(arm, args, scorer) for arm in arms}
    sizes = {"train_images": len(scorer.x_train), "test_images": len(scorer.x_test)}
    records = runs.run_all(
        args.out, [(a, s) for a in arms for s in seeds], config,
        lambda arm, seed: run_one(arm, seed, config[arm], scorer, models_dir(args.out)), sizes,
        show,
    )  # fmt: skip
    real = scorer.real_train_images(args.samples)
    date = runs.now()
    results = {
        "protocol": scorer.protocol, "command": command, "date": date, "machine": runs.machine(),
        "summary": summary(records), "real_training_digits": real, "runs": records,
    }  # fmt: skip
    runs.write_json(args.out / "results.json", results)
    runs.write_text(args.out / "results.md", table(records, real, scorer.protocol, command, date))
    print(f"wrote {args.out / 'results.md'}")
    return records
