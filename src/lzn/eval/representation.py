"""Representation metrics on frozen features: a linear probe and a weighted kNN classifier.

Linear probe (fixed protocol, nothing chosen on the test split; the default of `lzn evaluate`;
the paper's main protocol trains on augmented images instead: `lzn.eval.augmented_probe`):
1. features of the un-augmented train split; a stratified validation split (20%, seeded) is
   carved from it;
2. features are standardised with the mean and std of the part being fitted;
3. multinomial logistic regression (full-batch L-BFGS, L2 penalty on the weights, not the bias)
   is fitted on the rest for each weight decay of a fixed grid; the one with the best validation
   top-1 is chosen (ties: the strongest penalty);
4. it is refitted on the whole train split with that weight decay, and the test split is
   evaluated once: top-1 and top-5.

kNN (as in InstDisc / DINO): cosine similarity to every train feature, the k nearest vote for
their class with weight exp(similarity / T), T = 0.07; k = 20 and 200; top-1 and top-5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from lzn.eval import _checks
from lzn.progress import bar as progress_bar

WEIGHT_DECAYS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def _inputs(train_features, train_labels, test_features, test_labels):
    x_train = _checks.as_features(train_features, "the train features")
    x_test = _checks.as_features(test_features, "the test features", min_samples=1)
    _checks.same_dim(x_train, x_test, "the train and test features")
    y_train = _checks.as_labels(train_labels, len(x_train), "the train labels")
    y_test = _checks.as_labels(test_labels, len(x_test), "the test labels")
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    return x_train, y_train, x_test, y_test, num_classes


def _topk(scores: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    top = scores.topk(min(k, scores.shape[1]), dim=1).indices
    return float((top == labels[:, None]).any(1).double().mean())


def _standardiser(x: torch.Tensor):
    return standardising_map(x.mean(0), x.std(0))


def standardising_map(mean: torch.Tensor, std: torch.Tensor):
    """z -> (z - mean) / std, constant features (std 0) left at 0."""
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return lambda z: (z - mean) / std


def _fit_logistic(
    x: torch.Tensor, y: torch.Tensor, num_classes: int, weight_decay: float, max_iter: int
) -> torch.nn.Linear:
    linear = torch.nn.Linear(x.shape[1], num_classes, dtype=x.dtype, device=x.device)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    optimizer = torch.optim.LBFGS(
        linear.parameters(),
        lr=1.0,
        max_iter=max_iter,
        history_size=20,
        tolerance_grad=1e-7,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(linear(x), y) + weight_decay / 2 * linear.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return linear


def _stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    fit, validation = [], []
    for c in np.unique(y):
        index = rng.permutation(np.flatnonzero(y == c))
        n_val = round(len(index) * fraction) if len(index) > 1 else 0
        validation.append(index[:n_val])
        fit.append(index[n_val:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(validation))


def linear_probe(
    train_features: object,
    train_labels: object,
    test_features: object,
    test_labels: object,
    *,
    weight_decays: Sequence[float] = WEIGHT_DECAYS,
    validation_fraction: float = 0.2,
    seed: int = 0,
    max_iter: int = 500,
    device: str = "cpu",
    dtype: torch.dtype = torch.float64,
    progress: bool = False,
) -> dict:
    """Top-1/top-5 test accuracy of a logistic-regression probe on frozen features (protocol in
    the module docstring), with the validation accuracy of every weight decay tried. For the
    paper's main protocol (a probe trained on augmented images) see
    `lzn.eval.augmented_probe.augmented_linear_probe`."""
    x_train, y_train, x_test, y_test, num_classes = _inputs(
        train_features, train_labels, test_features, test_labels
    )
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    if not weight_decays:
        raise ValueError("weight_decays is empty")
    fit, validation = _stratified_split(y_train, validation_fraction, seed)
    if len(validation) == 0 or len(fit) == 0:
        raise ValueError("the train split is too small to carve a validation split from")

    def tensor(a):
        return torch.as_tensor(a, device=device, dtype=dtype)

    def labels(a):
        return torch.as_tensor(a, device=device)

    x_fit, x_val = tensor(x_train[fit]), tensor(x_train[validation])
    scale = _standardiser(x_fit)
    validation_top1 = {}
    fits = len(weight_decays) + 1  # one per weight decay, and the refit on all of train
    with progress_bar(fits, "linear probe (L-BFGS fits)", enabled=progress, unit="fit") as bar:
        for wd in weight_decays:
            probe = _fit_logistic(scale(x_fit), labels(y_train[fit]), num_classes, wd, max_iter)
            with torch.no_grad():
                validation_top1[wd] = _topk(probe(scale(x_val)), labels(y_train[validation]), 1)
            bar.update(1)
        best = max(validation_top1.values())
        chosen = max(wd for wd, acc in validation_top1.items() if acc == best)

        x_all = tensor(x_train)
        scale = _standardiser(x_all)
        probe = _fit_logistic(scale(x_all), labels(y_train), num_classes, chosen, max_iter)
        bar.update(1)
    with torch.no_grad():  # the only use of the test split
        scores, y = probe(scale(tensor(x_test))), labels(y_test)
        top1, top5 = _topk(scores, y, 1), _topk(scores, y, 5)
    return {
        "top1": top1,
        "top5": top5,
        "weight_decay": chosen,
        "validation_top1": {str(wd): acc for wd, acc in validation_top1.items()},
        "train_samples": len(x_train),
        "validation_samples": len(validation),
        "test_samples": len(x_test),
        "protocol": "multinomial logistic regression (L-BFGS, L2 on weights) on standardised "
        "frozen features of the un-augmented train split; weight decay chosen on a stratified "
        f"{validation_fraction:.0%} validation split of train (seed {seed}), refitted on all of "
        "train; test split evaluated once",
    }


def knn(
    train_features: object,
    train_labels: object,
    test_features: object,
    test_labels: object,
    *,
    k: Sequence[int] | int = (20, 200),
    temperature: float = 0.07,
    chunk: int = 1024,
    device: str = "cpu",
) -> dict:
    """Weighted kNN accuracy: {f'k={k}': {'top1', 'top5'}} (protocol in the module docstring)."""
    x_train, y_train, x_test, y_test, num_classes = _inputs(
        train_features, train_labels, test_features, test_labels
    )
    ks = [k] if isinstance(k, int) else list(k)
    if not ks or min(ks) < 1:
        raise ValueError(f"k must be positive, got {k}")
    if max(ks) > len(x_train):
        raise ValueError(f"k={max(ks)} is larger than the train set ({len(x_train)} samples)")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    train = F.normalize(torch.as_tensor(x_train, device=device), dim=1)
    test = F.normalize(torch.as_tensor(x_test, device=device), dim=1)
    y_train_t = torch.as_tensor(y_train, device=device)
    y_test_t = torch.as_tensor(y_test, device=device)
    hits = {kk: [0.0, 0.0] for kk in ks}
    for start in range(0, len(test), chunk):
        similarity, index = (test[start : start + chunk] @ train.T).topk(max(ks), dim=1)
        neighbours = y_train_t[index]
        # Shift by each row's top similarity: the same votes up to a per-row factor, so the same
        # ranking, without overflow at small temperatures.
        weights = ((similarity - similarity[:, :1]) / temperature).exp()
        y = y_test_t[start : start + chunk]
        for kk in ks:
            votes = torch.zeros(len(y), num_classes, dtype=weights.dtype, device=device)
            votes.scatter_add_(1, neighbours[:, :kk], weights[:, :kk])
            hits[kk][0] += _topk(votes, y, 1) * len(y)
            hits[kk][1] += _topk(votes, y, 5) * len(y)
    n = len(x_test)
    result = {f"k={kk}": {"top1": h1 / n, "top5": h5 / n} for kk, (h1, h5) in hits.items()}
    result["protocol"] = (
        f"cosine similarity to all {len(x_train)} train features; the k nearest vote for their "
        f"class with weight exp(similarity / {temperature}); {n} test samples"
    )
    return result
