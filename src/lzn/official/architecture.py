"""The lzn architecture of an official checkpoint: the case's official configuration (its lzn
preset), with the widths and depths that the tensors' shapes give.

Read from the shapes: the latent dimension, the U-Nets' base width `nf`, channel multipliers and
res blocks per level, the heads' channels, hidden width, depth and which feature maps have one;
the ResNet's width, blocks per stage and head; the number of classes. Taken from the case: the
image size, attention resolutions, resampling, embeddings and the other structural options, and
the ResNet's GroupNorm groups (32 officially), which no shape tells.
"""

from __future__ import annotations

import re
from dataclasses import replace

from torch import Tensor

from lzn import presets
from lzn.config import ModelConfig, ResNetEncoderConfig, UNetEncoderConfig
from lzn.official.cases import OfficialCase


def infer(case: OfficialCase, networks: dict[str, dict[str, Tensor]]) -> ModelConfig:
    base = presets.settings(case.preset)
    if isinstance(base.image.encoder, ResNetEncoderConfig):
        return _resnet(base, networks["encoder"], case)
    return _unet(base, networks)


def _indices(state: dict[str, Tensor], pattern: str) -> list[int]:
    """The sorted distinct integers that `pattern` (a regex with one group) finds in the keys."""
    found = {int(m.group(1)) for k in state if (m := re.fullmatch(pattern, k))}
    return sorted(found)


def _shape(state: dict[str, Tensor], key: str, part: str) -> tuple[int, ...]:
    if key not in state:
        raise ValueError(f"the {part} has no tensor {key} (is the case right?)")
    return tuple(state[key].shape)


def _unet(base: ModelConfig, networks: dict[str, dict[str, Tensor]]) -> ModelConfig:
    encoder = networks["encoder"]
    nf, channels = _shape(encoder, "all_modules.0.weight", "encoder")[:2]
    unet = base.image.encoder.unet
    levels = len(unet.ch_mult)
    # Res blocks are the modules with a Conv_1: num_res_blocks per level, a down-sampling one
    # between levels and two in the middle.
    res_blocks = _indices(encoder, r"all_modules\.(\d+)\.Conv_1\.weight")
    per_level, left = divmod(len(res_blocks) - (levels - 1) - 2, levels)
    if per_level < 1 or left:
        raise ValueError(
            f"the encoder has {len(res_blocks)} res blocks, which no {levels}-level U-Net has"
        )
    ch_mult = tuple(
        _shape(encoder, f"all_modules.{res_blocks[i * (per_level + 1)]}.Conv_0.weight", "encoder")[
            0
        ]
        // nf
        for i in range(levels)
    )
    unet = replace(unet, nf=nf, channels=channels, ch_mult=ch_mult, num_res_blocks=per_level)
    head, latent_dim = _heads(encoder, unet, base.image.encoder.head)
    image = base.image
    enc = replace(image.encoder, unet=unet, head=head)
    dec = image.decoder and replace(image.decoder, unet=unet)
    label = base.label
    if label is not None:
        num_classes = _shape(networks["label_anchor"], "anchor", "label_anchor")[0]
        label = replace(label, num_classes=num_classes)
    image = replace(image, channels=channels, encoder=enc, decoder=dec)
    return replace(base, latent_dim=latent_dim, image=image, label=label)


def _map_resolutions(unet) -> list[int]:
    """The resolution of each encoder feature map, in order (as UNetEncoder lists them)."""
    resolutions = [unet.image_size]
    for i, res in enumerate(unet.resolutions()):
        resolutions += [res] * unet.num_res_blocks
        if i != len(unet.ch_mult) - 1:
            resolutions.append(res // 2)
    return [*resolutions, unet.resolutions()[-1]]


def _heads(encoder: dict[str, Tensor], unet, head):
    with_head = _indices(encoder, r"spatial_transformations\.(\d+)\.0\.weight")
    if not with_head:
        raise ValueError("the encoder has no spatial_transformations (not an NCSNPPEncoder)")
    first = with_head[0]
    channels = _shape(encoder, f"spatial_transformations.{first}.0.weight", "encoder")[0]
    linears = _indices(encoder, rf"latent_transformations\.{first}\.(\d+)\.weight")
    widths = [
        _shape(encoder, f"latent_transformations.{first}.{j}.weight", "encoder")[0] for j in linears
    ]
    hidden = widths[0] if len(widths) > 1 else head.hidden
    resolutions = _map_resolutions(unet)
    if with_head[-1] >= len(resolutions):
        raise ValueError(
            f"the encoder has a head on feature map {with_head[-1]}; the U-Net has "
            f"{len(resolutions)} maps"
        )
    chosen = sorted({resolutions[i] for i in with_head}, reverse=True)
    if [i for i, r in enumerate(resolutions) if r in chosen] != with_head:
        raise ValueError(f"the encoder's heads (maps {with_head}) are not those of resolutions")
    every = len(chosen) == len(set(resolutions))
    head = replace(
        head,
        channels=channels,
        hidden=hidden,
        layers=len(widths),
        resolutions=None if every and head.resolutions is None else tuple(chosen),
    )
    return head, widths[-1]


def _resnet(base: ModelConfig, encoder: dict[str, Tensor], case: OfficialCase) -> ModelConfig:
    width, channels = _shape(encoder, "net.0.0.weight", "encoder")[:2]
    layers = []
    for stage in range(1, 64):
        blocks = _indices(encoder, rf"net\.{stage}\.blocks\.(\d+)\.net\.0\.weight")
        if not blocks:
            break
        layers.append(len(blocks))
    head_weights = _indices(encoder, r"head\.layers\.(\d+)\.weight")
    linears = [k for k in head_weights if encoder[f"head.layers.{k}.weight"].ndim == 2]
    if not layers or not linears:
        raise ValueError("the encoder has no ResNet stages or head (not the case-2 ResNet)")
    widths = [encoder[f"head.layers.{k}.weight"].shape[0] for k in linears]
    resnet = replace(
        base.image.encoder.resnet,
        layers=tuple(layers),
        width=width,
        channels=channels,
        head_hidden=widths[0] if len(widths) > 1 else base.image.encoder.resnet.head_hidden,
        head_layers=len(widths),
        groups=case.resnet_groups,
    )
    image = replace(
        base.image, channels=channels, encoder=replace(base.image.encoder, resnet=resnet)
    )
    return replace(base, latent_dim=widths[-1], image=image)


def is_unet(config: ModelConfig) -> bool:
    return isinstance(config.image.encoder, UNetEncoderConfig)
