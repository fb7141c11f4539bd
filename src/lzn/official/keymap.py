"""One network's tensors in both libraries: official state-dict key <-> lzn state-dict key.

A `NetworkMap` lists every tensor of an official network in the official state dict's order,
with the lzn key it becomes and whether it is stored transposed. Converting checks the whole
state dict at once and names every unknown, missing or mis-shaped tensor; exporting gives the
official state dict back, key for key and in order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor

_SHOWN = 8  # names listed per kind of problem in an error


@dataclass(frozen=True)
class TensorMap:
    official: str  # key in the official network's state dict, without the wrapper prefix
    lzn: str  # key in the lzn model's state dict
    transpose: bool = False  # the official NIN layers store W as (in, out): nn.Linear's transpose
    in_ema: bool = True  # False: a frozen parameter, which the official EMA list skips


@dataclass
class NetworkMap:
    part: str  # the checkpoint's key for the network: encoder, decoder, label_anchor
    tensors: list[TensorMap]
    # Official buffers that lzn does not keep (unused by the forward pass), by name: how to
    # rebuild each for export. They lead the official state dict (registered on the network).
    buffers: dict[str, Callable[[], Tensor]] = field(default_factory=dict)

    @property
    def not_in_ema(self) -> set[str]:
        return set(self.buffers) | {t.official for t in self.tensors if not t.in_ema}

    def to_lzn(self, state: dict[str, Tensor], lzn_shapes: dict[str, tuple]) -> dict[str, Tensor]:
        """The lzn tensors of an official state dict (views, not copies); a ValueError names
        every tensor that is unknown, missing or of the wrong shape."""
        expected = {t.official for t in self.tensors} | set(self.buffers)
        unknown = [k for k in state if k not in expected]
        missing = [k for k in expected if k not in state]
        misshaped, out = [], {}
        for t in self.tensors:
            if t.official not in state:
                continue
            value = state[t.official]
            value = value.t() if t.transpose and value.ndim == 2 else value
            want = tuple(lzn_shapes[t.lzn])
            if tuple(value.shape) != want:
                stored = tuple(state[t.official].shape)
                misshaped.append(f"{t.official} {stored} (expected {_stored_shape(t, want)})")
            out[t.lzn] = value
        problems = [
            _listing("unknown", unknown),
            _listing("missing", sorted(missing, key=self._order)),
            _listing("mis-shaped", misshaped),
        ]
        problems = [p for p in problems if p]
        if problems:
            raise ValueError(
                f"the {self.part} does not fit the architecture: " + "; ".join(problems)
            )
        return out

    def to_official(self, lzn_state: dict[str, Tensor]) -> OrderedDict:
        """The official state dict of the network (without the wrapper prefix)."""
        out = OrderedDict((name, rebuild()) for name, rebuild in self.buffers.items())
        for t in self.tensors:
            value = lzn_state[t.lzn].detach()
            out[t.official] = value.t().contiguous() if t.transpose else value.clone()
        return out

    def _order(self, name: str) -> int:
        names = [*self.buffers, *(t.official for t in self.tensors)]
        return names.index(name) if name in names else len(names)


def _stored_shape(t: TensorMap, lzn_shape: tuple) -> tuple:
    return lzn_shape[::-1] if t.transpose and len(lzn_shape) == 2 else lzn_shape


def _listing(kind: str, names: list[str]) -> str:
    if not names:
        return ""
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return f"{len(names)} {kind} tensors: {', '.join(names[:_SHOWN])}{more}"
