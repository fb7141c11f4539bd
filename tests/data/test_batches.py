"""Step-indexed batches: every epoch a permutation, ranks split the global batch, and a sampler
started at step s yields what an uninterrupted one yields from step s."""

import itertools

import pytest
import torch

from lzn.data.batches import ItemKey, StepBatches


def _take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_each_epoch_visits_every_sample_at_most_once_in_a_new_order():
    sampler = StepBatches(103, 10, seed=3)  # 10 batches per epoch, 3 samples left out
    first, second = _take(sampler, 20)[:10], _take(sampler, 20)[10:]
    for epoch in (first, second):
        seen = [i for batch in epoch for i in batch]
        assert len(seen) == len(set(seen)) == 100 and set(seen) <= set(range(103))
    assert first != second


def test_ranks_take_disjoint_slices_of_the_global_batch():
    whole = _take(StepBatches(64, 16, seed=1), 6)
    ranks = [_take(StepBatches(64, 4, seed=1, rank=r, world=4), 6) for r in range(4)]
    for step in range(6):
        assert [i for r in range(4) for i in ranks[r][step]] == whole[step]


def test_a_resumed_sampler_repeats_the_uninterrupted_one():
    uninterrupted = _take(StepBatches(50, 8, seed=5), 20)
    assert _take(StepBatches(50, 8, seed=5, start=13), 7) == uninterrupted[13:]


def test_a_batch_larger_than_the_data_set_is_refused():
    with pytest.raises(
        ValueError, match=r"8 per device x 4 device\(s\) = 32\) is larger than the data set \(30"
    ):
        StepBatches(30, 8, world=4)


def test_the_order_depends_on_the_seed():
    assert _take(StepBatches(50, 8, seed=1), 1) != _take(StepBatches(50, 8, seed=2), 1)
    assert torch.equal(
        StepBatches(50, 8, seed=1).epoch_order(0), StepBatches(50, 8, seed=1).epoch_order(0)
    )


def test_keys_carry_the_indices_the_step_and_the_seed():
    plain = _take(StepBatches(50, 8, seed=5, start=3), 4)
    keyed = _take(StepBatches(50, 8, seed=5, start=3, keys=True), 4)
    for step, (indices, keys) in enumerate(zip(plain, keyed, strict=True), start=3):
        assert keys == [ItemKey(i, step, 5) for i in indices]


def test_a_keys_generator_depends_on_seed_step_and_index_only():
    def draws(key):
        return key.generator().integers(0, 2**62, 4).tolist()

    assert draws(ItemKey(3, 10, 5)) == draws(ItemKey(3, 10, 5))
    others = [ItemKey(4, 10, 5), ItemKey(3, 11, 5), ItemKey(3, 10, 6), ItemKey(10, 3, 5)]
    assert len({tuple(draws(k)) for k in [ItemKey(3, 10, 5), *others]}) == 5
    assert draws(ItemKey(0, 0, -1)) != draws(ItemKey(0, 0, 1))  # negative seeds work too
