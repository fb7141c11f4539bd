"""The device suite's smoke mode (CPU, tiny sizes): the code the GPU run uses, so that it cannot rot
between the rare sessions that have a GPU."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SUITE = ROOT / "benchmarks" / "gpu" / "suite.py"
PARTS = {
    "latent_flow": {"error", "timing"},
    "training": {"training"},
    "sampling": {"evaluation", "samplers"},
}


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-out")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TRITON_INTERPRET": "1"}
    subprocess.run(
        [sys.executable, str(SUITE), "--smoke", "--out", str(out)],
        check=True, env=env, cwd=ROOT, timeout=120, capture_output=True,
    )  # fmt: skip
    return out


def numbers(part: dict) -> list[float]:
    return [
        v
        for table in part["tables"].values()
        for row in table["rows"]
        for v in row.values()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]


def test_every_part_writes_its_tables_with_finite_numbers(out):
    for name, tables in PARTS.items():
        part = json.loads((out / f"{name}.json").read_text())
        assert part["part"] == name and part["smoke"] is True and part["finished"] is True
        assert set(part["tables"]) == tables
        assert all(table["rows"] for table in part["tables"].values())
        values = numbers(part)
        assert values and all(math.isfinite(v) for v in values)


def test_the_forms_that_run_on_cpu_are_measured(out):
    flow = json.loads((out / "latent_flow.json").read_text())["tables"]
    timed = {(r["case"], r["form"]) for r in flow["timing"]["rows"] if "ms" in r}
    assert {("n=64", "lzn, PyTorch path"), ("n=64", "official (materialised)")} <= timed
    errors = {r["form"]: r.get("max abs error") for r in flow["error"]["rows"]}
    assert errors["lzn, PyTorch path"] < 1e-3
    training = json.loads((out / "training.json").read_text())["tables"]["training"]["rows"]
    measured = [r for r in training if "images/s" in r]
    assert {r["batch"] for r in measured} == {4, 2} and len(measured) == 10
    assert all(r["images/s"] > 0 for r in measured)
    assert all("x official" in r for r in measured if not r["variant"].startswith("official"))
    skipped = [r for r in training if "images/s" not in r]
    assert skipped and all(r["note"].startswith("skipped on CPU") for r in skipped)


def test_the_markdown_holds_every_table(out):
    text = (out / "suite.md").read_text()
    assert text.startswith("# lzn device suite")
    for name in PARTS:
        assert f"## {name}" in text
    assert text.count("\n### ") == sum(len(t) for t in PARTS.values())
    assert "| euler 20 | 20 |" in text and "| heun 20 | 40 |" in text
