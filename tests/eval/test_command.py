import argparse
import json
import re
from pathlib import Path
from typing import ClassVar

import pytest

from lzn import presets
from lzn.data import digits
from lzn.eval import command
from lzn.eval.sections import EvaluationSection

CONFIG = """
data: digits
seed: 0
features: classifier
generation:
  metrics: [fid, kid, inception_score, precision_recall]
  samples: 60
  sampler: euler
  steps: [1, 2]
  batch_size: 30
  kid: {subsets: 5}
  grid: 20
accuracy:
  alphas: [1.0, 0.0]
  batch_sizes: [null, 120]
  bank: [model, train]
reconstruction: {images: 12, repeats: 2, sampler: euler, steps: 2}
linear_probe: {weight_decays: [0.01]}
knn: {k: [20, 200]}
"""


def parse(argv):
    parser = argparse.ArgumentParser(prog="lzn")
    command.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


RECORD = {"data": "digits", "test_fraction": 0.2, "seed": 3}


def save(folder, *, record=None, bank=0):
    """A tiny digits-joint model saved with a training_data record and a bank of `bank` anchors
    (of the record's train images), as an exported model carries them."""
    model = presets.build("digits-joint", tiny=True).eval()
    model.training_data = record
    if bank:
        seed = record["seed"] if record else 0
        x_train, y_train, _, _ = digits.load(seed=seed)
        model.bank = model.anchor_bank(x_train[:bank])
        model.bank_labels = y_train[:bank]
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    return save(tmp_path_factory.mktemp("model"), record=RECORD, bank=40)


def test_evaluate_writes_every_number_with_its_protocol(saved_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LZN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "eval.yaml").write_text(CONFIG)
    out = tmp_path / "out"
    args = parse(
        [
            "evaluate",
            "--model",
            str(saved_model),
            "--config",
            str(tmp_path / "eval.yaml"),
            "--out",
            str(out),
        ]
    )
    assert args.run(args) == 0
    report = json.loads((out / "report.json").read_text())
    results = report["results"]
    runs = results["generation"]["runs"]
    assert [r["steps"] for r in runs] == [1, 2] and all(r["samples"] == 60 for r in runs)
    assert all(r["fid"] > 0 and r["kid"]["subset_size"] == 60 for r in runs)
    assert report["features"]["name"].startswith("classifier-digits-")
    held_out = results["generation"]["held_out_real"]
    assert held_out["samples"] == 359 and held_out["fid"] < min(r["fid"] for r in runs)
    pairs = [(359, 1.0), (359, 0.0), (120, 1.0), (120, 0.0)]
    assert [(r["batch_size"], r["alpha"]) for r in results["accuracy"]] == pairs + pairs
    assert [r["bank_size"] for r in results["accuracy"]] == [40] * 4 + [1438] * 4
    assert results["accuracy"][0]["bank"] == "model's exported bank, class-balanced"
    # The split is the one the model records (seed 3), not the old fixed seed 0.
    split = report["data"]["split"]
    assert {k: split[k] for k in RECORD} == RECORD and split["checked"] is True
    assert "seed 3" in report["data"]["description"]
    assert results["reconstruction"]["images"] == 12
    assert results["linear_probe"]["weight_decay"] == 0.01
    assert set(results["knn"]) >= {"k=20", "k=200", "protocol"}
    assert report["software"]["torch"] and report["config"]["generation"]["sampler"] == "euler"
    for name in ("report.md", "fid_vs_steps.png", "accuracy.png", "samples.png"):
        assert (out / name).stat().st_size > 0
    markdown = (out / "report.md").read_text()
    assert "| alpha | evaluation batch |" in markdown
    assert "linear probe, L-BFGS, un-augmented" in markdown
    captured = capsys.readouterr()
    assert "report.json" in captured.out
    # A line per section on stderr, when it starts and with its time when it ends.
    for name in ("generation", "accuracy", "reconstruction", "representation"):
        assert f"lzn evaluate: {name}: " in captured.err
        assert f"lzn evaluate: {name} done in " in captured.err
    assert "lzn evaluate:" not in captured.out
    # The reference features were cached on the first run, under a key that names the split.
    assert list((tmp_path / "cache" / "eval").glob("digits-train-frac0.2-seed3-n1438-*.npz"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: digits\nknn: {}\nfoo: 1\n", r"unknown settings \['foo'\]"),
        ("data: cifar\nknn: {}\n", "unknown data set 'cifar'"),
        ("data: digits\nsplit_seed: -1\nknn: {}\n", "split_seed must be a non-negative"),
        (
            "data: digits\ntest_fraction: 1.5\nknn: {}\n",
            r"test_fraction must be a number in \(0, 1\)",
        ),
        (
            "data: digits\nlinear_probe: {epochs: 3}\n",
            r"\['epochs'\] are not used with augment: false",
        ),
        (
            "data: digits\nlinear_probe: {augment: true, weight_decays: [0.1]}\n",
            r"\['weight_decays'\] are not used with augment: true",
        ),
        ("data: digits\nlinear_probe: {augment: true, crop_scale: [0, 1]}\n", "crop scale must"),
        ("data: digits\nlinear_probe: {augment: true, lr: fast}\n", "lr must be a number"),
        ("data: digits\n", "no metric to run"),
        ("data: digits\nknn: {kk: 3}\n", r"unknown knn settings \['kk'\]"),
        ("data: digits\nfeatures: vgg\nknn: {}\n", "features must be"),
        ("- a list\n", "must hold a mapping"),
        ("data: digits\ngeneration: {metrics: [fid, sfid]}\n", "unknown generation metrics"),
        ("data: digits\ngeneration: {steps: [0]}\n", "generation steps must be positive"),
        ("data: digits\naccuracy: {bank: test}\n", "bank must be model, train or none"),
        ("data: digits\nknn: {k: [20, -1]}\n", "knn k must be positive"),
        ("data: digits\nreconstruction: {steps: 0}\n", "images, repeats and steps must be"),
        ("data: digits\nreconstruction: {batch_size: 0}\n", "batch_size must be positive"),
        ("data: cifar10\nworkers: -1\nknn: {}\n", "workers must be a non-negative integer"),
        ("data: folder\ndata_root: 3\nknn: {}\n", "data_root must be a path"),
        ("data: digits\ndownload: true\nknn: {}\n", "download is for cifar10 only"),
        ("data: digits\nseed: -1\nknn: {}\n", "seed must be a non-negative integer"),
        ("data: cifar10\ndownload: yes please\nknn: {}\n", "download must be true or false"),
    ],
)
def test_bad_configs_are_value_errors_naming_the_problem(tmp_path, text, message):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ValueError, match=message):
        command.read_config(tmp_path / "c.yaml")


