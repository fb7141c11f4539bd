"""Parts of the case study 2 benchmark: views, backbone, SimCLR, the train loop, probes.

Everything here is independent of the data set and of LZN: `representation_mnist.py` puts the
parts together with the protocol of issue 12. Views are drawn in torch, batched, from a seeded
torch.Generator, so that a run is a function of its seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import Tensor, nn

BACKBONE_PARAMETERS = 240_608
FEATURE_DIM = 128
PROBE_CS = (1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0)
KNN_K = 20


# --- views ------------------------------------------------------------------------------------


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def _log_uniform(n: int, low: float, high: float, gen: torch.Generator) -> Tensor:
    return _uniform(n, math.log(low), math.log(high), gen).exp()


def crop_rotate(x: Tensor, width: Tensor, height: Tensor, centre: Tensor, angle: Tensor) -> Tensor:
    """One bilinear resample of each image (b, c, h, w): the crop of the given width and height
    (fractions of the image) around `centre` (b, 2; normalised coordinates in [-1, 1]), rotated by
    `angle` (radians) about its centre and stretched to the full image; outside is zero."""
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack(
        [
            torch.stack([width * cos, -height * sin, centre[:, 0]], 1),
            torch.stack([width * sin, height * cos, centre[:, 1]], 1),
        ],
        1,
    )  # output coordinates -> input coordinates
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_crop_rotate(
    x: Tensor,
    gen: torch.Generator,
    area: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    degrees: float = 15.0,
) -> Tensor:
    """Random resized crop (area fraction, width/height ratio log-uniform) and a rotation of
    +-degrees, as one affine resample. A side longer than the image is clipped to the image (where
    torchvision would draw again)."""
    b = x.shape[0]
    s = _uniform(b, *area, gen)
    r = _log_uniform(b, *ratio, gen)
    width, height = (s * r).sqrt().clamp(max=1.0), (s / r).sqrt().clamp(max=1.0)
    room = torch.stack([1.0 - width, 1.0 - height], 1)  # the crop stays inside the image
    centre = (2.0 * torch.rand(b, 2, generator=gen) - 1.0) * room
    angle = _uniform(b, -degrees, degrees, gen) * (math.pi / 180.0)
    return crop_rotate(x, width, height, centre, angle)


def random_noise(x: Tensor, gen: torch.Generator, sigma: float = 0.1, p: float = 0.5) -> Tensor:
    """Add N(0, sigma^2) noise to a fraction p of the images; clamp to [0, 1]."""
    chosen = (torch.rand(x.shape[0], generator=gen) < p).to(x.dtype).view(-1, 1, 1, 1)
    noise = torch.randn(x.shape, generator=gen, dtype=x.dtype)
    return (x + chosen * sigma * noise).clamp(0.0, 1.0)


def random_erase(
    x: Tensor,
    gen: torch.Generator,
    p: float = 0.5,
    area: tuple[float, float] = (0.02, 0.15),
    ratio: tuple[float, float] = (0.3, 3.3),
) -> Tensor:
    """Set one rectangle (area fraction, height/width ratio log-uniform) to zero in a fraction p
    of the images."""
    b, _, h, w = x.shape
    pixels = _uniform(b, *area, gen) * (h * w)
    r = _log_uniform(b, *ratio, gen)
    eh = (pixels * r).sqrt().round().clamp(1, h)
    ew = (pixels / r).sqrt().round().clamp(1, w)
    top = (torch.rand(b, generator=gen) * (h - eh + 1)).floor()
    left = (torch.rand(b, generator=gen) * (w - ew + 1)).floor()
    chosen = torch.rand(b, generator=gen) < p
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    inside = (
        (rows >= top.view(-1, 1, 1))
        & (rows < (top + eh).view(-1, 1, 1))
        & (cols >= left.view(-1, 1, 1))
        & (cols < (left + ew).view(-1, 1, 1))
    )
    erased = inside & chosen.view(-1, 1, 1)
    return x.masked_fill(erased.unsqueeze(1), 0.0)


def random_view(x: Tensor, gen: torch.Generator) -> Tensor:
    """One view of each image (b, c, h, w) with pixels in [0, 1]; the result stays in [0, 1]."""
    return random_erase(random_noise(random_crop_rotate(x, gen), gen), gen)


# --- networks and losses ----------------------------------------------------------------------


def backbone() -> nn.Module:
    """Four 3x3 conv blocks (conv without bias, GroupNorm(8), ReLU), global average pool: 128-d
    (`lzn.nets.ConvNet`'s defaults, the same weights for the same seed)."""
    from lzn.nets import ConvNet

    net = ConvNet(channels=1, widths=(32, 64, 128, FEATURE_DIM), strides=(1, 2, 2, 1), groups=8)
    count = sum(p.numel() for p in net.parameters())
    assert count == BACKBONE_PARAMETERS, f"backbone has {count} parameters"
    return net


def simclr_head(in_dim: int = FEATURE_DIM, hidden_dim: int = 256, out_dim: int = 64) -> nn.Module:
    """Linear-BatchNorm-ReLU-Linear (no bias before the BatchNorm, which would cancel it)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim, bias=False),
        nn.BatchNorm1d(hidden_dim),
        nn.ReLU(),
        nn.Linear(hidden_dim, out_dim),
    )


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """NT-Xent over the 2b views: each view's positive is its pair, the other 2b - 2 are negatives;
    the mean over both directions."""
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T) / temperature
    self_pairs = torch.eye(2 * b, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_pairs, float("-inf"))
    positives = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
    return F.cross_entropy(logits, positives)


class PairObjective(nn.Module):
    """A projection head and a loss of the two views' head outputs: what differs between methods."""

    def __init__(self, head: nn.Module, loss: nn.Module):
        super().__init__()
        self.head, self.loss = head, loss

    def forward(self, h1: Tensor, h2: Tensor) -> Tensor:
        return self.loss(self.head(h1), self.head(h2))


class NTXent(nn.Module):
    def __init__(self, temperature: float = 0.5):
        super().__init__()
        self.temperature = temperature

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return nt_xent(z1, z2, self.temperature)


# --- training ---------------------------------------------------------------------------------


def batches(n: int, batch: int, steps: int, gen: torch.Generator) -> Iterator[Tensor]:
    """`steps` index batches: a fresh shuffle each epoch, incomplete last batches dropped."""
    if batch > n:
        raise ValueError(f"batch {batch} is larger than the {n} training images")
    done = 0
    while True:
        order = torch.randperm(n, generator=gen)
        for start in range(0, n - batch + 1, batch):
            if done == steps:
                return
            yield order[start : start + batch]
            done += 1


def train(
    net: nn.Module,
    objective: nn.Module,
    images: Tensor,
    *,
    normalise,
    steps: int,
    batch: int,
    lr: float,
    warmup: int,
    seed: int,
    grad_clip: float | None = None,
    log_every: int = 10,
) -> list[list[float]]:
    """Adam on backbone and objective; two independent views per image per step. `images` are in
    [0, 1]; views are drawn there, then `normalise`d. Linear warm-up from lr / warmup over the
    first `warmup` steps (0: none); the gradient norm clipped at `grad_clip` if given. Returns the
    loss curve: [step, mean loss of the last
    log_every steps]."""
    order_gen = torch.Generator().manual_seed(2 * seed)
    view_gen = torch.Generator().manual_seed(2 * seed + 1)
    params = [*net.parameters(), *objective.parameters()]
    optimiser = torch.optim.Adam(params, lr=lr)
    ramp = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) if warmup > 0 else 1.0
    )
    net.train()
    objective.train()
    curve, window = [], []
    for step, index in enumerate(batches(images.shape[0], batch, steps, order_gen), start=1):
        x = images[index]
        v1, v2 = random_view(x, view_gen), random_view(x, view_gen)
        loss = objective(net(normalise(v1)), net(normalise(v2)))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss.item()} at step {step}")
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimiser.step()
        ramp.step()
        window.append(loss.item())
        if step % log_every == 0 or step == steps:
            curve.append([step, float(np.mean(window))])
            window = []
    return curve


