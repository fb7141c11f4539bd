"""lzn: Latent Zoning Networks (Lin et al., NeurIPS 2025)."""

__version__ = "0.1.0.dev0"
