"""`lzn fit`: a YAML recipe trains, a killed run resumes to the uninterrupted result, bad input
stops at once with a message that names the problem."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lzn import LZN
from lzn.cli import main

STEPS = 24
CONFIG = f"""
seed_everything: 7
model:
  class_path: lzn.train.JointModule
  init_args:
    preset: digits-joint
    model:
      image:
        encoder: {{unet: {{nf: 8, num_res_blocks: 1}}, head: {{channels: 2, hidden: 8}}}}
        decoder: {{unet: {{nf: 8, num_res_blocks: 1}}}}
      label: {{steps: 10}}
    recipe:
      iterations: {{encoder: {STEPS}, decoder: 15, label: {STEPS}}}
      warmup_steps: 4
data:
  class_path: lzn.data.DigitsData
  init_args: {{batch_size: 32}}
trainer:
  accelerator: cpu
  max_steps: {STEPS}
  enable_model_summary: false
  enable_progress_bar: false
  log_every_n_steps: 1
checkpoint:
  every_n_train_steps: 2
samples:
  every_n_steps: 1000
  n: 10
  steps: 2
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(CONFIG)
    return path


def _fit(config, root, *extra):
    return main(["fit", "--config", str(config), "--trainer.default_root_dir", str(root), *extra])


def _weights(root):
    return load_file(Path(root) / "model" / "model.safetensors")


def test_a_killed_run_resumes_to_the_uninterrupted_result(config, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert _fit(config, whole) == 0
    command = [sys.executable, "-m", "lzn.cli", "fit", "--config", str(config)]
    command += ["--trainer.default_root_dir", str(killed)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = killed / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    assert not (killed / "model").exists()  # it really stopped mid-way
    step = torch.load(last, weights_only=True)["global_step"]
    assert 0 < step < STEPS

    assert _fit(config, killed) == 0  # the same command again
    assert torch.load(last, weights_only=True)["global_step"] == STEPS
    a, b = _weights(whole), _weights(killed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    with open(killed / "metrics.csv") as f:
        logged = [int(row["step"]) for row in csv.DictReader(f)]
    assert logged == list(range(STEPS))  # every step logged once, across the two runs


def test_a_finished_run_exports_a_loadable_model_and_sample_grids(config, tmp_path):
    """In bf16-mixed precision, as GPU users train (autocast also reaches the backward pass)."""
    root = tmp_path / "run"
    args = ["--trainer.max_steps", "2", "--samples.every_n_steps", "1"]
    assert _fit(config, root, *args, "--trainer.precision", "bf16-mixed") == 0
    model = LZN.from_pretrained(root / "model")
    assert model.config["label"]["steps"] == 10
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert (root / "samples" / "step-0000001.png").is_file()
    assert (root / "samples" / "step-0000002.png").is_file()
    assert (root / "checkpoints" / "last.ckpt").is_file()
    assert (root / "config.yaml").is_file() and (root / "metrics.csv").is_file()
    assert any(p.name.startswith("events.out.tfevents") for p in root.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model.init_args.recipe", "{lrr: {encoder: 1}}"], "recipe.lrr"),
        (["--model.init_args.model", "{image: {sise: 9}}"], "model.image.sise"),
        (["--model.init_args.recipe", "{batch_size: 64}"], "data.batch_size"),
        (["--data.init_args.batch_size", "4096"], "larger than the data set"),
    ],
)
def test_bad_settings_stop_with_a_message_that_names_them(config, tmp_path, capsys, args, message):
    assert _fit(config, tmp_path / "run", *args) == 2
    assert message in capsys.readouterr().err


def test_a_key_that_does_not_exist_is_refused(config, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        _fit(config, tmp_path / "run", "--trainer.max_stepz", "3")
    assert exit.value.code == 2
    assert "max_stepz" in capsys.readouterr().err


def test_a_missing_data_folder_is_named(tmp_path, capsys):
    config = tmp_path / "folder.yaml"
    config.write_text(
        CONFIG.replace(
            "class_path: lzn.data.DigitsData\n  init_args: {batch_size: 32}",
            f"class_path: lzn.data.FolderData\n  init_args: {{root: {tmp_path}/nowhere, size: 8}}",
        )
    )
    assert _fit(config, tmp_path / "run") == 2
    assert f"{tmp_path}/nowhere does not exist" in capsys.readouterr().err


def test_a_corrupt_checkpoint_is_refused_by_name(config, tmp_path, capsys):
    root = tmp_path / "run"
    (root / "checkpoints").mkdir(parents=True)
    (root / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    assert _fit(config, root) == 2
    err = capsys.readouterr().err
    assert "last.ckpt" in err and "corrupt" in err


def test_two_processes_train_through_a_part_freezing(config, tmp_path):
    """DDP on 2 CPU processes (gloo), with the decoder frozen after 2 of 4 steps: plain DDP
    would stop at the first step in which the decoder gets no gradient."""
    root = tmp_path / "ddp"
    command = [sys.executable, "-m", "lzn.cli", "fit", "--config", str(config)]
    command += ["--trainer.default_root_dir", str(root), "--trainer.devices", "2"]
    command += ["--trainer.max_steps", "4", "--model.init_args.recipe"]
    command += ["{iterations: {encoder: 4, decoder: 2, label: 4}}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4
    assert LZN.from_pretrained(root / "model").config["name"] == "digits-joint"
