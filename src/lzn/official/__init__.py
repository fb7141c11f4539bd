"""The official LZN checkpoints (microsoft/latent-zoning-networks) as lzn models.

    from lzn.official import from_official, convert, to_official, cases
    model = from_official("000002000-000050000.pt", case="cifar10-generation")

`cases` lists the six released checkpoints and their presets; `docs/official.md` describes the
format as converted here.
"""

from lzn.official import cases
from lzn.official.convert import convert, from_official, network_maps, to_official

__all__ = ["cases", "convert", "from_official", "network_maps", "to_official"]
