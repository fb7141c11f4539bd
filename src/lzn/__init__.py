"""lzn: Latent Zoning Networks (Lin et al., NeurIPS 2025).

from lzn import zoning             # the latent space: latents, zones, alignment
from lzn import LZN, presets       # models: presets.build("digits-joint")
"""

__version__ = "0.1.0.dev0"

from lzn import presets, zoning
from lzn.model import LZN

__all__ = ["LZN", "__version__", "presets", "zoning"]