@torch.no_grad()
def features(net: nn.Module, images: Tensor, chunk: int = 500) -> np.ndarray:
    net.eval()
    return torch.cat([net(images[i : i + chunk]) for i in range(0, len(images), chunk)]).numpy()


# --- probes -----------------------------------------------------------------------------------


def _logistic(c: float):
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))


def linear_probe(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray
) -> tuple[float, float, dict[str, float]]:
    """Test accuracy, the C chosen on a stratified 20% validation split of the training features
    (the smallest C among equals), and each C's validation accuracy."""
    fit_x, val_x, fit_y, val_y = train_test_split(
        train_x, train_y, test_size=0.2, stratify=train_y, random_state=0
    )
    scores = {c: _logistic(c).fit(fit_x, fit_y).score(val_x, val_y) for c in PROBE_CS}
    best = max(PROBE_CS, key=lambda c: (scores[c], -c))
    accuracy = _logistic(best).fit(train_x, train_y).score(test_x, test_y)
    return float(accuracy), best, {str(c): float(s) for c, s in scores.items()}


def knn_probe(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray
) -> float:
    """Test accuracy of a k = 20, cosine, uniform-vote nearest-neighbour classifier."""
    if len(train_x) < KNN_K:
        raise ValueError(f"the kNN probe needs at least {KNN_K} training samples")
    knn = KNeighborsClassifier(n_neighbors=KNN_K, metric="cosine", weights="uniform")
    return float(knn.fit(train_x, train_y).score(test_x, test_y))
