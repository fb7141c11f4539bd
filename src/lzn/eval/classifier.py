"""Small CNN classifiers of digits (8x8) and MNIST (28x28), shipped as feature extractors.

They make FID-style metrics work offline on the small data sets: features are the 128-d
penultimate layer (before its ReLU), scaled to root-mean-square 1 per coordinate on the training
images; logits are the 10 classes (for the Inception Score analogue).
The weights ship in `lzn/eval/weights/{name}-classifier.safetensors` for the names in `SHIPPED`
(`mnist-digits`: a digits-sized classifier trained on MNIST only, which never saw a digit the
generators it scores were trained on), trained by `python benchmarks/train_feature_classifier.py`
(docs/evaluation.md gives the recipe and the test accuracy). Loading reads tensors and a JSON
architecture only: never a pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from lzn import atomic
from lzn.eval.features import FeatureExtractor

WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED = ("digits", "mnist", "mnist-digits")


class DigitClassifier(nn.Module):
    """Two conv blocks (3x3 convs, max-pool), a 2x2 average pool, a 128-d feature layer, a head."""

    def __init__(
        self,
        image_size: int,
        channels: int = 1,
        width: int = 32,
        feature_dim: int = 128,
        num_classes: int = 10,
        dropout: float = 0.3,
    ):
        super().__init__()
        self.config = {
            "image_size": image_size,
            "channels": channels,
            "width": width,
            "feature_dim": feature_dim,
            "num_classes": num_classes,
            "dropout": dropout,
        }
        w = width

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(c_out, c_out, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]

        self.trunk = nn.Sequential(
            *block(channels, w),
            *block(w, 2 * w),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(8 * w, feature_dim),
        )
        self.head = nn.Sequential(
            nn.ReLU(), nn.Dropout(dropout), nn.Linear(feature_dim, num_classes)
        )

    def features(self, images: Tensor) -> Tensor:
        return self.trunk(images)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.trunk(images))


@torch.no_grad()
def normalise_feature_scale(model: DigitClassifier, images: Tensor) -> float:
    """Rescale the feature layer so that the features of `images` have root-mean-square 1 per
    coordinate, and the head so that the logits do not change (ReLU commutes with a positive
    scale). KID's kernel (x.y / d + 1)^3 assumes features of that order, as Inception's pool3
    features are; at the raw scale (RMS ~5) its estimate is dominated by a few huge kernel
    values. Returns the factor applied."""
    model.eval()
    rms = float(model.features(images).square().mean().sqrt())
    feature_layer, head_layer = model.trunk[-1], model.head[-1]
    feature_layer.weight /= rms
    feature_layer.bias /= rms
    head_layer.weight *= rms
    return 1.0 / rms


def save(model: DigitClassifier, path: str | os.PathLike, **metadata: object) -> None:
    """Weights and the architecture (JSON, in the safetensors header), plus training metadata."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    header = {"config": json.dumps(model.config)}
    header.update({k: json.dumps(v) for k, v in metadata.items()})
    atomic.write(path, lambda tmp: save_file(state, tmp, metadata=header))


def load(name_or_path: str | os.PathLike) -> tuple[DigitClassifier, dict]:
    """A shipped classifier by name ('digits', 'mnist') or a file written by `save`; returns the
    model (eval mode) and its metadata (how it was trained, its test accuracy)."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(name_or_path)
    if str(name_or_path) in SHIPPED:
        path = WEIGHTS_DIR / f"{name_or_path}-classifier.safetensors"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist (shipped classifiers: {', '.join(SHIPPED)}; train one with "
            "python benchmarks/train_feature_classifier.py)"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        state = load_file(str(path))
        metadata = {k: json.loads(v) for k, v in header.items()}
        model = DigitClassifier(**metadata.pop("config"))
        model.load_state_dict(state, strict=True)
    except (SafetensorError, OSError, KeyError, TypeError, json.JSONDecodeError, RuntimeError) as e:
        raise ValueError(f"{path} is not a feature-classifier safetensors file: {e}") from None
    metadata["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return model.eval(), metadata


class ClassifierFeatures(FeatureExtractor):
    """A `DigitClassifier` as a feature extractor: 128-d features and 10 logits per image."""

    has_logits = True

    def __init__(self, name_or_path: str | os.PathLike = "digits", device: str = "cpu"):
        model, self.metadata = load(name_or_path)
        self.model = model.to(device)
        self.image_size = model.config["image_size"]
        self.channels = model.config["channels"]
        self.name = f"classifier-{Path(str(name_or_path)).stem}-{self.metadata['sha256'][:12]}"

    @torch.no_grad()
    def outputs(self, images: Tensor) -> tuple[Tensor, Tensor]:
        expected = (self.channels, self.image_size, self.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"the {self.name} features take images (b, {', '.join(map(str, expected))}), "
                f"got {tuple(images.shape)}"
            )
        param = next(self.model.parameters())
        features = self.model.features(images.to(param))
        return features, self.model.head(features)
