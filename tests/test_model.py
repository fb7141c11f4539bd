"""Saving and loading: bit-exact, safetensors only, atomic, and clear about what is wrong."""

import json
import pickle

import pytest
import torch

from lzn import LZN, presets
from lzn import model as model_module
from lzn.modalities import Modality


@pytest.fixture
def model():
    return presets.build("digits-joint", tiny=True).eval()


def test_round_trip_is_bit_exact(model, tmp_path):
    model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = LZN.from_pretrained(tmp_path).eval()
    for (k, a), (k2, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert k == k2 and torch.equal(a, b)
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    assert torch.equal(model.encode(x), loaded.encode(x))
    g = torch.Generator().manual_seed(0)
    out = model.generate(2, [3, 4], sampler="euler", steps=2, generator=g)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(out, loaded.generate(2, [3, 4], sampler="euler", steps=2, generator=g))


class _Payload:
    """Unpickling this would create a file: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_pickle_is_refused_without_running_it(model, tmp_path):
    model.save_pretrained(tmp_path)
    marker = tmp_path / "code-ran"
    (tmp_path / "model.safetensors").write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        LZN.from_pretrained(tmp_path)
    assert not marker.exists()


def test_truncated_weights_are_refused(model, tmp_path):
    model.save_pretrained(tmp_path)
    path = tmp_path / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated"):
        LZN.from_pretrained(tmp_path)


def test_foreign_or_missing_files_are_refused(model, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config\.json does not exist"):
        LZN.from_pretrained(tmp_path)
    model.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="not an lzn model config"):
        LZN.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format": "lzn-model", "latent_dim": 4}))
    with pytest.raises(ValueError, match="does not describe an lzn model"):
        LZN.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        LZN.from_pretrained(tmp_path)


def test_weights_of_another_model_are_refused(model, tmp_path):
    model.save_pretrained(tmp_path / "a")
    presets.build("mnist-generation", tiny=True).save_pretrained(tmp_path / "b")
    (tmp_path / "b" / "model.safetensors").replace(tmp_path / "a" / "model.safetensors")
    with pytest.raises(ValueError, match="does not match"):
        LZN.from_pretrained(tmp_path / "a")


def test_a_failed_save_leaves_the_previous_weights_usable(model, tmp_path, monkeypatch):
    model.save_pretrained(tmp_path)
    before = (tmp_path / "model.safetensors").read_bytes()

    def crash(state, path):
        with open(path, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(model_module, "_write_weights", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    LZN.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.encode(torch.zeros(2, 3, 8, 8)), "images have 3 channels, this model takes 1"),
        (lambda m: m.encode(torch.zeros(2, 1, 28, 28)), "images are 28x28, this model takes 8x8"),
        (lambda m: m.encode(torch.zeros(2, 8, 8)), r"shape \(batch, 1, 8, 8\)"),
        (lambda m: m.encode(torch.full((2, 1, 8, 8), 255.0)), r"expected \[-1, 1\]"),
        (lambda m: m.encode(torch.full((2, 1, 8, 8), float("nan"))), "NaN or infinite"),
        # Finite beyond float32's range: still the range error, not "infinite".
        (lambda m: m.encode(torch.full((2, 1, 8, 8), 1e39, dtype=torch.float64)), r"\[-1, 1\]"),
        (lambda m: m.encode(torch.zeros(0, 1, 8, 8)), "batch of images is empty"),
        (lambda m: m.encode(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)), "floating point"),
        (lambda m: m.generate(2, [3, 10]), r"label 10 is outside the label set \(0..9\)"),
        (lambda m: m.generate(2, [1]), "got 1 labels for n=2"),
        (lambda m: m.generate(0, []), "n must be a positive number"),
        (lambda m: m.image.decode(torch.zeros(2, 16), sampler="dopri"), "unknown sampler"),
    ],
)
def test_bad_input_names_the_problem(model, call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(model)


def test_models_without_a_modality_say_so():
    rep = presets.build("mnist-representation", tiny=True)
    with pytest.raises(ValueError, match="has no label modality"):
        rep.classify(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="no image decoder"):
        rep.image.decode(torch.zeros(2, 64))


def test_unconditional_samples_of_a_joint_model_take_the_label_decoders_labels(model):
    # Paper Alg. 7: latents from N(0, I); the decoder's one-hot label is the label decoder's
    # reading of each latent. The same draw decoded with those labels gives the same images.
    g = torch.Generator().manual_seed(0)
    samples = model.generate(6, sampler="euler", steps=2, generator=g)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, model.latent_dim, generator=g)
    labels = model.label.decode(z)
    expected = model.image.decode(z, labels=labels, sampler="euler", steps=2, generator=g)
    assert samples.shape == (6, 1, 8, 8) and torch.equal(samples, expected)


def test_reconstruct_on_a_joint_model_reads_labels_from_the_latents(model):
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    g = torch.Generator().manual_seed(0)
    out = model.reconstruct(x, sampler="euler", steps=2, generator=g)
    g = torch.Generator().manual_seed(0)
    labels = model.label.decode(model.latents(x, generator=g))
    g = torch.Generator().manual_seed(0)
    assert torch.equal(
        out, model.reconstruct(x, labels=labels, sampler="euler", steps=2, generator=g)
    )


def test_the_saved_config_holds_the_flows_the_modalities_run(model, tmp_path):
    from lzn.zoning import FlowSettings

    model.label.flow = FlowSettings(solver="dpm++", steps=7, g=1e-2)
    assert model.settings.label.flow == model.label.flow
    assert model.config["label"]["steps"] == 7
    model.save_pretrained(tmp_path)
    assert LZN.from_pretrained(tmp_path).label.flow == model.label.flow


class Tags(Modality):
    """A data type added to a model: one learned anchor per tag (importable, so storable)."""

    name = "tags"

    def __init__(self, num_tags: int, latent_dim: int):
        super().__init__()
        self.num_tags, self.latent_dim = num_tags, latent_dim
        self.anchors = torch.nn.Parameter(torch.randn(num_tags, latent_dim))

    def validate(self, tags):
        return torch.as_tensor(tags).long()

    def encode(self, tags):
        return self.anchors[self.validate(tags)]

    def init_args(self):
        return {"num_tags": self.num_tags, "latent_dim": self.latent_dim}


class Unstorable(Tags):
    def init_args(self):  # the base's answer: it does not say how it is rebuilt
        return None


def _local_tags():
    class LocalTags(Tags):  # another program cannot import a class made in a function
        pass

    return LocalTags(3, 16)


def test_an_added_modality_is_saved_and_loaded_with_its_weights(model, tmp_path):
    model.add_modality(Tags(5, model.latent_dim))
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["added_modalities"] == {
        "tags": {"class_path": f"{__name__}.Tags", "init_args": {"num_tags": 5, "latent_dim": 16}}
    }
    loaded = LZN.from_pretrained(tmp_path)
    assert isinstance(loaded.modalities["tags"], Tags) and loaded.config == model.config
    assert torch.equal(loaded.modalities["tags"].anchors, model.modalities["tags"].anchors)
    tags = torch.tensor([0, 4, 2, 2])

    def tags_to_labels(m):
        return m.translate(tags, "tags", "label", generator=torch.Generator().manual_seed(0))

    assert torch.equal(tags_to_labels(loaded), tags_to_labels(model))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Unstorable(3, 16), r"Unstorable.init_args\(\) returned None"),
        (lambda: _local_tags(), "cannot be imported by its path 'tests.test_model._local_tags"),
    ],
)
def test_an_added_modality_that_cannot_be_stored_is_refused_before_writing(
    model, tmp_path, make, message
):
    model.add_modality(make())
    with pytest.raises(ValueError, match=f"cannot store the 'tags' modality: .*{message}"):
        model.save_pretrained(tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("class_path", "message"),
    [
        ("lzn.nets.ConvNet", "'lzn.nets.ConvNet' is not a lzn.modalities.Modality class"),
        ("lzn.no_such_module.Tags", "'lzn.no_such_module.Tags' cannot be imported"),
        ("lzn.modalities.LabelModality", "is named 'label', stored as 'tags'"),
    ],
)
def test_loading_builds_only_modality_classes_under_their_name(
    model, tmp_path, class_path, message
):
    model.add_modality(Tags(5, model.latent_dim))
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    entry = config["added_modalities"]["tags"]
    entry["class_path"] = class_path
    if class_path.endswith("LabelModality"):
        entry["init_args"] = {"num_classes": 5, "latent_dim": 16}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        LZN.from_pretrained(tmp_path)