def test_yaml_numbers_without_a_dot_are_numbers(tmp_path):
    # PyYAML reads 1e-3 (no dot) as a string; the documented weight_decays: [1e-6, ...] failed.
    (tmp_path / "c.yaml").write_text(
        "data: digits\nlinear_probe: {weight_decays: [1e-6, 1.0e-2]}\nknn: {temperature: 7e-2}\n"
    )
    config = command.read_config(tmp_path / "c.yaml")
    assert config["linear_probe"]["weight_decays"] == [1e-6, 1e-2]
    assert config["knn"]["temperature"] == 0.07


def test_one_alpha_or_bank_is_a_list_of_one(tmp_path):
    (tmp_path / "c.yaml").write_text("data: digits\naccuracy: {alphas: 0.5, bank: none}\n")
    config = command.read_config(tmp_path / "c.yaml")
    assert config["accuracy"]["alphas"] == [0.5] and config["accuracy"]["bank"] == ["none"]


def run_evaluate(folder, tmp_path, text):
    (tmp_path / "c.yaml").write_text(text)
    out = tmp_path / "out"
    return command.evaluate(folder, command.read_config(tmp_path / "c.yaml"), out), out


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "split_seed: 0",
            r"the model was trained on digits \(split test_fraction 0.2, seed 3\); the config "
            r"asks for split_seed 0: its test images would overlap the model's training images",
        ),
        ("test_fraction: 0.3", "the config asks for test_fraction 0.3: its test images would"),
        ("data: mnist", "the config asks for data mnist: evaluate a model on the data set it"),
    ],
)
def test_a_split_other_than_the_models_is_refused_before_any_work(
    saved_model, tmp_path, setting, message
):
    with pytest.raises(ValueError, match=message):
        run_evaluate(saved_model, tmp_path, f"{setting}\nknn: {{}}\n")
    assert not (tmp_path / "out").exists()


def test_the_models_split_is_used_when_the_config_names_none(saved_model, tmp_path):
    report, _ = run_evaluate(saved_model, tmp_path, "knn: {k: [1]}\n")
    assert report["data"]["split"]["seed"] == 3 and report["data"]["name"] == "digits"
    # The same numbers as with the split stated explicitly (it agrees with the record).
    stated, _ = run_evaluate(
        saved_model, tmp_path, "data: digits\nsplit_seed: 3\ntest_fraction: 0.2\nknn: {k: [1]}\n"
    )
    assert stated["results"]["knn"] == report["results"]["knn"]


