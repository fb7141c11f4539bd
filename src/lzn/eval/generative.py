"""Generative metrics on features from any extractor: FID, KID, Inception Score, precision/recall.

Conventions and defaults follow torch-fidelity (the reference implementation of the standard
metrics), so that numbers on the same features agree:
- FID: `frechet_distance` on the two sets' moments (float64).
- KID (Binkowski et al. 2018): the unbiased MMD^2 estimate with the cubic polynomial kernel
  k(x, y) = (x.y / d + 1)^3, averaged over 100 random subsets of 1000 of each set (seed 2020);
  the mean and the standard deviation over subsets.
- Inception Score: exp(E_x KL(p(y|x) || p(y))) over 10 splits of the shuffled logits (seed 2020).
- Precision/recall (Kynkaeaenniemi et al. 2019), k = 3: precision is the fraction of generated
  samples inside the real manifold (the union of balls around each real feature reaching its k-th
  nearest real neighbour), recall the reverse. Distances are computed in chunks, so memory stays
  at chunk x n, never n x n.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from lzn.eval import _checks
from lzn.eval.features import FeatureExtractor, FeatureSet, FeatureStats, extract
from lzn.eval.frechet import frechet_distance_from_moments

METRICS = ("fid", "kid", "inception_score", "precision_recall")
KID_DEFAULTS = {"subsets": 100, "subset_size": 1000, "degree": 3, "gamma": None, "coef0": 1.0}
SEED = 2020  # torch-fidelity's default rng_seed


def fid(reference: FeatureSet | FeatureStats, generated: FeatureSet | FeatureStats) -> float:
    """FID from two feature sets' streamed moments (the images are never needed at once)."""
    a = reference.stats if isinstance(reference, FeatureSet) else reference
    b = generated.stats if isinstance(generated, FeatureSet) else generated
    return frechet_distance_from_moments(a.mean, a.covariance, b.mean, b.covariance)


def polynomial_kernel(
    x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None, coef0: float = 1.0
) -> np.ndarray:
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * gamma + coef0) ** degree


def mmd2(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray, estimator: str = "unbiased"):
    """MMD^2 from kernel matrices of two equal-size sets.

    unbiased: within-set means without the diagonal (i != j), the cross mean over all pairs (its
    pairs are independent): the standard unbiased estimate (torch-fidelity's default).
    u-statistic: the cross mean also without i == j. biased: all means with the diagonal (the
    V-statistic; positive even for two samples of one distribution)."""
    m = k_xx.shape[0]
    if estimator == "biased":
        return float(k_xx.mean() + k_yy.mean() - 2 * k_xy.mean())
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    if estimator == "unbiased":
        return float(within - 2 * k_xy.sum() / (m * m))
    if estimator == "u-statistic":
        return float(within - 2 * (k_xy.sum() - np.trace(k_xy)) / (m * (m - 1)))
    raise ValueError(f"unknown MMD estimator {estimator!r} (unbiased, u-statistic or biased)")


def kernel_inception_distance(
    a: object,
    b: object,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = SEED,
    estimator: str = "unbiased",
) -> dict:
    """KID between feature sets a (n_a, d) and b (n_b, d): {'mean', 'std', and the protocol}."""
    a = _checks.as_features(a, "the first feature set")
    b = _checks.as_features(b, "the second feature set")
    _checks.same_dim(a, b, "the two feature sets")
    if subsets < 1:
        raise ValueError(f"KID needs at least one subset, got subsets={subsets}")
    if not 2 <= subset_size <= min(len(a), len(b)):
        raise ValueError(
            f"KID subset_size={subset_size} must be between 2 and the smaller set's size "
            f"({len(a)} and {len(b)} samples); pass a smaller subset_size"
        )
    rng = np.random.RandomState(seed)  # torch-fidelity's draws: same subsets for the same seed
    values = np.empty(subsets)
    for i in range(subsets):
        x = a[rng.choice(len(a), subset_size, replace=False)]
        y = b[rng.choice(len(b), subset_size, replace=False)]
        k_xx = polynomial_kernel(x, x, degree, gamma, coef0)
        k_yy = polynomial_kernel(y, y, degree, gamma, coef0)
        k_xy = polynomial_kernel(x, y, degree, gamma, coef0)
        values[i] = mmd2(k_xx, k_xy, k_yy, estimator)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "subsets": subsets,
        "subset_size": subset_size,
        "kernel": f"polynomial, degree {degree}, gamma {gamma or '1/d'}, coef0 {coef0}",
        "estimator": estimator,
        "seed": seed,
    }


def inception_score(logits: object, *, splits: int = 10, seed: int | None = SEED) -> dict:
    """exp(E KL(p(y|x) || p(y))) per split of the (shuffled, unless seed is None) logits (n, k)."""
    logits = _checks.as_features(logits, "the logits")
    if len(logits) < splits:
        raise ValueError(f"the Inception Score needs at least {splits} samples for {splits} splits")
    if seed is not None:
        logits = logits[np.random.RandomState(seed).permutation(len(logits))]
    log_p = torch.from_numpy(logits).log_softmax(1)
    n, scores = len(logits), []
    for i in range(splits):
        part = log_p[i * n // splits : (i + 1) * n // splits]
        log_marginal = part.exp().mean(0, keepdim=True).log()
        kl = (part.exp() * (part - log_marginal)).sum(1).mean()
        scores.append(float(kl.exp()))
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "splits": splits}


