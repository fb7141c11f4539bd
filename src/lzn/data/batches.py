"""Batches as a function of the training step, so that a resumed run sees the same data.

Step s of a run takes the s-th global batch of an endless sequence of seeded epochs (a fresh
permutation per epoch, the last incomplete batch dropped); each rank takes its contiguous slice
of the global batch. A run resumed at step s starts the sequence at s, with no state to save.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class StepBatches:
    """An endless batch sampler: yields the index lists of this rank from global step `start`."""

    def __init__(
        self, size: int, batch_size: int, *, seed: int = 0, start: int = 0, rank: int = 0,
        world: int = 1,
    ):  # fmt: skip
        global_batch = batch_size * world
        if size < global_batch:
            raise ValueError(
                f"the global batch ({batch_size} per device x {world} device(s) = "
                f"{global_batch}) is larger than the data set ({size} samples)"
            )
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.start, self.rank, self.world = start, rank, world
        self.per_epoch = size // global_batch

    def epoch_order(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.size, generator=generator)

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start
        epoch, order = -1, None
        while True:
            if step // self.per_epoch != epoch:
                epoch = step // self.per_epoch
                order = self.epoch_order(epoch)
            first = (step % self.per_epoch * self.world + self.rank) * self.batch_size
            yield order[first : first + self.batch_size].tolist()
            step += 1
