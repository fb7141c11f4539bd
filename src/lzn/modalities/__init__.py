"""Data types of LZN: each maps samples to anchors (encoder) and latents to samples (decoder)."""

from lzn.modalities.base import Modality
from lzn.modalities.image import ImageModality
from lzn.modalities.label import LabelModality

__all__ = ["ImageModality", "LabelModality", "Modality"]
