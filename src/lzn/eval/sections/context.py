"""What every evaluation section runs on: the model, the held-out split, the command's settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from lzn.eval.datasets import EvaluationSplit
from lzn.progress import bar as progress_bar


@dataclass
class EvaluationContext:
    model: object  # an LZN, in eval mode on the config's device
    config: dict  # the whole config: the top-level settings (seed, device, features, ...)
    split: EvaluationSplit
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    out: Path  # the report's folder, for plots
    # The report being written: a section adds a report-wide entry to it (generation names its
    # feature extractor), its results come back from `run`.
    report: dict
    progress: bool = False  # a bar per long phase on stderr
    _frozen: tuple[Tensor, Tensor] | None = field(default=None, repr=False)

    @property
    def seed(self) -> int:
        return self.config["seed"]

    def frozen_features(self) -> tuple[Tensor, Tensor]:
        """`model.embed` of the train and test images, computed once for every section."""
        if self._frozen is None:
            self._frozen = (
                self._embed(self.x_train, "features (train)"),
                self._embed(self.x_test, "features (test)"),
            )
        return self._frozen

    @torch.no_grad()
    def _embed(self, images: Tensor, desc: str, batch_size: int = 500) -> Tensor:
        with progress_bar(len(images), desc, enabled=self.progress, unit="image") as bar:
            parts = []
            for i in range(0, len(images), batch_size):
                parts.append(self.model.embed(images[i : i + batch_size]))
                bar.update(len(parts[-1]))
        return torch.cat(parts)
