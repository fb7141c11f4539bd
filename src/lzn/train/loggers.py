"""A CSV logger that survives a resume.

Lightning's CSV logger deletes an existing metrics.csv when it starts; a resumed run would lose
the history before its checkpoint. This one keeps the rows of the steps before the checkpoint,
drops the rows the interrupted run logged after it (they are logged again), and appends. The row
of the checkpoint's own step comes from the checkpoint: Lightning writes the checkpoint before
that row, so a kill in between would lose it.
"""

from __future__ import annotations

import csv
import os

import lightning as L
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


class _KeepingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:  # the parent deletes metrics.csv here
        pass

    def keep_before(self, step: int, last: dict | None = None) -> None:
        """Keep the rows of steps < `step`; `last`, the row of step - 1, replaces the file's."""
        if not last and not os.path.isfile(self.metrics_file_path):
            return
        keys, rows = [], []
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as f:
                reader = csv.DictReader(f)
                keys, rows = list(reader.fieldnames or []), list(reader)
        rows = [row for row in rows if row.get("step") and int(row["step"]) < step]
        if last:
            rows = [row for row in rows if int(row["step"]) != last["step"]] + [last]
            keys += sorted(set(last) - set(keys))
        with open(self.metrics_file_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = keys


class ResumableCSVLogger(CSVLogger):
    @property
    @rank_zero_experiment
    def experiment(self) -> _KeepingWriter:
        if self._experiment is None:
            os.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(log_dir=self.log_dir)
        return self._experiment


class TrimLogsOnResume(L.Callback):
    """When training starts at step s > 0 (a resume), CSV rows of steps >= s are from the
    interrupted run after its last checkpoint: drop them, they are about to be logged again;
    the row of step s - 1 is the checkpoint's."""

    def __init__(self):
        self.last: dict | None = None

    def on_load_checkpoint(self, trainer, module, checkpoint: dict) -> None:
        self.last = checkpoint.get("step_metrics")

    def on_train_start(self, trainer, module) -> None:
        if trainer.global_step > 0 and trainer.is_global_zero:
            for logger in trainer.loggers:
                if isinstance(logger, ResumableCSVLogger):
                    logger.experiment.keep_before(trainer.global_step, self.last)
