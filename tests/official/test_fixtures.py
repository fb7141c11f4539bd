"""Converted official checkpoints give the official modules' stored outputs, raw and EMA, and
export back to the official tensors exactly (fixtures: official_fixtures.py)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from lzn import LZN
from lzn.official import checkpoint as official_checkpoint
from lzn.official import ema as ema_list
from lzn.official import network_maps, to_official

from . import official_fixtures as fx

SINGLE_CALL = 1e-6  # relative L2 error, float32 on CPU (the fixture README's expectation)
SAMPLER = 1e-5  # ten network calls in a row


def _relative(value: torch.Tensor, stored: torch.Tensor) -> float:
    return float((value - stored).norm() / stored.norm())


@pytest.fixture(scope="module", params=fx.CASES)
def case(request):
    name = request.param
    stored = torch.load(fx.checkpoint(name), map_location="cpu", weights_only=True)
    io = load_file(fx.FOLDER / name / "io.safetensors")
    meta = json.loads((fx.FOLDER / name / "config.json").read_text())
    path, config = fx.checkpoint(name), fx.CONFIG[name]
    models = {
        tag: LZN.from_official(path, case=name, ema=tag == "ema", config=config)
        for tag in ("raw", "ema")
    }
    return name, stored, io, meta, models


def test_raw_weights_export_back_to_every_official_tensor_exactly(case):
    name, stored, _, _, models = case
    exported = to_official(models["raw"], name)
    assert set(exported) == {k for k in stored if k in ("encoder", "decoder", "label_anchor")}
    for part, state in exported.items():
        assert list(state) == list(stored[part]), part  # every key, in the official order
        for key, value in state.items():
            assert value.dtype == stored[part][key].dtype, key
            assert torch.equal(value, stored[part][key]), key


def test_ema_weights_are_the_shadow_list_in_parameter_order(case):
    name, stored, _, meta, models = case
    exported = to_official(models["ema"], name)
    for part, state in exported.items():
        names = meta["checkpoint"][part]["ema"]["shadow_index_to_name"]
        shadows = stored[f"{part}_ema"]["shadow_params"]
        for key, shadow in zip(names, shadows, strict=True):
            assert torch.equal(state[key], shadow), key
        for key in set(state) - set(names):  # buffers and frozen parameters keep their raw value
            assert torch.equal(state[key], stored[part][key]), key


def test_the_shadow_list_order_is_the_official_one(case):
    name, stored, _, meta, models = case
    for part, net_map in network_maps(models["raw"], name).items():
        state = official_checkpoint.network_state(stored, part)
        ours = ema_list.shadow_names(state, net_map.not_in_ema)
        theirs = meta["checkpoint"][part]["ema"]["shadow_index_to_name"]
        assert [official_checkpoint.WRAPPER_PREFIX + n for n in ours] == theirs


@pytest.mark.parametrize("tag", ["raw", "ema"])
def test_anchors_and_features_are_the_official_ones(case, tag):
    _, _, io, _, models = case
    model = models[tag]
    with torch.no_grad():
        anchors = model.encode(io["images"])
    assert _relative(anchors, io[f"encoder.anchor.{tag}"]) < SINGLE_CALL
    features = model.embed(io["images"])
    stored = io.get(f"encoder.features.{tag}", io[f"encoder.anchor.{tag}"])  # U-Net: anchors
    assert _relative(features, stored) < SINGLE_CALL


@pytest.mark.parametrize("tag", ["raw", "ema"])
def test_decoder_velocity_is_the_official_one(case, tag):
    _, _, io, _, models = case
    if "decoder.xt" not in io:
        pytest.skip("a representation model: no decoder")
    model = models[tag]
    labels = io.get("decoder.label")
    with torch.no_grad():
        v = model.image.velocity(io["decoder.latent"], labels)(io["decoder.xt"], io["decoder.t"])
    assert _relative(v, io[f"decoder.v.{tag}"]) < SINGLE_CALL


@pytest.mark.parametrize("tag", ["raw", "ema"])
def test_euler_samples_from_the_stored_noise_are_the_official_ones(case, tag):
    _, _, io, _, models = case
    if "sample_euler.x0" not in io:
        pytest.skip("no stored sampler run for this case")
    kwargs = {"labels": io.get("sample_euler.label"), "noise": io["sample_euler.x0"],
              "sampler": "euler", "steps": 10}  # fmt: skip
    with torch.no_grad():
        unclipped = models[tag].image.decode(io["sample_euler.latent"], clip=False, **kwargs)
        clipped = models[tag].image.decode(io["sample_euler.latent"], **kwargs)
    stored = io[f"sample_euler.x1.{tag}"]
    assert _relative(unclipped, stored) < SAMPLER
    torch.testing.assert_close(clipped, stored.clamp(-1, 1), rtol=0, atol=1e-5)


@pytest.mark.parametrize("tag", ["raw", "ema"])
def test_label_anchors_and_their_nearest_labels_are_the_official_ones(case, tag):
    _, _, io, _, models = case
    if "label_anchor.anchors.raw" not in io:
        pytest.skip("no label anchors in this case")
    anchors = models[tag].label.anchors.detach()
    assert torch.equal(anchors, io[f"label_anchor.anchors.{tag}"])
    latents = io["label_anchor.get_label.latent"]
    nearest = torch.cdist(latents, anchors).argmin(dim=1)  # the official get_label
    assert torch.equal(nearest, io[f"label_anchor.get_label.out.{tag}"])
