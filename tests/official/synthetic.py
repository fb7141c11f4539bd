"""Checkpoints in the official format made from lzn models (via `to_official`): every case at
the tiny preset sizes, without the official code or its fixtures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from lzn import LZN, presets
from lzn.config import ResNetEncoderConfig
from lzn.official import cases, network_maps, to_official
from lzn.official.checkpoint import WRAPPER_PREFIX

EMA_SHIFT = 1.0  # the shadow tensors are the weights plus this, to tell them apart


def settings(case_name: str):
    """The tiny preset of a case, with the official ResNet's 32 GroupNorm groups."""
    case = cases.case(case_name)
    config = presets.settings(case.preset, tiny=True)
    encoder = config.image.encoder
    if isinstance(encoder, ResNetEncoderConfig):
        encoder = replace(encoder, resnet=replace(encoder.resnet, groups=case.resnet_groups))
        config = replace(config, image=replace(config.image, encoder=encoder))
    return config


def model(case_name: str, seed: int = 0) -> LZN:
    torch.manual_seed(seed)
    return LZN(settings(case_name)).eval()


def checkpoint(lzn_model: LZN, case_name: str) -> dict:
    """What the official trainer would save for these weights (optimizer state left empty)."""
    case = cases.case(case_name)
    parts = to_official(lzn_model, case)
    stored = dict(parts)
    stored.update(optimizer={"state": {}, "param_groups": []}, lr_scheduler={}, epoch=0,
                  iteration=1)  # fmt: skip
    for part, net_map in network_maps(lzn_model, case).items():
        skipped = {WRAPPER_PREFIX + name for name in net_map.not_in_ema}
        shadows = [v + EMA_SHIFT for k, v in parts[part].items() if k not in skipped]
        stored[f"{part}_ema"] = {"decay": 0.9999, "num_updates": 1, "shadow_params": shadows}
    stored["grad_scalar"] = {}
    return stored


def write(lzn_model: LZN, case_name: str, path: Path, **changes) -> Path:
    stored = checkpoint(lzn_model, case_name)
    stored.update(changes)
    torch.save(stored, path)
    return path
