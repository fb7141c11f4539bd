"""Conversion of the official format, on checkpoints made from lzn models: every case's
architecture is recovered from the shapes, the weights (raw and EMA) come through exactly, and
a bad checkpoint is refused with the offending tensors named."""

from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from lzn import LZN, cli
from lzn.official import cases, from_official, to_official

from . import synthetic

CASES = cases.names()


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """case -> (the lzn model, its official checkpoint file)."""
    folder = tmp_path_factory.mktemp("official")
    out = {}
    for name in CASES:
        model = synthetic.model(name)
        out[name] = (model, synthetic.write(model, name, folder / f"{name}.pt"))
    return out


def _equal_states(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("name", CASES)
def test_the_architecture_is_read_from_the_shapes(written, name):
    _, path = written[name]
    converted = from_official(path, name, ema=False)
    assert converted.settings == synthetic.settings(name)
    assert not converted.training
    assert converted.training_data == (
        {"data": cases.case(name).data} if cases.case(name).data else None
    )


@pytest.mark.parametrize("name", CASES)
def test_raw_weights_come_through_exactly(written, name):
    model, path = written[name]
    _equal_states(from_official(path, name, ema=False).state_dict(), model.state_dict())


@pytest.mark.parametrize("name", CASES)
def test_ema_weights_replace_the_trained_ones_except_frozen_ones(written, name):
    model, path = written[name]
    converted = from_official(path, name).state_dict()  # EMA by default
    for key, value in model.state_dict().items():
        frozen = key.endswith("fourier.weight")  # not in the official EMA list
        expected = value if frozen else value + synthetic.EMA_SHIFT
        assert torch.equal(converted[key], expected), key


@pytest.mark.parametrize("name", ["case_study_1_afhqcat", "case_study_2", "case_study_3"])
def test_export_gives_the_official_state_dicts_back(written, name):
    _, path = written[name]
    stored = torch.load(path, map_location="cpu", weights_only=True)
    exported = to_official(from_official(path, name, ema=False), name)
    for part, state in exported.items():
        _equal_states(state, stored[part])


def test_a_preset_name_and_the_official_name_are_the_same_case():
    assert cases.case("cifar10-joint") is cases.case("case_study_3")
    with pytest.raises(ValueError, match=r"unknown official case 'cifar'.*case_study_1_cifar10"):
        cases.case("cifar")


def test_a_config_dict_changes_the_inferred_architecture(written):
    _, path = written["case_study_2"]
    converted = from_official(path, "case_study_2", config={"image": {"size": 64}})
    assert converted.config["image"]["size"] == 64
    with pytest.raises(ValueError, match=r"unknown key 'config.image.sise'"):
        from_official(path, "case_study_2", config={"image": {"sise": 64}})


def test_keys_without_the_wrapper_prefix_are_accepted(written, tmp_path):
    model, path = written["case_study_3"]
    stored = torch.load(path, map_location="cpu", weights_only=True)
    prefix = "model.module."
    stored["encoder"] = OrderedDict((k[len(prefix) :], v) for k, v in stored["encoder"].items())
    torch.save(stored, tmp_path / "bare.pt")
    converted = from_official(tmp_path / "bare.pt", "case_study_3", ema=False)
    _equal_states(converted.state_dict(), model.state_dict())


def test_unknown_missing_and_misshaped_tensors_are_named(written, tmp_path):
    _, path = written["case_study_1_cifar10"]
    stored = torch.load(path, map_location="cpu", weights_only=True)
    decoder = stored["decoder"]
    decoder["model.module.all_modules.99.weight"] = decoder.pop(
        "model.module.all_modules.3.Conv_0.bias"
    )
    decoder["model.module.all_modules.0.weight"] = torch.zeros(3, 3)
    torch.save(stored, tmp_path / "bad.pt")
    with pytest.raises(ValueError) as error:
        from_official(tmp_path / "bad.pt", "case_study_1_cifar10", ema=False)
    message = str(error.value)
    assert "the decoder does not fit" in message
    assert "1 unknown tensors: all_modules.99.weight" in message
    assert "1 missing tensors: all_modules.3.Conv_0.bias" in message
    assert "1 mis-shaped tensors: all_modules.0.weight (3, 3) (expected (32, 208))" in message


def test_an_ema_list_of_the_wrong_length_is_refused(written, tmp_path):
    model, _ = written["case_study_3"]
    stored = synthetic.checkpoint(model, "case_study_3")
    stored["decoder_ema"]["shadow_params"].pop()
    torch.save(stored, tmp_path / "short.pt")
    with pytest.raises(
        ValueError, match=r"decoder_ema holds .* shadow tensors but the network has"
    ):
        from_official(tmp_path / "short.pt", "case_study_3")
    assert from_official(tmp_path / "short.pt", "case_study_3", ema=False) is not None


def test_a_missing_network_is_named(written, tmp_path):
    model, _ = written["case_study_3"]
    stored = synthetic.checkpoint(model, "case_study_3")
    del stored["label_anchor"]
    torch.save(stored, tmp_path / "no-labels.pt")
    with pytest.raises(ValueError, match="no 'label_anchor' state dict"):
        from_official(tmp_path / "no-labels.pt", "case_study_3")


class _RunsCode:
    """An object whose unpickling would run code (here: create a file)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_that_needs_unpickling_is_refused_without_running_it(written, tmp_path):
    model, _ = written["case_study_2"]
    marker = tmp_path / "code-ran"
    path = synthetic.write(model, "case_study_2", tmp_path / "pickled.pt", extra=_RunsCode(marker))
    with pytest.raises(ValueError, match=r"weights_only=True.*never unpickles"):
        from_official(path, "case_study_2")
    assert not marker.exists()


def test_a_file_that_is_no_checkpoint_is_refused(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"PK\x03\x04 a broken zip archive")
    with pytest.raises(ValueError, match="not a checkpoint that loads"):
        from_official(tmp_path / "junk.pt", "case_study_2")
    with pytest.raises(FileNotFoundError):
        from_official(tmp_path / "absent.pt", "case_study_2")


def test_lzn_convert_writes_a_model_folder(written, tmp_path, capsys):
    model, path = written["case_study_3"]
    out = tmp_path / "model"
    assert cli.main(["convert", str(path), "--case", "cifar10-joint", "--out", str(out)]) == 0
    assert "EMA weights" in capsys.readouterr().out
    loaded = LZN.from_pretrained(out)
    assert loaded.config == synthetic.settings("case_study_3").to_dict()
    # The record lzn evaluate reads: the official split of the data set it was trained on.
    assert loaded.training_data == {"data": "cifar10"}
    _equal_states(loaded.state_dict(), from_official(path, "case_study_3").state_dict())
    assert (
        cli.main(["convert", str(path), "--case", "cifar10-joint", "--out", str(out), "--raw"]) == 0
    )
    _equal_states(LZN.from_pretrained(out).state_dict(), model.state_dict())


def test_lzn_convert_reports_a_refused_file_in_one_line(tmp_path, capsys):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    code = cli.main(
        [
            "convert",
            str(tmp_path / "junk.pt"),
            "--case",
            "case_study_2",
            "--out",
            str(tmp_path / "m"),
        ]
    )
    assert code == 2
    assert capsys.readouterr().err.startswith("lzn convert: ")
    assert not (tmp_path / "m").exists()


def test_a_file_of_another_case_is_named_in_the_error(written):
    _, path = written["case_study_3"]
    with pytest.raises(ValueError, match=r"is it case_study_3 \(cifar10-joint\)\?"):
        from_official(path, "cifar10-generation")
    _, path = written["case_study_2"]
    with pytest.raises(ValueError, match=r"has no 'decoder'.*is it case_study_2"):
        from_official(path, "cifar10-generation")
