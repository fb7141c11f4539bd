"""Official checkpoint -> lzn model, and back.

    from_official(path, case, ema=True, config=None) -> LZN (eval mode)
    to_official(model, case)                          -> {part: official state dict}
    convert(path, case, out, ema=True)                -> a save_pretrained folder

EMA weights by default: what the paper evaluated. The file is memory-mapped and only the
networks' tensors are read, so converting needs a few copies of the model in memory, never the
Adam state (twice the model; tests/official/test_memory.py measures it).
"""

from __future__ import annotations

import os
from pathlib import Path

from lzn import presets
from lzn.config import ModelConfig
from lzn.official import architecture, cases, checkpoint
from lzn.official import ema as ema_list
from lzn.official.cases import OfficialCase
from lzn.official.keymap import NetworkMap, TensorMap

_ENCODER, _DECODER = "modalities.image.encoder", "modalities.image.decoder"


def network_maps(model, case: str | OfficialCase) -> dict[str, NetworkMap]:
    """The official networks of `case` and their lzn tensors, in checkpoint order."""
    from lzn.official import ncsnpp_keys, resnet_keys

    case = cases.case(case)
    maps = {}
    if architecture.is_unet(model.settings):
        maps["encoder"] = ncsnpp_keys.encoder_map(model.image.encoder, _ENCODER)
    else:
        maps["encoder"] = resnet_keys.encoder_map(model.image.encoder, _ENCODER)
    if "decoder" in case.parts:
        maps["decoder"] = ncsnpp_keys.decoder_map(model.image.decoder, _DECODER, case.sigmas)
    if "label_anchor" in case.parts:
        maps["label_anchor"] = NetworkMap(
            "label_anchor", [TensorMap("anchor", "modalities.label.anchors")]
        )
    return maps


def _settings(inferred: ModelConfig, config: ModelConfig | dict | None) -> ModelConfig:
    if config is None:
        return inferred
    if isinstance(config, ModelConfig):
        return config
    if not isinstance(config, dict):
        raise ValueError(f"config must be a ModelConfig or a dict of changes, got {config!r}")
    return ModelConfig.from_dict(presets.merge(inferred.to_dict(), config, "config"))


def from_official(
    path: str | os.PathLike,
    case: str | OfficialCase,
    *,
    ema: bool = True,
    config: ModelConfig | dict | None = None,
):
    """The lzn model of an official checkpoint of `case` (official name, e.g.
    "case_study_1_cifar10", or lzn preset, e.g. "cifar10-generation"), with its EMA weights
    (ema=False: the raw trained weights). `config`: a ModelConfig used as it is, or a dict of
    changes to the inferred one (e.g. {"image": {"size": 64}})."""
    from lzn import hub
    from lzn.model import LZN

    case = cases.case(case)
    if hub.is_reference(path):
        path = hub.resolve_file(path)
    stored = checkpoint.read(path)
    where = str(path)
    try:
        networks = {part: checkpoint.network_state(stored, part, where) for part in case.parts}
        settings = _settings(architecture.infer(case, networks), config)
        model = LZN(settings)
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        weights = {}
        for part, net_map in network_maps(model, case).items():
            state = networks[part]
            if ema:
                key = f"{part}_ema"
                if key not in stored:
                    raise ValueError(f"{where} has no {key!r} (pass ema=False for the raw weights)")
                state = ema_list.apply(state, stored[key], net_map.not_in_ema, f"{where}: {key}")
            try:
                weights.update(net_map.to_lzn(state, shapes))
            except ValueError as e:
                raise ValueError(f"{where} ({case.name}): {e}") from None
    except ValueError as e:
        raise ValueError(f"{e}{_other_case_hint(stored, case)}") from None
    model.load_state_dict(weights, strict=True)
    if case.data is not None:  # what lzn evaluate tests it on (the official train split)
        model.training_data = {"data": case.data}
    return model.eval()


def _other_case_hint(stored: dict, case: OfficialCase) -> str:
    """When the file holds other networks than `case` reads, the cases that read them."""
    held = tuple(part for part in ("encoder", "decoder", "label_anchor") if part in stored)
    if set(held) == set(case.parts):
        return ""
    fitting = [f"{c.name} ({c.preset})" for c in cases.CASES if set(c.parts) == set(held)]
    guess = f": is it {' or '.join(fitting)}?" if fitting else ""
    return f" (the file holds {', '.join(held)}; {case.name} reads {', '.join(case.parts)}{guess})"


def to_official(model, case: str | OfficialCase) -> dict:
    """The model's networks as official state dicts (with the wrapper prefix), keyed by the
    checkpoint's part names: what the official `load_checkpoint` reads for each network."""
    case = cases.case(case)
    state = model.state_dict()
    return {
        part: checkpoint.with_prefix(net_map.to_official(state))
        for part, net_map in network_maps(model, case).items()
    }


def convert(
    path: str | os.PathLike,
    case: str | OfficialCase,
    out: str | os.PathLike,
    *,
    ema: bool = True,
    config: ModelConfig | dict | None = None,
) -> Path:
    """Write the lzn model folder (config.json + model.safetensors) of an official checkpoint."""
    model = from_official(path, case, ema=ema, config=config)
    return model.save_pretrained(out)
