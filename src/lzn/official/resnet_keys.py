"""Case study 2's ResNet: the official `ResNet` + `ContrastiveHead` keys and lzn's ResNetEncoder.

Official layout: `net.0` is the stem (`0` the 7x7 conv, `1.0` its GroupNorm), `net.{s+1}` stage
s with `blocks.{j}`: the first block of a stage has `projection.shortcut` (1x1 conv) and
`projection.bn.0` (GroupNorm), stored before the block's `net`: 1x1 conv `0`, GroupNorm `1.0`,
3x3 conv `2`, GroupNorm `3.0`, 1x1 conv `4`, GroupNorm `5.0`. The head's `layers.{k}` are lzn's
`head.{k}` (Linear, GroupNorm, ReLU, Linear, GroupNorm).
"""

from __future__ import annotations

from torch import nn

from lzn.nets.resnet import ResNetEncoder
from lzn.official.keymap import NetworkMap, TensorMap

# official index inside a block's `net` -> (lzn index inside `branch`, official suffix)
_BRANCH = ((0, 0, ""), (1, 1, ".0"), (2, 3, ""), (3, 4, ".0"), (4, 6, ""), (5, 7, ".0"))


def _params(module: nn.Module) -> tuple[str, ...]:
    return ("weight",) if module.bias is None else ("weight", "bias")


def encoder_map(encoder: ResNetEncoder, path: str) -> NetworkMap:
    tensors = [TensorMap("net.0.0.weight", f"{path}.stem.0.weight")]
    tensors += [TensorMap(f"net.0.1.0.{p}", f"{path}.stem.1.{p}") for p in ("weight", "bias")]
    flat = 0
    for stage, count in enumerate(encoder.cfg.layers):
        for j in range(count):
            block, official = encoder.blocks[flat], f"net.{stage + 1}.blocks.{j}"
            ours = f"{path}.blocks.{flat}"
            if not isinstance(block.shortcut, nn.Identity):
                tensors.append(
                    TensorMap(f"{official}.projection.shortcut.weight", f"{ours}.shortcut.0.weight")
                )
                tensors += [
                    TensorMap(f"{official}.projection.bn.0.{p}", f"{ours}.shortcut.1.{p}")
                    for p in ("weight", "bias")
                ]
            for theirs, mine, suffix in _BRANCH:
                tensors += [
                    TensorMap(f"{official}.net.{theirs}{suffix}.{p}", f"{ours}.branch.{mine}.{p}")
                    for p in _params(block.branch[mine])
                ]
            flat += 1
    for k, layer in enumerate(encoder.head):
        if isinstance(layer, (nn.Linear, nn.GroupNorm)):
            tensors += [
                TensorMap(f"head.layers.{k}.{p}", f"{path}.head.{k}.{p}") for p in _params(layer)
            ]
    return NetworkMap("encoder", tensors)
