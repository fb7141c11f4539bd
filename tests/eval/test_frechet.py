import itertools

import numpy as np
import pytest
import scipy.linalg
import torch

from lzn.eval import frechet_distance, frechet_distance_from_moments


def standard_fid(a, b):
    """pytorch-fid's formula: scipy.linalg.sqrtm of the product, imaginary part discarded."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def correlated(rng, n, d, shift=0.0):
    return rng.randn(n, d) @ rng.randn(d, d) / np.sqrt(d) + shift


def test_two_diagonal_gaussians_have_the_closed_form():
    # For diagonal covariances: ||mu_a - mu_b||^2 + sum_i (sigma_a,i - sigma_b,i)^2.
    rng = np.random.RandomState(0)
    mu_a, mu_b = rng.randn(16), rng.randn(16)
    var_a, var_b = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    exact = ((mu_a - mu_b) ** 2).sum() + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum()
    got = frechet_distance_from_moments(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    assert got == pytest.approx(exact, rel=1e-10)


def test_samples_of_two_gaussians_converge_to_the_closed_form():
    rng = np.random.RandomState(1)
    a = rng.randn(200_000, 4) * [1.0, 2.0, 0.5, 1.0]
    b = rng.randn(200_000, 4) * [1.0, 1.0, 1.0, 3.0] + [1.0, 0.0, 0.0, -1.0]
    exact = 2.0 + (1 + 0.25 + 4)
    assert frechet_distance(a, b) == pytest.approx(exact, abs=0.05)


def eigvals_fid(a, b):
    """torch-fidelity's formula: the square roots of the eigenvalues of the product."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    trace_sqrt = np.sqrt(np.linalg.eigvals(cov_a @ cov_b)).real.sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


def test_matches_the_standard_formulas():
    rng = np.random.RandomState(2)
    a, b = correlated(rng, 600, 32), correlated(rng, 500, 32, shift=0.3)
    assert frechet_distance(a, b) == pytest.approx(standard_fid(a, b), rel=1e-8)
    assert frechet_distance(a, b) == pytest.approx(eigvals_fid(a, b), rel=1e-8)


def test_matches_torch_fidelity_when_installed():
    metric_fid = pytest.importorskip("torch_fidelity.metric_fid")
    rng = np.random.RandomState(3)
    a = torch.from_numpy(correlated(rng, 800, 64))
    b = torch.from_numpy(correlated(rng, 700, 64, shift=0.2))
    stats = [metric_fid.fid_features_to_statistics(x) for x in (a, b)]
    theirs = metric_fid.fid_statistics_to_metric(*stats, verbose=False)
    assert frechet_distance(a, b) == pytest.approx(theirs["frechet_inception_distance"], abs=1e-3)


def test_a_set_against_itself_is_zero_even_with_fewer_samples_than_dimensions():
    rng = np.random.RandomState(4)
    full_rank, rank_deficient = correlated(rng, 500, 32), correlated(rng, 20, 64)
    for x in (full_rank, rank_deficient):
        assert abs(frechet_distance(x, x)) < 1e-8 * np.trace(np.cov(x, rowvar=False))


def test_grows_monotonically_with_added_noise():
    rng = np.random.RandomState(5)
    x = correlated(rng, 2000, 16)
    noise = rng.randn(*x.shape)
    distances = [frechet_distance(x, x + s * noise) for s in (0.0, 0.1, 0.3, 1.0, 3.0)]
    assert distances[0] < 1e-9
    assert all(lo < hi for lo, hi in itertools.pairwise(distances))


def test_accepts_torch_tensors_and_is_a_float():
    x = torch.randn(50, 3)
    result = frechet_distance(x, x + 1)
    assert isinstance(result, float)
    assert result == pytest.approx(frechet_distance(x.numpy(), x.numpy() + 1))


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (np.zeros((10,)), np.zeros((10, 3)), "must be an \\(n, d\\) array"),
        (np.zeros((1, 3)), np.zeros((10, 3)), "1 samples, at least 2"),
        (np.zeros((10, 3)), np.zeros((10, 4)), "different feature dimensions: 3 and 4"),
        (np.full((10, 3), np.nan), np.zeros((10, 3)), "NaN or infinite"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_problem(a, b, message):
    with pytest.raises(ValueError, match=message):
        frechet_distance(a, b)
