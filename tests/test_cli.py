import json
import subprocess
import sys

import pytest
import torch

from lzn import LZN, cli


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert cli.main(["demo", "--quick", "--out", str(out), "--seed", "3"]) == 0
    return out


def test_quick_demo_trains_and_writes_everything(demo_run):
    from lzn.data import digits

    report = json.loads((demo_run / "report.json").read_text())
    assert report["steps"] == 40 and report["preset"] == "digits-joint" and report["seed"] == 3
    assert report["accuracy"] > 0.5  # 40 steps: well above chance (0.1), far from converged
    assert 0.0 <= report["sample_accuracy"] <= 1.0
    for name in ("samples.png", "curves.png", "latents.png", "report.txt"):
        assert (demo_run / name).stat().st_size > 0
    assert "held-out accuracy" in (demo_run / "report.txt").read_text()
    model = LZN.from_pretrained(demo_run / "model")
    assert model.config["name"] == "digits-joint"
    assert model.training_data == {"data": "digits", "test_fraction": 0.2, "seed": 3}
    # The bank: every training digit (1438 < 2000), so its labels are the split's.
    _, y_train, _, _ = digits.load(seed=3)
    assert torch.equal(torch.bincount(model.bank_labels), torch.bincount(y_train))


def test_one_image_is_classified_as_in_a_batch(demo_run):
    from lzn.data import digits

    report = json.loads((demo_run / "report.json").read_text())
    assert abs(report["single_image_accuracy"] - report["accuracy"]) <= 0.01
    # Without the bank, one image alone is meaningless (the "6 for every digit").
    model = LZN.from_pretrained(demo_run / "model")
    _, _, x_test, _ = digits.load(seed=3)
    alone = torch.cat([model.classify(x, bank=None) for x in x_test[:40].split(1)])
    assert len(alone.unique()) == 1


def test_installed_command_answers_help():
    out = subprocess.run(
        [sys.executable, "-m", "lzn.cli", "demo", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "--quick" in out.stdout and "report.json" in out.stdout


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from lzn import presets

    folder = tmp_path_factory.mktemp("model")
    presets.build("digits-joint", tiny=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    from PIL import Image
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("digits")
    paths = []
    for i, image in enumerate(load_digits().images[:5]):
        path = folder / f"digit{i}.png"
        Image.fromarray((image * 255 / 16).astype("uint8")).save(path)
        paths.append(str(path))
    return paths


def test_sample_writes_a_grid(saved_model, tmp_path):
    from PIL import Image

    out = tmp_path / "grid.png"
    args = ["sample", "--model", str(saved_model), "--n", "6", "--label", "3"]
    assert cli.main([*args, "--sampler", "euler", "--steps", "2", "--out", str(out)]) == 0
    assert Image.open(out).size == (6 * 10 * 4, 10 * 4)  # 6 cells of 8+2 pixels, scaled 4x


def test_classify_and_embed_read_image_files(saved_model, digit_files, tmp_path, capsys):
    import numpy as np

    assert cli.main(["classify", "--model", str(saved_model), *digit_files]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == digit_files
    assert all(0 <= int(line.split("\t")[1]) < 10 for line in lines)
    out = tmp_path / "emb.npy"
    assert cli.main(["embed", "--model", str(saved_model), *digit_files, "--out", str(out)]) == 0
    assert np.load(out).shape == (5, 16)


def test_commands_answer_bad_input_in_one_line(saved_model, digit_files, tmp_path, capsys):
    from PIL import Image

    big = tmp_path / "big.png"
    Image.new("L", (28, 28)).save(big)
    assert cli.main(["classify", "--model", str(saved_model), str(big)]) == 2
    assert "big.png is 28x28, the model takes 8x8" in capsys.readouterr().err
    assert cli.main(["classify", "--model", str(tmp_path), *digit_files]) == 2
    assert "config.json does not exist" in capsys.readouterr().err
    assert cli.main(["sample", "--model", str(saved_model), "--n", "2", "--label", "12"]) == 2
    assert "label 12 is outside the label set" in capsys.readouterr().err


def test_classify_one_file_uses_the_bank_and_sample_needs_no_label(demo_run, tmp_path, capsys):
    from PIL import Image

    from lzn import images
    from lzn.data import digits

    _, _, x_test, _ = digits.load(seed=3)
    paths = []
    for i, x in enumerate(x_test[:6]):
        paths.append(str(tmp_path / f"d{i}.png"))
        Image.fromarray(((x[0] + 1) * 127.5).round().byte().numpy()).save(paths[-1])
    model_dir = str(demo_run / "model")
    labels = []
    for path in paths:
        assert cli.main(["classify", "--model", model_dir, path]) == 0
        labels.append(int(capsys.readouterr().out.split("\t")[1]))
    model = LZN.from_pretrained(model_dir)
    files = images.load(paths, size=8, channels=1)
    assert labels == [int(model.classify(x)) for x in files.split(1)]
    assert cli.main(["classify", "--model", model_dir, "--no-bank", paths[0]]) == 0
    out = tmp_path / "grid.png"
    args = ["sample", "--model", model_dir, "--n", "4", "--sampler", "euler", "--steps", "2"]
    assert cli.main([*args, "--out", str(out)]) == 0 and out.stat().st_size > 0


def test_presets_lists_and_prints_a_preset_as_its_one_home_says(capsys):
    import yaml

    from lzn import presets

    assert cli.main(["presets"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == presets.names()
    assert cli.main(["presets", "cifar10-joint"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"] == presets.config("cifar10-joint")
    assert printed["recipe"] == presets.recipe("cifar10-joint")
    assert cli.main(["presets", "cifar"]) == 2
    assert "unknown preset 'cifar'; the presets are: cifar10-generation" in capsys.readouterr().err


class _Undecodable(torch.utils.data.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        raise ValueError(f"cannot decode image{i}.png as an image")


def test_an_error_in_a_loader_worker_is_reported_by_its_own_line():
    loader = torch.utils.data.DataLoader(_Undecodable(), num_workers=1)
    with pytest.raises(ValueError) as caught:
        next(iter(loader))
    assert "Original Traceback" in str(caught.value)  # torch's message: the worker's traceback
    want = "cannot decode image0.png as an image (in a data-loader worker)"
    assert cli._message(caught.value) == want
    assert cli._message(ValueError("plain")) == "plain"
