"""`lzn fit --config FILE [--key value ...]`: train any case study from a YAML recipe.

It is Lightning's CLI (jsonargparse): `model` names a training module and its preset/changes,
`data` a data module, `trainer` the Lightning Trainer (devices, nodes, precision, strategy), and
`checkpoint` / `samples` the checkpointing and sample-grid callbacks. What `lzn fit` adds:

- everything of a run lives in `trainer.default_root_dir`: `checkpoints/last.ckpt`, `samples/`,
  TensorBoard events and `metrics.csv`, `config.yaml`, and at the end `model/` (the EMA weights,
  for `LZN.from_pretrained`);
- running the same command again resumes from `checkpoints/last.ckpt` when it exists (to the same
  result as an uninterrupted run); `--ckpt_path` picks another checkpoint; a run that is complete
  (last.ckpt at max_steps, model/ written) says so and does nothing;
- Ctrl-C (SIGINT) or SIGTERM lets the step in progress finish, writes last.ckpt and prints the
  command that resumes (exit status 128 + the signal's number); the final step is always saved;
- checkpoints are written atomically and loaded without unpickling code;
- the output folders and the accelerator are checked before anything is built, and a
  configuration mistake ends with one line that names it (exit status 2);
- `trainer.max_steps` defaults to the recipe's longest per-part iteration budget, and
  `data.batch_size` to the preset's global batch: a YAML recipe names its preset and states
  only what differs from it (`lzn presets NAME` prints the preset);
- one progress bar in steps, and none of Lightning's banners, tips and the libraries'
  deprecation warnings unless `--verbose` is given.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import warnings
from pathlib import Path

from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from lzn import presets
from lzn.data.modules import LZNData
from lzn.model import CONFIG_FILE
from lzn.output_dir import check_output_dir
from lzn.train.callbacks import ExportPretrained, SampleGrid, StepProgressBar
from lzn.train.checkpoint_io import AtomicCheckpointIO, saved_step
from lzn.train.config_errors import one_line
from lzn.train.interrupt import Interrupted, SignalStop
from lzn.train.loggers import ResumableCSVLogger, TrimLogsOnResume
from lzn.train.module import LZNModule
from lzn.train.quiet import quiet_lightning
from lzn.train.run_checkpoint import RunCheckpoint

DEFAULT_ROOT = "runs/lzn"


DESCRIPTION = (
    "Train a case study from a YAML recipe (configs/*.yaml). Everything of a run lives in "
    "trainer.default_root_dir: checkpoints/last.ckpt, samples/, TensorBoard events, metrics.csv, "
    "config.yaml, and at the end model/ (EMA weights for LZN.from_pretrained). Running the same "
    "command again resumes from checkpoints/last.ckpt; Ctrl-C saves it first. --verbose shows "
    "Lightning's info lines and the libraries' deprecation warnings."
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


def _check_accelerator(accelerator: object) -> None:
    import torch

    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"trainer.accelerator is {accelerator!r} but this machine has no CUDA GPU; to train "
            "on the CPU add --trainer.accelerator cpu --trainer.devices 1 --trainer.num_nodes 1"
        )


class FitCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(RunCheckpoint, "checkpoint")
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

    def before_instantiate_classes(self) -> None:
        # Before the model and data are built: a bad output path or a missing GPU fails at once.
        config = self._get(self.config, "trainer", default={})
        _check_accelerator(config.get("accelerator"))
        self._batch_size_from_preset()
        root = config.get("default_root_dir") or DEFAULT_ROOT
        check_output_dir(root, "trainer.default_root_dir")
        dirpath = self._get(self.config, "checkpoint").dirpath
        if dirpath is not None:
            check_output_dir(dirpath, "checkpoint.dirpath")

    def _batch_size_from_preset(self) -> None:
        """data.batch_size left out: the preset's global batch (its one home, lzn.presets)."""
        data = self._get(self.config, "data").init_args
        preset = self._get(self.config, "model").init_args.get("preset")
        if data.get("batch_size") is None and preset is not None:
            data.batch_size = presets.recipe(preset)["batch_size"]

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
            kwargs["max_steps"] = max(self.model.recipe.iterations.values())
        callbacks = [*(config.get("callbacks") or []), ExportPretrained(), TrimLogsOnResume()]
        if config.get("enable_progress_bar") is not False:
            callbacks.append(StepProgressBar())
        kwargs["callbacks"] = callbacks
        checkpoint = self._get(self.config_init, "checkpoint")
        if checkpoint.dirpath is None:
            checkpoint.dirpath = str(root / "checkpoints")
        return super().instantiate_trainer(**kwargs)


