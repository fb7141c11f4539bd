"""What a training run leaves behind besides checkpoints: sample grids, the exported model, and a
progress bar that counts optimizer steps (the recipes' unit) rather than epochs."""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm, convert_inf

from lzn import images


class SampleGrid(L.Callback):
    """Every `every_n_steps` steps (and at the end), a grid of samples of the EMA model:
    `<run>/samples/step-0001000.png` and, with TensorBoard, an image in its log. The same noise
    every time (`seed`), so that grids of successive steps compare. Class-conditional models draw
    a row per class. Models without a decoder are skipped."""

    def __init__(
        self, every_n_steps: int = 1000, n: int = 64, sampler: str = "euler", steps: int = 20,
        seed: int = 0,
    ):  # fmt: skip
        if every_n_steps < 1 or n < 1:
            raise ValueError("samples.every_n_steps and samples.n must be positive")
        self.every_n_steps, self.n, self.sampler, self.steps, self.seed = (
            every_n_steps, n, sampler, steps, seed,
        )  # fmt: skip

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self.write(trainer, module)

    def on_fit_end(self, trainer, module) -> None:
        if trainer.global_step % self.every_n_steps:  # else the last step wrote it already
            self.write(trainer, module)

    @torch.no_grad()
    def write(self, trainer, module) -> None:
        model = module.model
        if not trainer.is_global_zero or model.image.decoder is None:
            return
        columns, labels = min(self.n, 8), None
        if model.label is not None:
            classes = model.label.num_classes
            columns = max(1, self.n // classes)
            labels = torch.arange(classes).repeat_interleave(columns)
        generator = torch.Generator().manual_seed(self.seed)
        was_training = model.training
        with module.ema.applied(model):
            model.eval()
            count = len(labels) if labels is not None else self.n
            samples = model.generate(
                count, labels, sampler=self.sampler, steps=self.steps, generator=generator
            )
        model.train(was_training)
        path = Path(trainer.default_root_dir) / "samples" / f"step-{trainer.global_step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        images.save_grid(samples, path, columns=columns)
        for logger in trainer.loggers:
            if hasattr(logger.experiment, "add_images"):  # TensorBoard
                logger.experiment.add_images(
                    "samples", (samples.float().cpu() + 1) / 2, trainer.global_step
                )


class ExportPretrained(L.Callback):
    """At the end of training, the EMA weights with their anchor bank and training-data record
    as a `save_pretrained` folder, `<run>/model/` (`lzn.train.export`), next to
    `<run>/checkpoints/`: what `LZN.from_pretrained` and `lzn sample` load."""

    def on_fit_end(self, trainer, module) -> None:
        if trainer.is_global_zero:
            from lzn.train.export import export

            export(module, trainer.datamodule, Path(trainer.default_root_dir) / "model")


class StepProgressBar(TQDMProgressBar):
    """One bar over the whole run, in optimizer steps up to `max_steps` (training here is endless
    batches cut at max_steps, so there are no epochs to count). A resumed run's bar starts at
    its checkpoint's step, with the same total; its rate counts this session's steps."""

    @property
    def total_train_batches(self):
        return self.trainer.max_steps if self.trainer.max_steps > 0 else float("inf")

    def init_train_tqdm(self) -> Tqdm:
        # Made at on_train_start, after a resume restored the step. Lightning's bar gets its total
        # at on_train_epoch_start, which a run resumed mid-epoch never calls: it showed "21/?".
        return Tqdm(
            desc="training steps",
            total=convert_inf(self.total_train_batches),
            initial=self.trainer.global_step,
            position=2 * self.process_position,
            disable=self.is_disabled,
            leave=True,
            dynamic_ncols=True,
            file=sys.stdout,
            smoothing=0,
            bar_format=self.BAR_FORMAT,
        )

    def on_train_epoch_start(self, trainer, *_) -> None:
        pass  # one bar for the whole run: Lightning's would start a new one for the epoch

    def on_exception(self, trainer, module, exception) -> None:
        if self._train_progress_bar is not None:  # end its line: a message follows
            self.train_progress_bar.close()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        bar = self.train_progress_bar
        if trainer.global_step % self.refresh_rate == 0 or trainer.global_step == trainer.max_steps:
            bar.n = trainer.global_step
            bar.set_postfix(self.get_metrics(trainer, module), refresh=False)
            bar.refresh()
