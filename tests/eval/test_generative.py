import itertools

import numpy as np
import pytest
import torch

from lzn.eval import (
    CallableExtractor,
    GenerativeMetrics,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)
from lzn.eval.generative import mmd2, polynomial_kernel


def brute_force_unbiased_mmd2(x, y):
    k = lambda u, v: (u @ v / x.shape[1] + 1) ** 3  # noqa: E731
    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_of_one_subset_is_the_unbiased_mmd2():
    rng = np.random.RandomState(0)
    x, y = rng.randn(12, 3), rng.randn(12, 3) + 0.5
    got = kernel_inception_distance(x, y, subsets=1, subset_size=12)
    assert got["mean"] == pytest.approx(brute_force_unbiased_mmd2(x, y), rel=1e-10)


def test_kid_is_unbiased_where_the_biased_estimator_is_positive():
    # Two independent samples of one distribution: the unbiased MMD^2 averages to 0, the biased
    # (V-statistic) one is positive by the size of its diagonal terms.
    rng = np.random.RandomState(1)
    a, b = rng.randn(4000, 8), rng.randn(4000, 8)
    options = {"subsets": 200, "subset_size": 50}
    unbiased = kernel_inception_distance(a, b, **options)
    biased = kernel_inception_distance(a, b, estimator="biased", **options)
    standard_error = unbiased["std"] / np.sqrt(options["subsets"])
    assert abs(unbiased["mean"]) < 4 * standard_error
    assert biased["mean"] > 20 * standard_error


def test_kid_grows_with_the_shift_between_distributions():
    rng = np.random.RandomState(2)
    a = rng.randn(600, 8)
    values = [
        kernel_inception_distance(a, rng.randn(600, 8) + s, subsets=20, subset_size=200)["mean"]
        for s in (0.0, 0.5, 1.0, 2.0)
    ]
    assert all(lo < hi for lo, hi in itertools.pairwise(values))


def test_kid_matches_torch_fidelity_when_installed():
    metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
    a, b = torch.randn(300, 16), torch.randn(300, 16) + 0.3
    theirs = metric_kid.kid_features_to_metric(
        a,
        b,
        kid_subsets=10,
        kid_subset_size=100,
        kid_degree=3,
        kid_gamma=None,
        kid_coef0=1,
        rng_seed=2020,
        verbose=False,
    )
    ours = kernel_inception_distance(a, b, subsets=10, subset_size=100, seed=2020)
    assert ours["mean"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)


def test_kid_refuses_subsets_larger_than_the_sets():
    with pytest.raises(ValueError, match="subset_size=1000"):
        kernel_inception_distance(np.zeros((100, 2)), np.ones((100, 2)))


def test_mmd_estimators_differ_only_in_their_diagonal_terms():
    rng = np.random.RandomState(4)
    x, y = rng.randn(30, 4), rng.randn(30, 4)
    kxx, kyy, kxy = (polynomial_kernel(u, v) for u, v in ((x, x), (y, y), (x, y)))
    biased = mmd2(kxx, kxy, kyy, "biased")
    direct = kxx.mean() + kyy.mean() - 2 * kxy.mean()
    assert biased == pytest.approx(direct)
    with pytest.raises(ValueError, match="unknown MMD estimator"):
        mmd2(kxx, kxy, kyy, "fancy")


def test_inception_score_of_uniform_predictions_is_one():
    assert inception_score(np.zeros((100, 10)))["mean"] == pytest.approx(1.0)


def test_inception_score_of_confident_balanced_predictions_is_the_class_count():
    logits = 50.0 * np.eye(10)[np.arange(1000) % 10]  # every class equally often, p(y|x) ~ 1
    result = inception_score(logits, splits=10, seed=None)  # unshuffled: each split balanced
    assert result["mean"] == pytest.approx(10.0, rel=1e-6) and result["std"] < 1e-6


def test_inception_score_of_a_single_confident_class_is_one():
    logits = 50.0 * np.eye(10)[np.zeros(200, dtype=int)]
    assert inception_score(logits)["mean"] == pytest.approx(1.0, abs=1e-6)


def test_precision_and_recall_of_a_set_against_itself_are_one():
    x = np.random.RandomState(5).randn(200, 4)
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0, "k": 3}


def test_precision_and_recall_see_a_dropped_mode():
    # Real: two far-apart modes. Generated: only one of them. Every generated sample is real-like
    # (precision ~1) but half of the real samples are not covered (recall ~0.5).
    rng = np.random.RandomState(6)
    real = np.concatenate([rng.randn(300, 2), rng.randn(300, 2) + 50])
    generated = rng.randn(300, 2)
    result = precision_recall(real, generated, k=3, chunk=64)
    assert result["precision"] > 0.95
    assert 0.45 < result["recall"] < 0.52


def test_precision_and_recall_of_disjoint_sets_are_zero():
    rng = np.random.RandomState(7)
    result = precision_recall(rng.randn(100, 3), rng.randn(100, 3) + 100)
    assert result["precision"] == 0.0 and result["recall"] == 0.0


def test_precision_recall_refuses_k_as_large_as_a_set():
    with pytest.raises(ValueError, match="k=3"):
        precision_recall(np.zeros((3, 2)), np.zeros((10, 2)))


def test_generative_metrics_on_streamed_images():
    generator = torch.Generator().manual_seed(0)
    real = torch.rand(400, 1, 4, 4, generator=generator) * 2 - 1
    extractor = CallableExtractor(
        lambda x: x.flatten(1), "pixels", logits=lambda x: x.flatten(1)[:, :10]
    )
    metrics = GenerativeMetrics(
        extractor,
        ["fid", "kid", "inception_score", "precision_recall"],
        batch_size=64,
        kid={"subsets": 10},
    )
    reference = metrics.features(real)
    same = metrics.compute(reference, metrics.features(iter(real.split(50))))
    noisy = metrics.compute(
        reference, metrics.features((real + 0.5 * torch.randn_like(real)).clamp(-1, 1))
    )
    assert abs(same["fid"]) < 1e-9 and noisy["fid"] > 0.1
    assert same["kid"]["subset_size"] == 400  # capped at the set size, and recorded
    assert same["precision_recall"]["precision"] == 1.0
    assert noisy["kid"]["mean"] > same["kid"]["mean"]
    assert 1.0 <= same["inception_score"]["mean"] <= 10.0


def test_generative_metrics_refuse_features_of_another_extractor():
    a = CallableExtractor(lambda x: x.flatten(1), "a")
    b = CallableExtractor(lambda x: x.flatten(1), "b")
    x = torch.randn(10, 1, 2, 2)
    metrics = GenerativeMetrics(a, ["fid"])
    with pytest.raises(ValueError, match="come from 'b'"):
        metrics.compute(metrics.features(x), GenerativeMetrics(b, ["fid"]).features(x))
    with pytest.raises(ValueError, match="needs class logits"):
        GenerativeMetrics(a, ["inception_score"])
    with pytest.raises(ValueError, match="unknown metrics"):
        GenerativeMetrics(a, ["fid", "sfid"])
