"""The standard TF-Inception features (pool3, 2048-d; logits for the Inception Score), offline.

torch-fidelity's `FeatureExtractorInceptionV3` is the reference port of the TF graph used by the
original FID, KID and IS code; our FID on its features equals the standard tools'. It is an
optional dependency (`pip install torch-fidelity`; it pulls torchvision), and its weights are never
downloaded here: they are read from a local file, found in this order:

1. the `weights_path` argument (or `inception_weights` in an `lzn evaluate` config);
2. the environment variable LZN_INCEPTION_WEIGHTS;
3. torch hub's cache, `$TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth`,
   where torch-fidelity itself stores it.

Get the file once on a machine with internet access (docs/evaluation.md):

    curl -L -o weights-inception-2015-12-05-6726825d.pth \\
      https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor

from lzn.eval.features import FeatureExtractor

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_FILE}"


MISSING_DEPENDENCY = (
    "standard FID/KID/IS features need torch-fidelity (pip install torch-fidelity, or lzn's fid "
    "extra); without it: features: classifier (digits and MNIST) or features: pixels (offline, "
    "not comparable with published FIDs)"
)


def check_available(weights_path: str | os.PathLike | None = None) -> Path:
    """The weights file, after checking that torch-fidelity is installed, without loading
    either: what `InceptionFeatures` needs, checked before minutes of other work."""
    import importlib.util

    if importlib.util.find_spec("torch_fidelity") is None:
        raise ImportError(MISSING_DEPENDENCY)
    return find_weights(weights_path)


def find_weights(weights_path: str | os.PathLike | None = None) -> Path:
    """The local Inception weights file, or FileNotFoundError saying how to get it."""
    if weights_path is not None:  # an explicit path is never silently replaced by another file
        if not Path(weights_path).is_file():
            raise FileNotFoundError(f"the Inception weights file {weights_path} does not exist")
        return Path(weights_path)
    hub = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE
    for candidate in (os.environ.get("LZN_INCEPTION_WEIGHTS"), hub):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        f"no TF-Inception weights found (nothing is downloaded at run time). Download "
        f"{WEIGHTS_URL} once, then pass its path (inception_weights: in the config), set "
        f"LZN_INCEPTION_WEIGHTS, or put it in {hub.parent}/"
    )


def to_uint8_rgb(images: Tensor) -> Tensor:
    """[-1, 1] floats (b, 1 or 3, h, w) -> uint8 RGB, as if saved to and read from 8-bit PNGs."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"Inception features take (b, 1 or 3, h, w) images, got {tuple(images.shape)}"
        )
    pixels = ((images.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels


class InceptionFeatures(FeatureExtractor):
    """torch-fidelity's TF-compatible InceptionV3: pool3 features (2048) and unbiased logits."""

    has_logits = True

    def __init__(self, weights_path: str | os.PathLike | None = None, device: str = "cpu"):
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError as e:
            raise ImportError(f"{MISSING_DEPENDENCY}: {e}") from None
        path = find_weights(weights_path)
        self.model = FeatureExtractorInceptionV3(
            "inception-v3-compat",
            ["2048", "logits_unbiased"],
            feature_extractor_weights_path=str(path),
        ).to(device)
        self.device = device
        self.weights = path
        self.name = "inception-v3-compat-2048"

    @torch.no_grad()
    def outputs(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features, logits = self.model(to_uint8_rgb(images).to(self.device))
        return features, logits
