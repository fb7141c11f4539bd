"""Any network as the image encoder: a class path in the config, saved and loaded, trained by
RepresentationModule from a YAML recipe."""

from pathlib import Path

import pytest
import torch
import yaml

from lzn import LZN, presets
from lzn.nets import ConvNet

EXAMPLE = Path(__file__).parents[2] / "configs" / "examples" / "mnist-convnet-representation.yaml"
BACKBONE = {
    "type": "backbone",
    "backbone": {
        "class_path": "lzn.nets.ConvNet",
        "init_args": {"widths": [8, 16], "strides": [1, 2]},
    },
    "feature_dim": 16,
    "head": {"hidden": 32},
}


def _config(encoder=BACKBONE):
    return presets.merge(
        presets.config("mnist-representation"), {"image": {"encoder": encoder}}, "model"
    )


def test_the_default_convnet_is_the_benchmark_backbone():
    net = ConvNet()
    assert sum(p.numel() for p in net.parameters()) == 240_608
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 128)


def test_a_backbone_encoder_embeds_with_the_backbone_and_round_trips(tmp_path):
    model = LZN(_config()).eval()
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    encoder = model.image.encoder
    assert torch.equal(model.embed(x), encoder.backbone(x))
    assert model.encode(x).shape == (4, 64) and encoder.head[4].num_groups == 8
    model.save_pretrained(tmp_path)
    loaded = LZN.from_pretrained(tmp_path)
    assert torch.equal(loaded.encode(x), model.encode(x))


def test_changing_a_sections_type_replaces_it_and_typos_are_still_refused():
    encoder = _config()["image"]["encoder"]
    assert set(encoder) == {"type", "backbone", "feature_dim", "head"}  # no ResNet keys left
    with pytest.raises(ValueError, match=r"unknown key 'model\.image\.encoder\.resnett'"):
        presets.merge(
            presets.config("mnist-representation"), {"image": {"encoder": {"resnett": {}}}}, "model"
        )


@pytest.mark.parametrize(
    ("backbone", "message"),
    [
        ({"class_path": "lzn.nets.NoSuchNet"}, "'lzn.nets.NoSuchNet' cannot be imported"),
        ({"class_path": "collections.OrderedDict"}, "is not a torch.nn.Module class"),
        ({"class_path": "lzn.nets.ConvNet", "init_args": {"depth": 3}}, "unexpected keyword"),
        ({"class_path": "lzn.nets.ConvNet", "args": {}}, r"unknown backbone keys \['args'\]"),
    ],
)
def test_bad_backbones_are_named(backbone, message):
    with pytest.raises(ValueError, match=message):
        LZN(_config({**BACKBONE, "backbone": backbone}))


def test_a_feature_dim_that_is_not_the_backbones_is_refused():
    model = LZN(_config({**BACKBONE, "feature_dim": 17}))
    with pytest.raises(ValueError, match=r"returned \(2, 16\); the config's feature_dim says"):
        model.encode(torch.zeros(2, 1, 28, 28))


def test_the_example_recipe_trains_the_backbone_with_the_lzn_loss():
    from lzn.train.module import RepresentationModule

    args = yaml.safe_load(EXAMPLE.read_text())["model"]["init_args"]
    module = RepresentationModule(**args)
    assert isinstance(module.model.image.encoder.backbone, ConvNet)
    images = torch.rand(16, 1, 28, 28) * 2 - 1
    loss = module.losses((images, torch.zeros(16)))["align"]
    loss.backward()
    grads = [p.grad for p in module.model.image.encoder.backbone.parameters()]
    assert torch.isfinite(loss) and all(g is not None and g.abs().sum() > 0 for g in grads)
