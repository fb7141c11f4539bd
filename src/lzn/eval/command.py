"""`lzn evaluate --model DIR --config FILE --out DIR`: every metric of a saved model, one report.

The config is a small YAML (or JSON) file (docs/evaluation.md shows it whole). Its top-level
settings say what to evaluate on:

    data: null                # digits | mnist | cifar10 | imagenet | folder; null: the model's
    data_root: null           # the folder holding cifar10, imagenet or the folder's images
    download: false           # cifar10 only: fetch it into data_root when missing (md5 checked)
    split_seed: null          # held-out split (digits, mnist); null: the model's record (else 0)
    test_fraction: null       # null: the model's record (else 0.2)
    workers: 8                # loader processes for streamed data (imagenet, folder)
    seed: 0                   # draws of the evaluation (samples, latents, probes)
    device: cpu
    features: classifier      # generation's features: classifier | inception | pixels
    inception_weights: null   # path to weights-inception-2015-12-05-6726825d.pth
    cache_dir: null           # reference features cache (default ~/.cache/lzn/eval)

and each section present runs that metric. A section is a class in `lzn.eval.sections` that owns
its settings' defaults and checks and runs itself; this module reads the file, loads the model
and the split, and runs the registered sections (`SECTIONS`) that the config names. The split is
checked against the one the model was trained on (`lzn.eval.datasets`). Progress (a line per
section, a bar per long phase) goes to stderr (`lzn.progress`). Wire it into the `lzn` command
with `command.add_parser(commands)`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lzn.eval import datasets, sources
from lzn.eval.sections import SECTIONS, EvaluationContext, EvaluationSection, values
from lzn.output_dir import check_output_dir
from lzn.progress import Section

TOP = {
    "data": None,
    "data_root": None,
    "download": False,
    "split_seed": None,
    "test_fraction": None,
    "workers": 8,
    "seed": 0,
    "device": "cpu",
    "features": "classifier",
    "inception_weights": None,
    "cache_dir": None,
}


def read_config(path: str | Path) -> dict:
    """The config with every default filled in; unknown keys and bad values are ValueErrors."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{path} is not valid YAML or JSON: {e}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path} must hold a mapping of settings, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(TOP) - set(SECTIONS))
    if unknown:
        raise ValueError(f"{path}: unknown settings {unknown}; known: {[*TOP, *SECTIONS]}")
    if not any(name in raw for name in SECTIONS):
        raise ValueError(f"{path}: no metric to run; add one of the sections {list(SECTIONS)}")
    config = {key: raw.get(key, default) for key, default in TOP.items()}
    try:  # bad values stop the command here, not after minutes of sampling
        _check_top(config)
        for name, section in SECTIONS.items():
            if name in raw:
                config[name] = section.validate(raw[name])
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return config