def fit(argv: list[str]) -> int:
    """`lzn fit ARGS`: 0 when the run is complete, 128 + the signal's number when interrupted."""
    argv = list(argv)
    verbose = "--verbose" in argv
    try:
        with quiet_lightning(verbose):
            return _fit([a for a in argv if a != "--verbose"], command=argv)
    except KeyboardInterrupt:  # Ctrl-C while the run is set up: no step to save yet
        print("lzn fit: interrupted by SIGINT before training; nothing new saved", file=sys.stderr)
        return 128 + signal.SIGINT


def _cli(argv: list[str]) -> FitCLI:
    """The parsed configuration with the model, data and trainer built; a configuration
    mistake raises ValueError with one line naming it."""
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    try:
        return FitCLI(
            LZNModule,
            LZNData,
            subclass_mode_model=True,
            subclass_mode_data=True,
            seed_everything_default=0,
            trainer_defaults={"use_distributed_sampler": False, "log_every_n_steps": 10},
            save_config_kwargs={"overwrite": True},  # a resumed run rewrites the same config.yaml
            auto_configure_optimizers=False,  # the recipe sets the optimizers
            # A parse error is raised, not printed with the usage: `one_line` words it.
            parser_kwargs={
                "prog": "lzn fit",
                "description": DESCRIPTION,
                "exit_on_error": False,
                "allow_abbrev": False,  # a misspelt key must not be read as another
            },
            args=argv,
            run=False,
        )
    except (argparse.ArgumentError, ValueError) as e:  # parsing, or a class refusing a value
        raise ValueError(one_line(str(e))) from None
    except MisconfigurationException as e:  # a trainer setting this machine cannot run
        raise ValueError(f"trainer: {e}") from None


def _fit(argv: list[str], command: list[str]) -> int:
    cli = _cli(argv)
    trainer, checkpoint = cli.trainer, cli.trainer.checkpoint_callback
    root = Path(trainer.default_root_dir)
    say = print if trainer.is_global_zero else (lambda *_, **__: None)
    ckpt_path = cli.config.get("ckpt_path")
    last = Path(checkpoint.dirpath) / "last.ckpt"
    if ckpt_path is None and last.is_file():
        step = saved_step(last)
        if step >= trainer.max_steps and (root / "model" / CONFIG_FILE).is_file():
            say(
                f"run in {root} is complete ({step} steps); model in {root / 'model'} (to train "
                f"on, raise --trainer.max_steps; to start afresh, use a new "
                f"--trainer.default_root_dir)"
            )
            return 0
        ckpt_path = str(last)
        say(f"resuming from {last} (step {step} of {trainer.max_steps})")
    stop = SignalStop(announce=trainer.is_global_zero)
    checkpoint.stop = stop
    try:
        with stop.installed(), warnings.catch_warnings():
            # The endless step-indexed loader is resumable by construction (lzn.data.batches).
            warnings.filterwarnings("ignore", message=".*dataloader is not resumable.*")
            # Checkpoints hold the state after the step's update, which is what resuming needs.
            warnings.filterwarnings("ignore", message=".*no pre-optimization state was saved.*")
            trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt_path)
    except Interrupted as e:
        say(_interrupted(e, last, command), file=sys.stderr)
        return 128 + e.signum
    say(f"model written to {root / 'model'}")
    return 0


def _interrupted(e: Interrupted, last: Path, command: list[str]) -> str:
    """One line: what the interrupt saved, and the command that resumes from it."""
    resume = f"resume with the same command: {_resume_command(command)}"
    if e.checkpoint is not None:
        return f"lzn fit: {e.name} after step {e.step}: saved {e.checkpoint}; {resume}"
    if last.is_file():
        return f"lzn fit: stopped by {e.name} at once; {last} is kept as it was; {resume}"
    return f"lzn fit: stopped by {e.name} before any checkpoint was saved"


def _resume_command(argv: list[str]) -> str:
    """`lzn fit ARGS` without --ckpt_path: the same command then resumes from last.ckpt."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--ckpt_path":
            skip = True
        elif not arg.startswith("--ckpt_path="):
            kept.append(arg)
    return shlex.join(["lzn", "fit", *kept])
