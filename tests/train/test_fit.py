"""`lzn fit`: a YAML recipe trains, a killed or interrupted run resumes to the uninterrupted
result, a complete run is left alone, bad input stops at once with a message that names the
problem, and the output is a progress bar with a total and none of Lightning's chatter."""

import csv
import io
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lzn import LZN
from lzn.cli import main
from lzn.train import JointModule
from lzn.train.checkpoint_io import saved_step

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


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def whole(config, tmp_path_factory):
    """An uninterrupted run of the tiny config: what every interrupted run must end equal to."""
    root = tmp_path_factory.mktemp("whole")
    assert _fit(config, root) == 0
    return root


def _fit(config, root, *extra):
    return main(["fit", "--config", str(config), "--trainer.default_root_dir", str(root), *extra])


def _weights(root):
    return load_file(Path(root) / "model" / "model.safetensors")


def _assert_same_weights(a, b):
    a, b = _weights(a), _weights(b)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _logged_steps(root):
    with open(Path(root) / "metrics.csv") as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


def test_a_killed_run_resumes_to_the_uninterrupted_result(config, whole, tmp_path):
    killed = tmp_path / "killed"
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
    _assert_same_weights(whole, killed)
    assert _logged_steps(killed) == list(range(STEPS))  # every step logged once, across the runs


class _Output:
    """The merged stdout and stderr of a process, read as it comes (the progress bar's lines end
    in carriage returns, not newlines)."""

    def __init__(self, process):
        self.data = bytearray()
        self.thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        while chunk := stream.read1(4096):
            self.data.extend(chunk)

    def text(self):
        return self.data.decode(errors="replace")


# No periodic checkpoint before the end (and 24 is no multiple of 1000: the end saves anyway).
NO_PERIODIC_SAVE = ("--checkpoint.every_n_train_steps", "1000")


