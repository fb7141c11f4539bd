"""The typed model configuration: every preset and a config.json of the first release read and
write back unchanged, any bad key is named by its dotted path, and the release's saved model
loads with the same weights bit for bit and computes the same outputs (to float32 rounding: the
number of CPU threads changes the order of sums)."""

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from lzn import LZN, presets
from lzn.config import DecoderConfig, LabelConfig, ModelConfig
from lzn.modalities.label import LABEL_FLOW
from lzn.zoning import FlowSettings

from .fixtures import make_release_model as release

RELEASE = release.FOLDER
SAVE_METADATA = ("format", "lzn_version", "training_data")  # config.json keys beside the model's


def _with(changes: dict, name: str = "digits-joint") -> dict:
    return presets.merge(presets.config(name), changes, "model")


@pytest.mark.parametrize("tiny", [False, True])
@pytest.mark.parametrize("name", presets.names())
def test_every_preset_reads_and_writes_back_unchanged(name, tiny):
    config = presets.config(name, tiny=tiny)
    settings = ModelConfig.from_dict(config)
    assert settings == presets.settings(name, tiny=tiny)
    assert settings.to_dict() == config
    assert json.loads(json.dumps(config)) == config  # JSON-able as it is


def test_a_config_json_of_the_first_release_reads_and_writes_back_unchanged():
    config = json.loads((RELEASE / "config.json").read_text())
    assert config["lzn_version"] == "0.1.0.dev0"
    model_part = {k: v for k, v in config.items() if k not in SAVE_METADATA}
    assert ModelConfig.from_dict(model_part).to_dict() == model_part
    assert model_part == presets.config("digits-joint", tiny=True)


def test_the_first_releases_saved_model_gives_its_outputs():
    stored = load_file(RELEASE / "outputs.safetensors")
    model = LZN.from_pretrained(RELEASE)
    assert model.training_data == {"data": "digits", "test_fraction": 0.2, "seed": 0}
    assert model.bank is not None and model.bank.shape == (20, 16)
    inputs = {k: stored[k] for k in release.inputs()}
    with torch.no_grad():
        outputs = release.outputs(model, inputs)
    assert set(outputs) | set(inputs) == set(stored)
    for name, value in outputs.items():
        torch.testing.assert_close(value, stored[name], rtol=1e-5, atol=1e-5, msg=name)


def test_a_seeded_build_has_the_first_releases_weights_bit_for_bit():
    torch.manual_seed(0)  # as make_release_model built them
    state = presets.build("digits-joint", tiny=True).state_dict()
    stored = load_file(RELEASE / "model.safetensors")
    assert set(state) == set(stored)
    for name, value in stored.items():
        assert torch.equal(state[name], value), name


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"image": {"decoder": {"unet": {"nf": "x"}}}},
            "image.decoder.unet.nf: expected int, got 'x'",
        ),
        ({"latent_dim": 16.0}, "latent_dim: expected int, got 16.0"),
        ({"image": {"decoder": {"latent_input": 1}}}, "latent_input: expected bool, got 1"),
        ({"image": {"encoder": {"unet": {"ch_mult": [1, "2"]}}}}, r"ch_mult\[1\]: expected int"),
        ({"image": {"encoder": {"head": {"resolutions": 4}}}}, "list of int or null, got 4"),
        ({"image": {"flow": {"steps": 0}}}, "image.flow: steps must be a positive integer"),
        ({"image": {"flow": {"solver": "rk4"}}}, "image.flow: unknown solver 'rk4'"),
        ({"image": {"encoder": {"type": "vit"}}}, "image.encoder.type: expected one of 'unet'"),
        ({"image": {"size": 16}}, "image: encoder.unet.image_size is 8 but the image's size is 16"),
        ({"image": {"decoder": {"unet": {"channels": 3}}}}, "decoder.unet.channels is 3 but"),
        ({"image": {"encoder": {"unet": {"embedding": "x"}}}}, "image.encoder.unet: embedding"),
        ({"label": {"g": 2.0}}, "label: g must be a number"),
    ],
)
def test_a_mistyped_or_invalid_value_is_named_by_its_path(changes, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig.from_dict(_with(changes))
    with pytest.raises(ValueError, match=message):
        LZN(_with(changes))


def test_an_unknown_or_missing_key_is_named_by_its_path():
    config = presets.config("digits-joint")
    config["image"]["encdoer"] = config["image"].pop("encoder")
    with pytest.raises(ValueError, match=r"unknown key image\.encdoer \(known: size, channels, en"):
        ModelConfig.from_dict(config)
    config = presets.config("digits-joint")
    config["label"]["stepz"] = 3
    with pytest.raises(ValueError, match=r"unknown key label\.stepz \(known: num_classes, solver"):
        ModelConfig.from_dict(config)
    config = presets.config("digits-joint")
    del config["image"]["decoder"]["unet"]
    with pytest.raises(ValueError, match=r"missing key image\.decoder\.unet$"):
        ModelConfig.from_dict(config)
    with pytest.raises(ValueError, match=r"image\.decoder: expected a mapping or null, got 3"):
        ModelConfig.from_dict(_with({"image": {"decoder": 3}}))


def test_keys_left_out_take_their_defaults_and_are_written_back():
    config = presets.config("digits-generation")
    del config["label"], config["image"]["decoder"]["latent_input"]
    del config["image"]["decoder"]["label_input"]
    settings = ModelConfig.from_dict(config)
    assert settings.label is None
    assert settings.image.decoder == DecoderConfig(settings.image.decoder.unet)
    assert settings.to_dict() == presets.config("digits-generation")
    # A label section with only some of its flow's keys keeps the label flow's other values.
    label = ModelConfig.from_dict(_with({"label": {"steps": 7}})).label
    assert label == LabelConfig(10, FlowSettings(LABEL_FLOW.solver, 7, LABEL_FLOW.g))
    config = presets.config("digits-joint")
    del config["label"]["g"], config["label"]["cutoff"]
    assert ModelConfig.from_dict(config).label == LabelConfig(10)


def test_the_model_takes_the_typed_config_or_its_dict_and_reports_both():
    settings = presets.settings("digits-joint", tiny=True)
    torch.manual_seed(0)
    typed = LZN(settings)
    torch.manual_seed(0)
    from_dict = LZN(presets.config("digits-joint", tiny=True))
    assert typed.settings == from_dict.settings == settings
    assert typed.config == from_dict.config == presets.config("digits-joint", tiny=True)
    with pytest.raises(ValueError, match="latent_dim: expected int, got '16'"):
        LZN(replace(settings, latent_dim="16"))  # a dataclass is checked as its dict is
    for (k, a), (k2, b) in zip(
        typed.state_dict().items(), from_dict.state_dict().items(), strict=True
    ):
        assert k == k2 and torch.equal(a, b)


def test_presets_merge_gives_configs_that_validate():
    merged = _with({"latent_dim": 8, "image": {"flow": {"steps": 3}, "decoder": None}})
    settings = ModelConfig.from_dict(merged)
    assert settings.latent_dim == 8 and settings.image.decoder is None
    assert settings.image.flow == FlowSettings("dpm++", 3, 1e-3)
    assert settings.to_dict() == merged