def test_a_model_without_a_record_uses_the_configs_split_and_says_it_is_unchecked(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("LZN_CACHE", str(tmp_path / "cache"))
    folder = save(tmp_path / "model")
    config = "data: digits\nsplit_seed: {seed}\n"
    config += "generation: {{metrics: [fid], samples: 20, steps: [1]}}\n"
    for seed in (1, 2):
        report, out = run_evaluate(folder, tmp_path, config.format(seed=seed))
        assert report["data"]["split"]["seed"] == seed
        assert report["data"]["split"]["checked"] is False
        assert "the split could not be checked" in (out / "report.md").read_text()
    # One cached reference per split: split 2's train images are not split 1's.
    cached = sorted(p.name for p in (tmp_path / "cache" / "eval").glob("*.npz"))
    assert len(cached) == 2 and "seed1" in cached[0] and "seed2" in cached[1]
    with pytest.raises(ValueError, match="name the data set"):
        run_evaluate(folder, tmp_path, "knn: {}\n")


def test_accuracy_with_the_models_bank_needs_one(tmp_path):
    folder = save(tmp_path / "model", record=RECORD)
    with pytest.raises(
        ValueError, match=r"this model carries no anchor bank.*bank: train.*bank: none"
    ):
        run_evaluate(folder, tmp_path, "accuracy: {}\n")
    report, _ = run_evaluate(folder, tmp_path, "accuracy: {bank: none, alphas: [0.0]}\n")
    assert report["results"]["accuracy"][0]["bank_size"] == 0


def test_the_augmented_probe_runs_from_the_config(saved_model, tmp_path):
    report, out = run_evaluate(
        saved_model, tmp_path, "linear_probe: {augment: true, epochs: 2, batch_size: 512}\n"
    )
    probe = report["results"]["linear_probe"]
    assert probe["epochs"] == 2 and probe["batch_size"] == 512
    # Digits get the mild crop and no flips unless the config says otherwise.
    assert probe["crop_scale"] == [0.8, 1.0] and probe["flip"] is False
    assert 0.0 <= probe["top1"] <= probe["top5"] <= 1.0
    assert (
        "linear probe, augmented (crop area 0.8-1; AdamW, 2 epochs)"
        in (out / "report.md").read_text()
    )


def test_a_model_without_the_needed_part_is_refused(tmp_path):
    folder = tmp_path / "model"
    presets.build("mnist-representation", tiny=True).save_pretrained(folder)
    (tmp_path / "c.yaml").write_text("data: mnist\naccuracy: {}\n")
    with pytest.raises(ValueError, match="needs a label modality"):
        command.evaluate(folder, command.read_config(tmp_path / "c.yaml"), tmp_path / "out")
    (tmp_path / "c.yaml").write_text("data: digits\nknn: {}\n")
    with pytest.raises(ValueError, match="the model takes 1x28x28 images, digits has 1x8x8"):
        command.evaluate(folder, command.read_config(tmp_path / "c.yaml"), tmp_path / "out")


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).parents[2] / "configs" / "eval").glob("*.yaml")), ids=str
)
def test_shipped_eval_configs_are_valid(path):
    config = command.read_config(path)
    assert any(section in config for section in command.SECTIONS)


@pytest.mark.parametrize("name", list(command.SECTIONS))
def test_each_section_refuses_an_unknown_key_by_name(tmp_path, name):
    (tmp_path / "c.yaml").write_text(f"data: digits\n{name}: {{bogus_key: 1}}\n")
    known = re.escape(str(list(command.SECTIONS[name].defaults)))
    message = rf"unknown {name} settings \['bogus_key'\]; known: {known}"
    with pytest.raises(ValueError, match=message):
        command.read_config(tmp_path / "c.yaml")


# A setting of each section whose default the test changes in the class: the config follows.
CHANGED_DEFAULTS = [
    ("generation", "grid", 7),
    ("accuracy", "alphas", [0.25]),
    ("reconstruction", "repeats", 3),
    ("linear_probe", "validation_fraction", 0.3),
    ("knn", "temperature", 0.5),
]


def test_every_section_takes_its_defaults_from_its_class(tmp_path, monkeypatch):
    assert {name for name, _, _ in CHANGED_DEFAULTS} == set(command.SECTIONS)
    for name, key, value in CHANGED_DEFAULTS:
        section = command.SECTIONS[name]
        monkeypatch.setitem(section.defaults, key, value)
        (tmp_path / "c.yaml").write_text(f"data: digits\n{name}: {{}}\n")
        config = command.read_config(tmp_path / "c.yaml")
        assert set(config[name]) == set(section.defaults) and config[name][key] == value
    # A config's settings are its own copy: changing them leaves the class's defaults alone.
    config["knn"]["k"].append(7)
    assert command.SECTIONS["knn"].defaults["k"] == [20, 200]


class Echo(EvaluationSection):
    """A section outside the shipped ones: it reports what it was given and runs on."""

    name = "echo"
    defaults: ClassVar[dict] = {"word": "hello"}

    def describe(self, context):
        return self.settings["word"]

    def run(self, context):
        return {"word": self.settings["word"], "train": len(context.x_train)}


def test_the_sections_lzn_evaluate_accepts_are_the_registrys(saved_model, tmp_path, monkeypatch):
    (tmp_path / "c.yaml").write_text("echo: {word: hi}\n")
    with pytest.raises(ValueError, match=r"unknown settings \['echo'\]"):
        command.read_config(tmp_path / "c.yaml")
    monkeypatch.setitem(command.SECTIONS, "echo", Echo)
    report = command.evaluate(saved_model, command.read_config(tmp_path / "c.yaml"), tmp_path / "o")
    assert report["results"] == {"echo": {"word": "hi", "train": 1438}}
    assert set(report["seconds"]) == {"echo", "total"}
    monkeypatch.delitem(command.SECTIONS, "knn")
    (tmp_path / "c.yaml").write_text("knn: {}\n")
    with pytest.raises(ValueError, match=r"unknown settings \['knn'\]"):
        command.read_config(tmp_path / "c.yaml")
