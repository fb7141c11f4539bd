"""The official EMA format: `{"decay", "num_updates", "shadow_params": [tensor, ...]}`.

`shadow_params` is a list, not a dict: it follows the network's `parameters()` order (which is
its state dict's order without the buffers) and skips the parameters that were frozen
(`requires_grad=False`) when the trainer was built, e.g. the Fourier projection of the 256x256
decoders. Those, and the buffers, keep their raw values when the EMA weights are used.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection

from torch import Tensor


def shadow_names(state: dict[str, Tensor], not_in_ema: Collection[str]) -> list[str]:
    """The names of the shadow list's tensors, in its order."""
    return [name for name in state if name not in not_in_ema]


def apply(
    state: dict[str, Tensor], ema: object, not_in_ema: Collection[str], where: str
) -> OrderedDict:
    """`state` with the EMA's shadow tensors in place of the trained parameters; `not_in_ema`
    names the buffers and frozen parameters that the list skips."""
    if not isinstance(ema, dict) or not isinstance(ema.get("shadow_params"), (list, tuple)):
        raise ValueError(f"{where} is not an official EMA state (a dict with a shadow_params list)")
    shadows = ema["shadow_params"]
    names = shadow_names(state, not_in_ema)
    if len(shadows) != len(names):
        raise ValueError(
            f"{where} holds {len(shadows)} shadow tensors but the network has {len(names)} "
            f"trained parameters (its state dict less {sorted(not_in_ema) or 'nothing'})"
        )
    out = OrderedDict(state)
    for i, (name, shadow) in enumerate(zip(names, shadows, strict=True)):
        if not isinstance(shadow, Tensor) or shadow.shape != state[name].shape:
            shape = tuple(shadow.shape) if isinstance(shadow, Tensor) else type(shadow).__name__
            raise ValueError(
                f"{where}: shadow_params[{i}] ({shape}) does not fit {name} "
                f"{tuple(state[name].shape)}"
            )
        out[name] = shadow
    return out
