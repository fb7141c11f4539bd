import argparse
import json

import pytest

from lzn import presets
from lzn.eval import command

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
reconstruction: {images: 12, repeats: 2, sampler: euler, steps: 2}
linear_probe: {weight_decays: [0.01]}
knn: {k: [20, 200]}
"""


def parse(argv):
    parser = argparse.ArgumentParser(prog="lzn")
    command.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    presets.build("digits-joint", tiny=True).save_pretrained(folder)
    return folder


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
    assert [(r["batch_size"], r["alpha"]) for r in results["accuracy"]] == [
        (359, 1.0),
        (359, 0.0),
        (120, 1.0),
        (120, 0.0),
    ]
    assert all(r["bank_size"] == 1438 for r in results["accuracy"])
    assert results["reconstruction"]["images"] == 12
    assert results["linear_probe"]["weight_decay"] == 0.01
    assert set(results["knn"]) >= {"k=20", "k=200", "protocol"}
    assert report["software"]["torch"] and report["config"]["generation"]["sampler"] == "euler"
    for name in ("report.md", "fid_vs_steps.png", "accuracy.png", "samples.png"):
        assert (out / name).stat().st_size > 0
    assert "| alpha | evaluation batch |" in (out / "report.md").read_text()
    assert "report.json" in capsys.readouterr().out
    # The reference features were cached on the first run.
    assert list((tmp_path / "cache" / "eval").glob("digits-train-*.npz"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: digits\nknn: {}\nfoo: 1\n", r"unknown settings \['foo'\]"),
        ("knn: {}\n", "name the data set"),
        ("data: digits\n", "no metric to run"),
        ("data: digits\nknn: {kk: 3}\n", r"unknown knn settings \['kk'\]"),
        ("data: digits\nfeatures: vgg\nknn: {}\n", "features must be"),
        ("- a list\n", "must hold a mapping"),
        ("data: digits\ngeneration: {metrics: [fid, sfid]}\n", "unknown generation metrics"),
        ("data: digits\ngeneration: {steps: [0]}\n", "generation steps must be positive"),
        ("data: digits\naccuracy: {bank: test}\n", "bank must be train or none"),
        ("data: digits\nknn: {k: [20, -1]}\n", "knn k must be positive"),
    ],
)
def test_bad_configs_are_value_errors_naming_the_problem(tmp_path, text, message):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ValueError, match=message):
        command.read_config(tmp_path / "c.yaml")


def test_a_model_without_the_needed_part_is_refused(tmp_path):
    folder = tmp_path / "model"
    presets.build("mnist-representation", tiny=True).save_pretrained(folder)
    (tmp_path / "c.yaml").write_text("data: mnist\naccuracy: {}\n")
    with pytest.raises(ValueError, match="needs a label modality"):
        command.evaluate(folder, command.read_config(tmp_path / "c.yaml"), tmp_path / "out")
    (tmp_path / "c.yaml").write_text("data: digits\nknn: {}\n")
    with pytest.raises(ValueError, match="the model takes 1x28x28 images, digits has 1x8x8"):
        command.evaluate(folder, command.read_config(tmp_path / "c.yaml"), tmp_path / "out")
