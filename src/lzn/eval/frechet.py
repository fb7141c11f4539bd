"""The Fréchet distance between two Gaussians fitted to features: FID's formula.

    d^2 = ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))

in float64, with unbiased covariances (ddof = 1) as numpy.cov and the standard tools (pytorch-fid,
torch-fidelity, clean-fid). The trace of the matrix square root is computed in the symmetric form
tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)), which has the same eigenvalues as S_a S_b but is symmetric
positive semi-definite, so `eigh` applies: the tiny imaginary parts that scipy.linalg.sqrtm
returns for a non-symmetric product (which the standard tools check and discard) cannot arise,
and eigenvalues at rounding level (slightly negative, or tiny positive ones whose square
roots would add noise) are set to 0.
"""

from __future__ import annotations

import numpy as np

from lzn.eval import _checks


def _significant(values: np.ndarray) -> np.ndarray:
    """Eigenvalues with those at rounding level set to 0 (the rank tolerance of numpy's
    matrix_rank): their square roots would add noise of order sqrt(eps) each."""
    tolerance = len(values) * np.finfo(np.float64).eps * max(np.abs(values).max(), 0.0)
    return np.where(values > tolerance, values, 0.0)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(_significant(values))) @ vectors.T


def trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """tr((S_a S_b)^(1/2)) for symmetric positive semi-definite S_a, S_b."""
    root_a = _psd_sqrt(cov_a)
    inner = root_a @ cov_b @ root_a
    return float(np.sqrt(_significant(np.linalg.eigvalsh((inner + inner.T) / 2))).sum())


def _as_moments(mean: object, cov: object, name: str) -> tuple[np.ndarray, np.ndarray]:
    mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
    cov = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    d = mean.shape[0]
    if mean.ndim != 1 or cov.shape != (d, d):
        raise ValueError(
            f"{name}: mean must be (d,) and covariance (d, d), got {mean.shape} and {cov.shape}"
        )
    if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        raise ValueError(f"{name}: the mean or covariance contains NaN or infinite values")
    return mean, cov


def frechet_distance_from_moments(
    mean_a: object, cov_a: object, mean_b: object, cov_b: object
) -> float:
    """Fréchet distance between N(mean_a, cov_a) and N(mean_b, cov_b)."""
    mean_a, cov_a = _as_moments(mean_a, cov_a, "the first set")
    mean_b, cov_b = _as_moments(mean_b, cov_b, "the second set")
    if mean_a.shape != mean_b.shape:
        raise ValueError(
            f"the two sets have different feature dimensions: {mean_a.shape[0]} and "
            f"{mean_b.shape[0]}"
        )
    diff = mean_a - mean_b
    return float(
        diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt_product(cov_a, cov_b)
    )


def frechet_distance(a: object, b: object) -> float:
    """FID's distance between two feature sets, (n_a, d) and (n_b, d) arrays (numpy or torch),
    each with at least 2 samples."""
    a = _checks.as_features(a, "the first feature set")
    b = _checks.as_features(b, "the second feature set")
    _checks.same_dim(a, b, "the two feature sets")
    return frechet_distance_from_moments(
        a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    )
