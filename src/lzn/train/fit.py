"""`lzn fit --config FILE [--key value ...]`: train any case study from a YAML recipe.

It is Lightning's CLI (jsonargparse): `model` names a training module and its preset/changes,
`data` a data module, `trainer` the Lightning Trainer (devices, nodes, precision, strategy), and
`checkpoint` / `samples` the checkpointing and sample-grid callbacks. What `lzn fit` adds:

- everything of a run lives in `trainer.default_root_dir`: `checkpoints/last.ckpt`, `samples/`,
  TensorBoard events and `metrics.csv`, `config.yaml`, and at the end `model/` (the EMA weights,
  for `LZN.from_pretrained`);
- running the same command again resumes from `checkpoints/last.ckpt` when it exists (to the same
  result as an uninterrupted run); `--ckpt_path` picks another checkpoint;
- checkpoints are written atomically and loaded without unpickling code;
- `trainer.max_steps` defaults to the recipe's longest per-part iteration budget.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_info

from lzn.data.modules import LZNData
from lzn.train.callbacks import ExportPretrained, SampleGrid, StepProgressBar
from lzn.train.checkpoint_io import AtomicCheckpointIO
from lzn.train.loggers import ResumableCSVLogger, TrimLogsOnResume
from lzn.train.module import LZNModule

DEFAULT_ROOT = "runs/lzn"


DESCRIPTION = (
    "Train a case study from a YAML recipe (configs/*.yaml). Everything of a run lives in "
    "trainer.default_root_dir: checkpoints/last.ckpt, samples/, TensorBoard events, metrics.csv, "
    "config.yaml, and at the end model/ (EMA weights for LZN.from_pretrained). Running the same "
    "command again resumes from checkpoints/last.ckpt."
)


def _processes(trainer: dict) -> int:
    """How many training processes the trainer settings ask for (at least)."""
    import torch

    devices = trainer.get("devices", "auto")
    if isinstance(devices, str) and devices not in ("auto", "-1"):
        devices = [d for d in devices.split(",") if d.strip()] if "," in devices else int(devices)
    if devices in ("auto", "-1", -1):
        devices = max(1, torch.cuda.device_count()) if trainer.get("accelerator") != "cpu" else 1
    count = len(devices) if isinstance(devices, list | tuple) else int(devices)
    return count * int(trainer.get("num_nodes") or 1)


class FitCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.every_n_train_steps": 1000,
                "checkpoint.save_last": True,
                "checkpoint.save_top_k": 0,  # last.ckpt only: resuming needs no more
            }
        )
        parser.add_lightning_class_args(SampleGrid, "samples")
        parser.add_argument(
            "--ckpt_path",
            type=str | None,
            default=None,
            help="checkpoint to resume from (default: <default_root_dir>/checkpoints/last.ckpt "
            "when it exists, else a fresh start)",
        )

    def instantiate_trainer(self, **kwargs):
        config = self._get(self.config_init, "trainer", default={})
        root = Path(config.get("default_root_dir") or DEFAULT_ROOT)
        kwargs["default_root_dir"] = str(root)
        if config.get("logger") in (None, True):
            kwargs["logger"] = [
                TensorBoardLogger(root, name="", version=""),
                ResumableCSVLogger(root, name="", version=""),
            ]
        if not config.get("plugins"):
            kwargs["plugins"] = [AtomicCheckpointIO()]
        if config.get("strategy") in ("auto", "ddp") and _processes(config) > 1:
            # Parts are frozen mid-run (and encoder heads may skip feature maps): plain DDP
            # stops at the first step where a parameter gets no gradient.
            kwargs["strategy"] = "ddp_find_unused_parameters_true"
        if config.get("max_steps", -1) == -1:
            kwargs["max_steps"] = max(self.model.recipe["iterations"].values())
        callbacks = [*(config.get("callbacks") or []), ExportPretrained(), TrimLogsOnResume()]
        if config.get("enable_progress_bar") is not False:
            callbacks.append(StepProgressBar())
        kwargs["callbacks"] = callbacks
        checkpoint = self._get(self.config_init, "checkpoint")
        if checkpoint.dirpath is None:
            checkpoint.dirpath = str(root / "checkpoints")
        return super().instantiate_trainer(**kwargs)


def fit(argv: list[str]) -> int:
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    cli = FitCLI(
        LZNModule,
        LZNData,
        subclass_mode_model=True,
        subclass_mode_data=True,
        seed_everything_default=0,
        trainer_defaults={"use_distributed_sampler": False, "log_every_n_steps": 10},
        save_config_kwargs={"overwrite": True},  # a resumed run rewrites the same config.yaml
        auto_configure_optimizers=False,  # the recipe sets the optimizers
        parser_kwargs={"prog": "lzn fit", "description": DESCRIPTION},
        args=argv,
        run=False,
    )
    ckpt_path = cli.config.get("ckpt_path")
    last = Path(cli.trainer.checkpoint_callback.dirpath) / "last.ckpt"
    if ckpt_path is None and last.is_file():
        ckpt_path = str(last)
        rank_zero_info(f"resuming from {last}")
    with warnings.catch_warnings():
        # The endless step-indexed loader is resumable by construction (lzn.data.batches).
        warnings.filterwarnings("ignore", message=".*dataloader is not resumable.*")
        # Checkpoints hold the state after the step's update, which is what resuming needs.
        warnings.filterwarnings("ignore", message=".*no pre-optimization state was saved.*")
        cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt_path)
    if cli.trainer.is_global_zero:
        print(f"model written to {Path(cli.trainer.default_root_dir) / 'model'}")
    return 0
