"""Training: Lightning modules of the case studies on one shared base, and the EMA they keep."""

from lzn.train.ema import EMA
from lzn.train.module import GenerationModule, JointModule, LZNModule

__all__ = ["EMA", "GenerationModule", "JointModule", "LZNModule"]
