"""Batches as a function of the training step, so that a resumed run sees the same data.

Step s of a run takes the s-th global batch of an endless sequence of seeded epochs (a fresh
permutation per epoch, the last incomplete batch dropped); each rank takes its contiguous slice
of the global batch. A run resumed at step s starts the sequence at s, with no state to save.

Data sets whose items are random (two random crops per image, `lzn.data.views`) get keys instead
of indices (`keys=True`; the data modules ask for them when the data set has a true `takes_keys`
attribute): an `ItemKey` (index, step, seed) whose `generator()` is a function of the run's
seed, the step and the index alone. So an item's randomness is the same whichever worker loads
it, however many workers and ranks there are, and in a run resumed at any step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch


class ItemKey(NamedTuple):
    """What `StepBatches(keys=True)` yields in place of an index."""

    index: int
    step: int
    seed: int  # the run's seed

    def generator(self) -> np.random.Generator:
        """The item's random generator at this step, seeded by (seed, step, index) alone."""
        return np.random.default_rng([self.seed % 2**64, self.step, self.index])


class StepBatches:
    """An endless batch sampler: yields the index lists of this rank from global step `start`
    (lists of `ItemKey` with `keys=True`)."""

    def __init__(
        self, size: int, batch_size: int, *, seed: int = 0, start: int = 0, rank: int = 0,
        world: int = 1, keys: bool = False,
    ):  # fmt: skip
        global_batch = batch_size * world
        if size < global_batch:
            raise ValueError(
                f"the global batch ({batch_size} per device x {world} device(s) = "
                f"{global_batch}) is larger than the data set ({size} samples)"
            )
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.start, self.rank, self.world, self.keys = start, rank, world, keys
        self.per_epoch = size // global_batch

    def epoch_order(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.size, generator=generator)

    def __iter__(self) -> Iterator[list[int]] | Iterator[list[ItemKey]]:
        step = self.start
        epoch, order = -1, None
        while True:
            if step // self.per_epoch != epoch:
                epoch = step // self.per_epoch
                order = self.epoch_order(epoch)
            first = (step % self.per_epoch * self.world + self.rank) * self.batch_size
            batch = order[first : first + self.batch_size].tolist()
            yield [ItemKey(i, step, self.seed) for i in batch] if self.keys else batch
            step += 1
