"""NCSN++ networks: the official `NCSNPPEncoder` / `NCSNPPDecoder` keys and lzn's U-Nets.

The official networks keep their layers in one flat `all_modules` list, in the order they are
built; lzn names them by role. Walking lzn's modules in the official build order gives the
official index of each:

* decoder: [Fourier projection `W` (256x256 recipes)], the two condition Linears, the input
  conv, per level the res blocks (each followed by its attention at attention resolutions), the
  down-sampling res block and [the input-skip `Combine` 1x1 conv], the middle res-attn-res, then
  per level upwards the res blocks, [attention], [the output-skip GroupNorm and conv] and the
  up-sampling res block, and [the final GroupNorm and conv];
* encoder: the same down path and middle (no time input: no `Dense_0` in its res blocks), after
  the heads: `spatial_transformations.i.0` (1x1 conv) and `latent_transformations.i.{0,2,..}`
  (Linears) for every feature map i that has a head.

Inside a block: res block GroupNorm_0 / Conv_0 / Dense_0 / GroupNorm_1 / Conv_1 / Conv_2 are
lzn's norm_in / conv_in / cond / norm_out / conv_out / skip; attention GroupNorm_0 / NIN_0-2 /
NIN_3 are norm / qkv.0-2 / out, with each NIN `W` stored as (in, out), the transpose of
nn.Linear's weight.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from lzn.nets.layers import AttnBlock, FourierEmbedding, ResBlock
from lzn.nets.ncsnpp import UNetDecoder, UNetEncoder, _DownPath
from lzn.official.cases import Sigmas
from lzn.official.keymap import NetworkMap, TensorMap

_RES_BLOCK = (
    ("GroupNorm_0", "norm_in"), ("Conv_0", "conv_in"), ("Dense_0", "cond"),
    ("GroupNorm_1", "norm_out"), ("Conv_1", "conv_out"), ("Conv_2", "skip"),
)  # fmt: skip
_ATTENTION = (("NIN_0", "qkv.0"), ("NIN_1", "qkv.1"), ("NIN_2", "qkv.2"), ("NIN_3", "out"))


def _module_tensors(index: int, path: str, module: nn.Module) -> list[TensorMap]:
    """The tensors of official `all_modules[index]`, which is lzn's module at `path`."""
    official = f"all_modules.{index}"
    if path.endswith(".combine"):  # the official input-skip Combine holds its 1x1 conv as Conv_0
        official += ".Conv_0"
    if isinstance(module, ResBlock):
        return [
            TensorMap(f"{official}.{theirs}.{p}", f"{path}.{ours}.{p}")
            for theirs, ours in _RES_BLOCK
            if getattr(module, ours) is not None
            for p in ("weight", "bias")
        ]
    if isinstance(module, AttnBlock):
        norm = [
            TensorMap(f"{official}.GroupNorm_0.{p}", f"{path}.norm.{p}") for p in ("weight", "bias")
        ]
        return norm + [
            m
            for theirs, ours in _ATTENTION
            for m in (
                TensorMap(f"{official}.{theirs}.W", f"{path}.{ours}.weight", transpose=True),
                TensorMap(f"{official}.{theirs}.b", f"{path}.{ours}.bias"),
            )
        ]
    if isinstance(module, FourierEmbedding):  # frozen at init: not in the EMA list
        return [TensorMap(f"{official}.W", f"{path}.weight", in_ema=False)]
    if isinstance(module, (nn.Conv2d, nn.Linear, nn.GroupNorm)):
        return [TensorMap(f"{official}.{p}", f"{path}.{p}") for p in ("weight", "bias")]
    raise TypeError(f"no official counterpart for {type(module).__name__} at {path}")


def _down_path(down: _DownPath, path: str) -> Iterator[tuple[str, nn.Module]]:
    yield f"{path}.conv_in", down.conv_in
    for i, level in enumerate(down.levels):
        for j, (block, attn) in enumerate(zip(level.blocks, level.attns, strict=True)):
            yield f"{path}.levels.{i}.blocks.{j}", block
            if not isinstance(attn, nn.Identity):
                yield f"{path}.levels.{i}.attns.{j}", attn
        if hasattr(level, "down"):
            yield f"{path}.levels.{i}.down", level.down
            if hasattr(level, "combine"):
                yield f"{path}.levels.{i}.combine", level.combine
    for k, module in enumerate(down.mid):
        yield f"{path}.mid.{k}", module


def _decoder_modules(decoder: UNetDecoder, path: str) -> Iterator[tuple[str, nn.Module]]:
    if hasattr(decoder, "fourier"):
        yield f"{path}.fourier", decoder.fourier
    yield f"{path}.cond_mlp.0", decoder.cond_mlp[0]
    yield f"{path}.cond_mlp.2", decoder.cond_mlp[2]
    yield from _down_path(decoder.down, f"{path}.down")
    for i, level in enumerate(decoder.levels):
        for j, block in enumerate(level.blocks):
            yield f"{path}.levels.{i}.blocks.{j}", block
        if level.attn is not None:
            yield f"{path}.levels.{i}.attn", level.attn
        if hasattr(level, "to_image"):
            yield f"{path}.levels.{i}.to_image.0", level.to_image[0]
            yield f"{path}.levels.{i}.to_image.2", level.to_image[2]
        if hasattr(level, "up"):
            yield f"{path}.levels.{i}.up", level.up
    if hasattr(decoder, "to_image"):
        yield f"{path}.to_image.0", decoder.to_image[0]
        yield f"{path}.to_image.2", decoder.to_image[2]


def _numbered(modules: Iterator[tuple[str, nn.Module]]) -> list[TensorMap]:
    return [t for i, (path, module) in enumerate(modules) for t in _module_tensors(i, path, module)]


def sigmas(spec: Sigmas) -> torch.Tensor:
    """The official decoder's `sigmas` buffer: exp of evenly spaced logs, float64, as numpy
    computes it (numpy's linspace, so that an export is bit for bit the official one)."""
    logs = np.linspace(np.log(spec.maximum), np.log(spec.minimum), spec.count)
    return torch.from_numpy(np.exp(logs))


def decoder_map(decoder: UNetDecoder, path: str, spec: Sigmas) -> NetworkMap:
    return NetworkMap(
        "decoder", _numbered(_decoder_modules(decoder, path)), {"sigmas": lambda: sigmas(spec)}
    )


def encoder_map(encoder: UNetEncoder, path: str) -> NetworkMap:
    reduce, mlps = [], []
    for i, head in encoder.heads.items():
        reduce += [
            TensorMap(f"spatial_transformations.{i}.0.{p}", f"{path}.heads.{i}.reduce.{p}")
            for p in ("weight", "bias")
        ]
        mlps += [
            TensorMap(f"latent_transformations.{i}.{j}.{p}", f"{path}.heads.{i}.mlp.{j}.{p}")
            for j, layer in enumerate(head.mlp)
            if isinstance(layer, nn.Linear)
            for p in ("weight", "bias")
        ]
    return NetworkMap(
        "encoder", reduce + mlps + _numbered(_down_path(encoder.down, f"{path}.down"))
    )
