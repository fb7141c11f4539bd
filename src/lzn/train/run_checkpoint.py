"""The checkpoint callback of `lzn fit`: `last.ckpt` is what a rerun resumes from, so it must
hold the run's last completed step whenever the run ends, by finishing or by a signal."""

from __future__ import annotations

import lightning
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lzn.train.interrupt import Interrupted, SignalStop


class RunCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` (same settings) that also writes `last.ckpt`

    - at the end of training: Lightning's skips this save whenever an earlier save happened in
      the same session, so a run whose `max_steps` is not a multiple of `every_n_train_steps`
      ended with a `last.ckpt` short of its final step;
    - at the end of the step in which SIGINT or SIGTERM arrived (`stop`, set by `lzn fit`),
      and then stops the run by raising `Interrupted` (on every rank at the same step).
    """

    stop: SignalStop | None = None

    # ModelCheckpoint's internals that `_save_last` uses (Lightning 2.2 to 2.6 have them): checked
    # when the callback is built, so that a Lightning without them fails before training, not
    # at the final save.
    INTERNALS = (
        "_should_skip_saving_checkpoint", "_save_last_checkpoint", "_monitor_candidates",
        "_last_global_step_saved",
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        missing = [name for name in self.INTERNALS if not hasattr(self, name)]
        if missing:
            raise RuntimeError(
                f"lzn's RunCheckpoint needs ModelCheckpoint.{', .'.join(missing)}, which "
                f"Lightning {lightning.__version__} lacks; install a Lightning from 2.2 to 2.6 "
                "(pip install 'lightning>=2.2,<2.7')"
            )

    def on_train_start(self, trainer, module) -> None:
        super().on_train_start(trainer, module)
        if self.stop is not None:
            self.stop.deferring = True  # from here on, every step ends at a save point
            self.stop.claim()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        super().on_train_batch_end(trainer, module, outputs, batch, batch_idx)
        signum = self._requested(trainer)
        if not signum or 0 < trainer.max_steps <= trainer.global_step:
            return  # at the last step the run finishes normally: nothing is left to lose
        saved = self._save_last(trainer)
        raise Interrupted(signum, trainer.global_step, self.last_model_path if saved else None)

    def on_train_end(self, trainer, module) -> None:
        if self.stop is not None:
            self.stop.deferring = False  # no step boundary left to wait for
        self._save_last(trainer)

    def _requested(self, trainer) -> int:
        """The signal that asked any rank to stop (0: none). One scalar reduction per step in
        distributed runs: ranks may get a signal at different steps, or only rank 0 gets it."""
        signum = (self.stop.requested if self.stop is not None else None) or 0
        if trainer.world_size > 1:
            flag = torch.tensor(signum, device=trainer.strategy.root_device)
            signum = int(trainer.strategy.reduce(flag, reduce_op="max"))
        return signum

    def _save_last(self, trainer) -> bool:
        """Write last.ckpt unless this step's is written already; whether it holds this step."""
        if not self.save_last:
            return False
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        return self._last_global_step_saved == trainer.global_step
