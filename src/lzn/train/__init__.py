"""Training: Lightning modules of the three case studies on one shared base, the EMA they keep,
and what `lzn fit` adds around them (lzn.train.fit)."""

from lzn.train.ema import EMA
from lzn.train.module import GenerationModule, JointModule, LZNModule, RepresentationModule

__all__ = ["EMA", "GenerationModule", "JointModule", "LZNModule", "RepresentationModule"]