def _check_top(config: dict) -> None:
    """Check the top-level settings (the data, split and features), in place."""
    if config["data"] is not None and config["data"] not in datasets.NAMES:
        raise ValueError(
            f"unknown data set {config['data']!r}; the evaluation knows: "
            f"{', '.join(datasets.NAMES)}"
        )
    if config["features"] not in ("classifier", "inception", "pixels"):
        raise ValueError(
            f"features must be classifier, inception or pixels, got {config['features']!r}"
        )
    values.numbers(config, "test_fraction")
    if config["data_root"] is not None and not isinstance(config["data_root"], str):
        raise ValueError(f"data_root must be a path, got {config['data_root']!r}")
    seed = config["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(config["download"], bool):
        raise ValueError(f"download must be true or false, got {config['download']!r}")
    if config["download"] and config["data"] not in (None, "cifar10"):
        raise ValueError(f"download is for cifar10 only; {config['data']} must be in data_root")
    workers = config["workers"]
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be a non-negative integer, got {workers!r}")
    if config["split_seed"] is not None and (
        not isinstance(config["split_seed"], int) or config["split_seed"] < 0
    ):
        raise ValueError(
            f"split_seed must be a non-negative integer or null, got {config['split_seed']!r}"
        )
    fraction = config["test_fraction"]
    if fraction is not None and (not isinstance(fraction, (int, float)) or not 0 < fraction < 1):
        raise ValueError(f"test_fraction must be a number in (0, 1) or null, got {fraction!r}")


def evaluate(model_dir: str | Path, config: dict, out: Path, *, progress: bool = False) -> dict:
    """Run every configured section on the model in `model_dir`; write the report into `out`.

    With `progress` (the command's setting), a line per section and a bar per long phase go to
    stderr (`lzn.progress`); the library call is quiet."""
    from lzn import LZN
    from lzn.eval import report as rep

    start = time.perf_counter()
    device = config["device"]
    model = LZN.from_pretrained(model_dir, map_location=device).eval()
    sections = [cls(config[name]) for name, cls in SECTIONS.items() if name in config]
    for section in sections:  # before any work starts
        section.check_model(model)
    split = datasets.evaluation_split(
        getattr(model, "training_data", None),
        data=config["data"],
        test_fraction=config["test_fraction"],
        seed=config["split_seed"],
    )
    for section in sections:  # before the data is read (or downloaded)
        section.check_split(config, split)
    train, test = sources.open_data(
        split,
        config["data_root"],
        size=model.config["image"]["size"],
        channels=model.config["image"]["channels"],
        device=device,
        workers=config["workers"],
        download=config["download"],
    )
    for section in sections:
        section.check_data(model, train, test)
    out.mkdir(parents=True, exist_ok=True)
    n_test = len(test) if test is not None else 0
    report = {
        "model": {"path": str(model_dir), "name": model.config.get("name", "?")},
        "data": {
            "name": split.data,
            "description": f"{split.describe()}: {len(train)} train / {n_test} test",
            "train": len(train),
            "test": n_test,
            "root": config["data_root"],
            "split": split.as_dict(),
        },
        "seed": config["seed"],
        "config": config,
        "results": {},
        "seconds": {},
    }
    context = EvaluationContext(
        model=model,
        config=config,
        split=split,
        train=train,
        test=test,
        out=out,
        report=report,
        progress=progress,
    )
    if progress:
        print(f"lzn evaluate: {report['data']['description']}", file=sys.stderr, flush=True)
    phases: dict[str, list[EvaluationSection]] = {}
    for section in sections:
        phases.setdefault(section.phase or section.name, []).append(section)
    for phase, members in phases.items():
        detail = ", ".join(section.describe(context) for section in members)
        with Section(phase, detail, enabled=progress, prefix="lzn evaluate: ") as timer:
            for section in members:
                report["results"][section.name] = section.run(context)
        report["seconds"][phase] = timer.seconds
    report["software"] = rep.software()
    report["seconds"]["total"] = round(time.perf_counter() - start, 2)
    rep.write(report, out)
    return report


def run(args: argparse.Namespace) -> int:
    config = read_config(args.config)
    if args.device:
        config["device"] = args.device
    out = check_output_dir(args.out, "--out")  # before any sampling, not after
    try:
        report = evaluate(args.model, config, out, progress=True)
    except ImportError as e:  # an optional dependency (torch-fidelity): one clear line
        print(f"lzn evaluate: {e}", file=sys.stderr)
        return 2
    from lzn.eval import report as rep

    print(rep.markdown(report), end="")
    print(f"report.json, report.md and plots in {out}/")
    return 0


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "evaluate",
        help="evaluate a saved model: FID/KID/IS/precision-recall, accuracy, reconstruction, "
        "linear probe, kNN",
        description="Run the metrics a config file names on a saved model and write "
        "OUT/report.json (every number with its protocol and the software versions), "
        "OUT/report.md, and plots (fid_vs_steps.png, accuracy.png, samples.png). Data: digits "
        "and MNIST offline (FID features default to a shipped classifier), CIFAR-10, ImageNet "
        "and image folders from data_root (configs/eval/ has the paper's protocols).",
    )
    parser.add_argument("--model", required=True, help="a save_pretrained folder")
    parser.add_argument("--config", required=True, help="a YAML or JSON evaluation config")
    parser.add_argument("--out", default="lzn-eval", help="output folder (default: lzn-eval)")
    parser.add_argument("--device", default=None, help="override the config's device")
    parser.set_defaults(run=run)
    return parser
