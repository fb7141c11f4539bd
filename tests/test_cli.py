import json
import subprocess
import sys

import pytest

from lzn import cli


def test_demo_writes_a_report_whose_numbers_hold(tmp_path, capsys):
    assert cli.main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    gp, th = report["gaussian_prior"], report["theorem_1"]
    assert gp["latent_mean_max_abs"] < 4 * gp["sampling_error_of_mean"]
    hits = report["round_trip"]["own_anchor_fraction_by_steps"]
    assert hits["100"] > hits["5"]
    assert abs(th["wrong_zone_fraction"] - th["theory_phi_(g-1)/g"]) < 5 * th["monte_carlo_std"]
    assert "Theorem 1" in capsys.readouterr().out


def test_installed_command_answers_help():
    out = subprocess.run(
        [sys.executable, "-m", "lzn.cli", "demo", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "--quick" in out.stdout


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
