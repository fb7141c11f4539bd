"""The golden fixtures of the official code, and how each case's is converted.

tests/fixtures/official/ holds, per official configuration, a small checkpoint in the exact
official format, inputs and the official modules' outputs (about 22 MB; its README.md has the
exact calls and every format fact). They were made by running the official code; they are data,
not code we wrote.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "official"

# The case-2 fixture is the ResNet-50-GN at width 1/16 with 2 GroupNorm groups (the released
# model has 32), run on 64x64 images: the group count is the one setting no shape tells.
CONFIG = {
    "case_study_1_cifar10": None,
    "case_study_1_afhqcat": None,
    "case_study_2": {"image": {"size": 64, "encoder": {"resnet": {"groups": 2}}}},
    "case_study_3": None,
}
CASES = list(CONFIG)


def checkpoint(case: str) -> Path:
    return FOLDER / case / "checkpoint.pt"
