"""Random resized crop boxes as torchvision draws them: anywhere in the image (all four borders
reached), area and aspect ratio in their ranges, the ratio log-uniform, the centred fallback."""

import math

import numpy as np
import pytest

from lzn.data.crops import random_resized_box


def boxes(width, height, n=2000, seed=0, **ranges):
    generator = np.random.default_rng(seed)
    return np.array([random_resized_box(width, height, generator, **ranges) for _ in range(n)])


def test_boxes_lie_inside_and_reach_all_four_borders():
    left, top, w, h = boxes(300, 200).T
    assert (left >= 0).all() and (top >= 0).all() and (w > 0).all() and (h > 0).all()
    assert (left + w <= 300).all() and (top + h <= 200).all()
    assert left.min() == 0 and top.min() == 0
    assert (left + w).max() == 300 and (top + h).max() == 200


@pytest.mark.parametrize("size", [(300, 300), (300, 200), (200, 300)])
def test_areas_and_ratios_stay_in_and_span_their_ranges(size):
    _, _, w, h = boxes(*size).T
    fraction, ratio = w * h / (size[0] * size[1]), w / h
    tolerance = 1.03  # w and h are rounded to whole pixels
    assert fraction.min() >= 0.08 / tolerance and fraction.max() <= 1
    assert ratio.min() >= 3 / 4 / tolerance and ratio.max() <= 4 / 3 * tolerance
    assert fraction.min() < 0.1 and fraction.max() > 0.8
    assert ratio.min() < 0.8 and ratio.max() > 1.25


def test_the_ratio_is_log_uniform():
    # Small crops of a large square always fit on the first attempt: the raw draw is seen.
    _, _, w, h = boxes(1000, 1000, n=4000, scale=(0.08, 0.1)).T
    log_ratio = np.log(w / h) / math.log(4 / 3)  # uniform on (-1, 1) when log-uniform
    assert abs((log_ratio < 0).mean() - 0.5) < 0.03  # uniform in the ratio itself: 0.43
    assert abs(np.quantile(log_ratio, 0.25) + 0.5) < 0.05
    assert abs(np.quantile(log_ratio, 0.75) - 0.5) < 0.05


def test_the_fallback_is_the_centred_box_with_the_ratio_clamped():
    generator = np.random.default_rng(0)
    # Whole-area boxes of ratio 2-3 never fit a square: full width, height = width / 2.
    assert random_resized_box(100, 100, generator, scale=(1, 1), ratio=(2, 3)) == (0, 25, 100, 50)
    # Too wide for ratios up to 1: full height, width = height, centred.
    box = random_resized_box(300, 100, generator, scale=(1, 1), ratio=(0.5, 1))
    assert box == (100, 0, 100, 100)
    # A ratio inside the range: the whole image.
    assert random_resized_box(200, 100, generator, scale=(1, 1), ratio=(1.5, 2.5)) == (
        0, 0, 200, 100,
    )  # fmt: skip


def test_bad_ranges_are_refused():
    generator = np.random.default_rng(0)
    for scale in ((0, 1), (0.5, 0.2), (0.5, 1.5)):
        with pytest.raises(ValueError, match="crop scale"):
            random_resized_box(10, 10, generator, scale=scale)
    with pytest.raises(ValueError, match="crop ratio"):
        random_resized_box(10, 10, generator, ratio=(2, 1))
    with pytest.raises(ValueError, match="0 x 10"):
        random_resized_box(0, 10, generator)