def _kth_neighbour_radii(x: Tensor, k: int, chunk: int) -> Tensor:
    # k + 1: each point is its own nearest neighbour at distance 0.
    return torch.cat(
        [
            torch.cdist(x[i : i + chunk], x).kthvalue(k + 1, dim=1).values
            for i in range(0, len(x), chunk)
        ]
    )


def _inside_manifold(queries: Tensor, points: Tensor, radii: Tensor, chunk: int) -> Tensor:
    inside = [
        (torch.cdist(queries[i : i + chunk], points) <= radii).any(1)
        for i in range(0, len(queries), chunk)
    ]
    return torch.cat(inside)


def precision_recall(
    real: object, generated: object, *, k: int = 3, chunk: int = 10000, device: str = "cpu"
) -> dict:
    """Improved precision and recall (Kynkaeaenniemi et al. 2019) of generated vs real features."""
    real = _checks.as_features(real, "the real feature set")
    generated = _checks.as_features(generated, "the generated feature set")
    _checks.same_dim(real, generated, "the real and generated feature sets")
    if not 1 <= k < min(len(real), len(generated)):
        raise ValueError(
            f"precision/recall k={k} must be at least 1 and below each set's size "
            f"({len(real)} real, {len(generated)} generated)"
        )
    x = torch.from_numpy(real).to(device)
    y = torch.from_numpy(generated).to(device)
    precision = float(
        _inside_manifold(y, x, _kth_neighbour_radii(x, k, chunk), chunk).double().mean()
    )
    recall = float(_inside_manifold(x, y, _kth_neighbour_radii(y, k, chunk), chunk).double().mean())
    return {"precision": precision, "recall": recall, "k": k}


@torch.no_grad()
def generated_batches(
    model,
    n: int,
    *,
    batch_size: int = 250,
    labels: Tensor | None = None,
    generator: torch.Generator | None = None,
    **generate_kwargs,
) -> Iterator[Tensor]:
    """n samples of `model.generate`, one batch at a time (50,000 never live at once)."""
    if labels is not None and len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for n={n} samples")
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        part = None if labels is None else labels[start : start + size]
        yield model.generate(size, part, generator=generator, **generate_kwargs)


class GenerativeMetrics:
    """The generative metrics of one feature extractor, computed from two streamed feature sets.

    metrics = GenerativeMetrics(extractor, ["fid", "kid", "precision_recall"])
    real = metrics.features(real_images)             # a tensor or any iterable of batches
    fake = metrics.features(generated_batches(model, 10000, sampler="euler", steps=20))
    results = metrics.compute(real, fake)
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        metrics: Sequence[str] = ("fid",),
        *,
        batch_size: int = 250,
        kid: dict | None = None,
        inception_score_splits: int = 10,
        precision_recall_k: int = 3,
        seed: int = SEED,
    ):
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; the generative metrics are {METRICS}")
        if "inception_score" in metrics and not extractor.has_logits:
            raise ValueError(
                f"the Inception Score needs class logits; {extractor.name!r} gives none"
            )
        extra = sorted(set(kid or {}) - set(KID_DEFAULTS))
        if extra:
            raise ValueError(f"unknown KID options {extra}; they are {sorted(KID_DEFAULTS)}")
        self.extractor, self.metrics = extractor, tuple(metrics)
        self.batch_size, self.seed = batch_size, seed
        self.kid = {**KID_DEFAULTS, **(kid or {})}
        self.splits, self.k = inception_score_splits, precision_recall_k

    @property
    def keeps_features(self) -> bool:
        return "kid" in self.metrics or "precision_recall" in self.metrics

    def features(
        self,
        source: Tensor | Sequence[Tensor] | Iterator[Tensor],
        *,
        progress: bool = False,
        desc: str = "features",
        total: int | None = None,
    ) -> FeatureSet:
        """The features the metrics need; with `progress`, a bar counting images to `total`
        (pass it for a generator of samples: its length is unknown)."""
        return extract(
            self.extractor,
            source,
            batch_size=self.batch_size,
            keep_features=self.keeps_features,
            keep_logits="inception_score" in self.metrics,
            progress=progress,
            desc=desc,
            total=total,
        )

    def compute(self, reference: FeatureSet, generated: FeatureSet) -> dict:
        """{metric: numbers}; each set must come from this extractor."""
        for which, fs in (("reference", reference), ("generated", generated)):
            if fs.name != self.extractor.name:
                raise ValueError(
                    f"the {which} features come from {fs.name!r}, not {self.extractor.name!r}"
                )
            if self.keeps_features and fs.features is None:
                raise ValueError(f"KID and precision/recall need the {which} features kept")
        results: dict = {}
        if "fid" in self.metrics:
            results["fid"] = fid(reference, generated)
        if "kid" in self.metrics:
            options = dict(self.kid)
            if options["subset_size"] > min(reference.n, generated.n):
                options["subset_size"] = min(reference.n, generated.n)  # recorded in the result
            results["kid"] = kernel_inception_distance(
                reference.features, generated.features, seed=self.seed, **options
            )
        if "inception_score" in self.metrics:
            if generated.logits is None:
                raise ValueError("the Inception Score needs the generated set's logits kept")
            results["inception_score"] = inception_score(
                generated.logits, splits=self.splits, seed=self.seed
            )
        if "precision_recall" in self.metrics:
            results["precision_recall"] = precision_recall(
                reference.features, generated.features, k=self.k
            )
        return results
