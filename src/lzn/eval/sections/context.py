"""What every evaluation section runs on: the model, the split's images, the command's settings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from lzn.eval.datasets import EvaluationSplit
from lzn.eval.sources import Images
from lzn.progress import bar as progress_bar


@dataclass
class EvaluationContext:
    model: object  # an LZN, in eval mode on the config's device
    config: dict  # the whole config: the top-level settings (seed, device, features, ...)
    split: EvaluationSplit
    train: Images
    test: Images | None  # None: the data set has no test split (a folder of images)
    out: Path  # the report's folder, for plots
    # The report being written: a section adds a report-wide entry to it (generation names its
    # feature extractor), its results come back from `run`.
    report: dict
    progress: bool = False  # a bar per long phase on stderr
    _frozen: tuple[Tensor, Tensor] | None = field(default=None, repr=False)

    @property
    def seed(self) -> int:
        return self.config["seed"]

    # The whole splits as tensors, for sections that need them in memory (accuracy); a streamed
    # data set is refused there with a message naming it.
    @property
    def x_train(self) -> Tensor:
        return self.train.in_memory("this metric")

    @property
    def y_train(self) -> Tensor:
        return self.train.labels

    @property
    def x_test(self) -> Tensor:
        return self.test_images().in_memory("this metric")

    @property
    def y_test(self) -> Tensor:
        return self.test_images().labels

    def test_images(self, what: str = "this metric") -> Images:
        if self.test is None:
            raise ValueError(f"{what} needs a test split; {self.train.source} has none")
        return self.test

    def reference_key(self) -> str:
        """A name for the train split's images, for cached reference features: another split,
        folder or image size gives other images."""
        split, n = self.split, len(self.train)
        if not split.fixed:
            return f"{split.data}-train-frac{split.test_fraction:g}-seed{split.seed}-n{n}"
        root = str(Path(self.config["data_root"]).expanduser().resolve())
        where = hashlib.sha256(root.encode()).hexdigest()[:10]
        image = self.model.config["image"]
        return f"{split.data}-train-{image['size']}px-{image['channels']}ch-{where}-n{n}"

    def frozen_features(self) -> tuple[Tensor, Tensor]:
        """`model.embed` of the train and test images, computed once for every section."""
        if self._frozen is None:
            test = self.test_images("a representation metric")
            self._frozen = (
                self._embed(self.train, "features (train)"),
                self._embed(test, "features (test)"),
            )
        return self._frozen

    @torch.no_grad()
    def _embed(self, images: Images, desc: str, batch_size: int = 500) -> Tensor:
        with progress_bar(len(images), desc, enabled=self.progress, unit="image") as bar:
            parts = []
            for batch in images.batches(batch_size):
                parts.append(self.model.embed(batch))
                bar.update(len(parts[-1]))
        return torch.cat(parts)