def test_ctrl_c_saves_the_step_in_progress_and_the_same_command_resumes(
    config, whole, tmp_path, capfd
):
    root = tmp_path / "run"
    last = root / "checkpoints" / "last.ckpt"
    args = [*NO_PERIODIC_SAVE, "--trainer.enable_progress_bar", "true"]
    command = ["fit", "--config", str(config), "--trainer.default_root_dir", str(root), *args]
    process = subprocess.Popen(
        [sys.executable, "-m", "lzn.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = _Output(process)
    deadline = time.monotonic() + 180
    while f" 2/{STEPS} " not in output.text() and process.poll() is None:  # mid-run
        assert time.monotonic() < deadline, output.text()[-2000:]
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=180)
    output.thread.join(timeout=10)
    text = output.text()
    assert process.returncode == 128 + signal.SIGINT, text[-3000:]
    step = saved_step(last)
    assert 2 <= step < STEPS  # the step in progress was finished and saved: none was periodic
    assert not (root / "model").exists()
    resume = shlex.join(["lzn", *command])
    assert f"SIGINT after step {step}: saved {last}; resume with the same command: {resume}" in text
    for noise in ("Tip:", "GPU available", "LeafSpec", "deprecated"):
        assert noise not in text, text[-3000:]

    capfd.readouterr()
    assert _fit(config, root, *args) == 0  # the same command
    out = capfd.readouterr().out
    assert f"resuming from {last} (step {step} of {STEPS})" in out
    bar = out.replace("\r", "\n")  # the bar counts from the checkpoint's step to max_steps
    assert f" {step}/{STEPS} " in bar and f" {STEPS}/{STEPS} " in bar and "/?" not in bar
    assert saved_step(last) == STEPS  # the end of training saves its final step
    _assert_same_weights(whole, root)
    assert _logged_steps(root) == list(range(STEPS))


def _assert_equal(a, b, where="checkpoint"):
    """Nested dicts and lists of tensors and plain values, equal bit for bit."""
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_equal(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_equal(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


def test_sigterm_in_the_middle_of_a_step_saves_the_state_after_that_step(
    config, tmp_path, monkeypatch, capsys
):
    """SIGTERM between the backward pass and the update of step 5: the run finishes step 5 and
    saves exactly what an uninterrupted 5-step run ends with (weights, EMA, optimizer)."""

    hook = JointModule.on_before_optimizer_step

    def signal_mid_step(module, optimizer):
        hook(module, optimizer)
        if module.global_step == 4:  # four steps done
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(JointModule, "on_before_optimizer_step", signal_mid_step)
    root = tmp_path / "run"
    last = root / "checkpoints" / "last.ckpt"
    assert _fit(config, root, *NO_PERIODIC_SAVE) == 128 + signal.SIGTERM
    assert f"SIGTERM after step 5: saved {last}" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)  # handlers restored
    assert not (root / "model").exists()

    monkeypatch.undo()
    five = tmp_path / "five"
    assert _fit(config, five, "--trainer.max_steps", "5") == 0
    interrupted = torch.load(last, weights_only=True)
    uninterrupted = torch.load(five / "checkpoints" / "last.ckpt", weights_only=True)
    assert interrupted["global_step"] == uninterrupted["global_step"] == 5
    for key in ("state_dict", "ema", "optimizer_states", "lr_schedulers", "skipped_steps"):
        _assert_equal(interrupted[key], uninterrupted[key], key)


def _snapshot(root):
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in Path(root).rglob("*")}


@pytest.fixture
def lightning_log():
    """What Lightning logs (banners, tips), wherever its own handlers send it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    for logger in loggers:
        logger.addHandler(handler)
    yield stream
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.mark.parametrize("verbose", [False, True])
def test_a_complete_run_rerun_says_so_and_touches_nothing(
    config, whole, verbose, capsys, lightning_log
):
    before = _snapshot(whole)
    assert _fit(config, whole, *(["--verbose"] if verbose else [])) == 0
    assert _snapshot(whole) == before
    out = capsys.readouterr().out
    assert f"run in {whole} is complete ({STEPS} steps); model in {whole / 'model'}" in out
    # Lightning's chatter, logged as the trainer is made: only with --verbose.
    assert ("GPU available" in lightning_log.getvalue()) == verbose
    assert ("Tip:" in lightning_log.getvalue()) == verbose


def test_an_output_folder_that_cannot_be_created_stops_at_once(config, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert _fit(config, tmp_path / "file" / "run") == 2
    err = capsys.readouterr().err
    assert err == (
        f"lzn fit: trainer.default_root_dir {tmp_path / 'file' / 'run'} cannot be created: "
        f"{tmp_path / 'file'} is a file, not a folder\n"
    )


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


R = "model.init_args.recipe"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ([f"--{R}", "{lrr: {encoder: 1}}"], f"{R}.lrr.encoder: unknown key"),
        ([f"--{R}.label_los", "2"], f"{R}.label_los: unknown key"),
        ([f"--{R}.ema", "high"], f"{R}.ema: expected float, got 'high'"),
        (["--model.init_args.presett", "x"], "model.init_args.presett: unknown key"),
        (["--data.init_args.batch_sise", "2"], "data.init_args.batch_sise: unknown key"),
        (["--trainer.max_steps", "x"], "trainer.max_steps: expected int, got 'x'"),
        (["--trainer.max_stepz", "3"], "unrecognized arguments: --trainer.max_stepz 3"),
        (["--trainer.max_step", "3"], "unrecognized arguments: --trainer.max_step 3"),  # no prefix
        (["--model.init_args.model", "{image: {sise: 9}}"], "unknown key 'model.image.sise'"),
        ([f"--{R}", "{batch_size: 64}"], "batch_size: unknown key; the batch size is the data"),
        (["--model.init_args.preset", "nope"], "unknown preset 'nope'; the presets are: "),
        (["--data.init_args.batch_size", "4096"], "larger than the data set"),
        (["--trainer.accelerator", "gpu"], "trainer.accelerator is 'gpu' but this machine has no"),
    ],
)  # fmt: skip
def test_a_configuration_mistake_ends_with_one_line_that_names_it(
    config, tmp_path, capsys, monkeypatch, args, line
):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)  # also on a GPU machine
    assert _fit(config, tmp_path / "run", *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("lzn fit: ") and err.count("\n") == 1, err
    assert line in err


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
