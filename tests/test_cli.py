import json
import subprocess
import sys

import pytest

from lzn import LZN, cli


def test_quick_demo_trains_and_writes_everything(tmp_path, capsys):
    assert cli.main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["steps"] == 40 and report["preset"] == "digits-joint"
    assert report["accuracy"] > 0.5  # 40 steps: well above chance (0.1), far from converged
    assert 0.0 <= report["sample_accuracy"] <= 1.0
    for name in ("samples.png", "curves.png", "latents.png", "report.txt"):
        assert (tmp_path / name).stat().st_size > 0
    model = LZN.from_pretrained(tmp_path / "model")
    assert model.config["name"] == "digits-joint"
    assert "held-out accuracy" in capsys.readouterr().out


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
