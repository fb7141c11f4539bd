"""`lzn evaluate --model DIR --config FILE --out DIR`: every metric of a saved model, one report.

The config is a small YAML (or JSON) file; a section's presence runs that metric:

    data: digits              # digits | mnist (offline data sets)
    seed: 0
    device: cpu
    features: classifier      # classifier (shipped, offline) | inception (needs local weights)
    inception_weights: null   # path to weights-inception-2015-12-05-6726825d.pth
    cache_dir: null           # reference features cache (default ~/.cache/lzn/eval)
    generation:
      metrics: [fid, kid, inception_score, precision_recall]
      samples: null           # generated samples per run (default: as many as the reference)
      sampler: euler          # euler | heun | rk45
      steps: [10, 20]         # one run per value: FID vs steps
      batch_size: 250
      kid: {subsets: 100, subset_size: 1000}
      precision_recall_k: 3
      inception_score_splits: 10
      grid: 100               # samples in samples.png
    accuracy:
      alphas: [1.0, 0.5, 0.0]
      batch_sizes: [null]     # evaluation batch sizes; null: the whole test split at once
      bank: train             # train (anchors of the train split) | none | [train, none]
    reconstruction:
      images: 2000            # the first n training images (all if fewer)
      repeats: 20
      sampler: rk45
      steps: 20
      batch_size: null        # null: all images' latents in one batch, as the paper
    linear_probe: {weight_decays: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], validation_fraction: 0.2}
    knn: {k: [20, 200], temperature: 0.07}

Wire it into the `lzn` command with `command.add_parser(commands)`.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

SECTIONS = {
    "generation": {
        "metrics": ["fid", "kid", "inception_score", "precision_recall"],
        "samples": None,
        "sampler": "euler",
        "steps": [20],
        "batch_size": 250,
        "kid": {},
        "precision_recall_k": 3,
        "inception_score_splits": 10,
        "grid": 100,
    },
    "accuracy": {"alphas": [1.0, 0.5, 0.0], "batch_sizes": [None], "bank": "train"},
    "reconstruction": {
        "images": 2000,
        "repeats": 20,
        "sampler": "rk45",
        "steps": 20,
        "batch_size": None,
    },
    "linear_probe": {"weight_decays": None, "validation_fraction": 0.2},
    "knn": {"k": [20, 200], "temperature": 0.07},
}
TOP = {
    "data": None,
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
    config = {key: raw.get(key, default) for key, default in TOP.items()}
    if config["data"] is None:
        raise ValueError(f"{path}: name the data set (data: digits or data: mnist)")
    if config["features"] not in ("classifier", "inception", "pixels"):
        raise ValueError(
            f"{path}: features must be classifier, inception or pixels, got {config['features']!r}"
        )
    for name, defaults in SECTIONS.items():
        if name not in raw:
            continue
        section = raw[name] or {}
        if not isinstance(section, dict):
            raise ValueError(f"{path}: {name} must be a mapping of settings")
        extra = sorted(set(section) - set(defaults))
        if extra:
            raise ValueError(f"{path}: unknown {name} settings {extra}; known: {list(defaults)}")
        config[name] = {**copy.deepcopy(defaults), **section}
    if not any(name in config for name in SECTIONS):
        raise ValueError(f"{path}: no metric to run; add one of the sections {list(SECTIONS)}")
    _check_values(config, path)
    return config


def _check_values(config: dict, path: Path) -> None:
    """Catch bad values before any metric runs (not after minutes of sampling)."""
    from lzn.eval.generative import METRICS

    def fail(message: str):
        raise ValueError(f"{path}: {message}")

    def positive_ints(values, name: str, allow_none: bool = False):
        for v in values if isinstance(values, list) else [values]:
            if not (v is None and allow_none) and (not isinstance(v, int) or v < 1):
                fail(
                    f"{name} must be positive integers{' or null' if allow_none else ''}, got {v!r}"
                )

    gen = config.get("generation")
    if gen is not None:
        if isinstance(gen["steps"], int):
            gen["steps"] = [gen["steps"]]
        unknown = sorted(set(gen["metrics"]) - set(METRICS))
        if unknown:
            fail(f"unknown generation metrics {unknown}; they are {list(METRICS)}")
        if gen["sampler"] not in ("euler", "heun", "rk45"):
            fail(f"generation sampler must be euler, heun or rk45, got {gen['sampler']!r}")
        positive_ints(gen["steps"], "generation steps")
        positive_ints(gen["samples"], "generation samples", allow_none=True)
    acc = config.get("accuracy")
    if acc is not None:
        for bank in acc["bank"] if isinstance(acc["bank"], list) else [acc["bank"]]:
            if bank not in ("train", "none", None):
                fail(f"accuracy bank must be train or none, got {bank!r}")
        if any(not isinstance(a, (int, float)) or a < 0 for a in acc["alphas"]):
            fail(f"accuracy alphas must be non-negative numbers, got {acc['alphas']}")
        positive_ints(acc["batch_sizes"], "accuracy batch_sizes", allow_none=True)
    rec = config.get("reconstruction")
    if rec is not None:
        positive_ints([rec["images"], rec["repeats"]], "reconstruction images and repeats")
    if "knn" in config:
        positive_ints(config["knn"]["k"], "knn k")


def _extractor(config: dict, data_name: str):
    from lzn.eval import classifier, features, inception

    if config["features"] == "inception":
        extractor = inception.InceptionFeatures(config["inception_weights"], config["device"])
        return extractor, f"TF-Inception pool3 (torch-fidelity port, weights {extractor.weights})"
    if config["features"] == "pixels":
        return features.pixels(), "raw pixels"
    if data_name not in classifier.SHIPPED:
        raise ValueError(
            f"no shipped classifier for {data_name!r} (there are: "
            f"{', '.join(classifier.SHIPPED)}); use features: inception"
        )
    extractor = classifier.ClassifierFeatures(data_name, config["device"])
    acc = extractor.metadata["training"]["test_accuracy"]
    return extractor, (
        f"the shipped {data_name} classifier's 128-d penultimate layer ({extractor.name}, "
        f"test accuracy {acc:.2%}; docs/evaluation.md)"
    )


def _generation(model, config, x_ref, y_ref, x_test, data_key, out, report) -> None:
    from lzn import images
    from lzn.eval import features as feats
    from lzn.eval.generative import GenerativeMetrics, generated_batches

    gen, seed = config["generation"], config["seed"]
    extractor, description = _extractor(config, config["data"])
    report["features"] = {"name": extractor.name, "description": description}
    metrics = GenerativeMetrics(
        extractor,
        gen["metrics"],
        batch_size=gen["batch_size"],
        kid=gen["kid"],
        inception_score_splits=gen["inception_score_splits"],
        precision_recall_k=gen["precision_recall_k"],
    )
    reference, cache = feats.cached_extract(
        data_key,
        extractor,
        lambda: x_ref,
        cache_dir=config["cache_dir"],
        keep_features=metrics.keeps_features,
        keep_logits=False,
        batch_size=gen["batch_size"],
    )
    n = gen["samples"] or len(x_ref)
    conditional = model.label is not None
    runs = []
    for steps in gen["steps"]:
        generator = torch.Generator().manual_seed(seed)
        labels = None
        if conditional:  # the reference's label frequencies, as the official code
            order = torch.randperm(n, generator=generator) % len(y_ref)
            labels = y_ref[order]
        stream = generated_batches(
            model,
            n,
            batch_size=gen["batch_size"],
            labels=labels,
            generator=generator,
            sampler=gen["sampler"],
            steps=steps,
        )
        kept: list[torch.Tensor] = []

        def keep_grid(stream=stream, kept=kept):
            for batch in stream:
                if sum(map(len, kept)) < gen["grid"]:
                    kept.append(batch[: gen["grid"] - sum(map(len, kept))].cpu())
                yield batch

        start = time.perf_counter()
        result = metrics.compute(reference, metrics.features(keep_grid()))
        runs.append(
            {
                "sampler": gen["sampler"],
                "steps": steps,
                "samples": n,
                "conditional": conditional,
                "seconds": round(time.perf_counter() - start, 2),
                **result,
            }
        )
        if kept:  # the grid shows the last run's first samples
            images.save_grid(torch.cat(kept), out / "samples.png", columns=10)
    # Real held-out images against the same reference: the floor the numbers above approach
    # (with fewer samples than the runs, so a larger FID bias).
    floor = metrics.compute(reference, metrics.features(x_test))
    report["results"]["generation"] = {
        "held_out_real": {"samples": len(x_test), **floor},
        "reference": {
            "description": f"{len(x_ref)} images of the {config['data']} train split "
            "(the paper and the official code compare with the training set)",
            "cache": str(cache),
        },
        "labels": "class-conditional, labels drawn from the reference split's labels"
        if conditional
        else "unconditional (latents from N(0, I))",
        "runs": runs,
        "grid": f"samples.png: the first {gen['grid']} samples of the {runs[-1]['steps']}-step run",
    }
    if "fid" in gen["metrics"] and len(runs) > 1:
        from lzn.eval import report as rep

        rep.plot_fid_vs_steps(runs, out / "fid_vs_steps.png", floor.get("fid"))


def _bank(model, setting, x_train):
    if setting in (None, "none"):
        return None, "none"
    if setting != "train":
        raise ValueError(f"accuracy bank must be 'train' or 'none', got {setting!r}")
    return model.anchor_bank(x_train), "train split anchors"


def _check_capabilities(model, config: dict) -> None:
    """Refuse metrics the model cannot do before any work starts."""
    for metric in ("generation", "reconstruction"):
        if metric in config and model.image.decoder is None:
            raise ValueError(f"{metric} metrics need an image decoder; this model has none")
    if "accuracy" in config and model.label is None:
        raise ValueError("accuracy needs a label modality; this model has none")


def evaluate(model_dir: str | Path, config: dict, out: Path) -> dict:
    """Run every configured metric of the model in `model_dir`; write the report into `out`."""
    from lzn import LZN
    from lzn.eval import datasets
    from lzn.eval import report as rep
    from lzn.eval.accuracy import accuracy_grid
    from lzn.eval.reconstruction import reconstruction_error
    from lzn.eval.representation import knn, linear_probe

    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    device, seed = config["device"], config["seed"]
    model = LZN.from_pretrained(model_dir, map_location=device).eval()
    _check_capabilities(model, config)
    x_train, y_train, x_test, y_test = datasets.load(config["data"])
    size, channels = model.config["image"]["size"], model.config["image"]["channels"]
    if tuple(x_train.shape[1:]) != (channels, size, size):
        raise ValueError(
            f"the model takes {channels}x{size}x{size} images, {config['data']} has "
            f"{'x'.join(map(str, x_train.shape[1:]))}"
        )
    x_train, x_test = x_train.to(device), x_test.to(device)
    report = {
        "model": {"path": str(model_dir), "name": model.config.get("name", "?")},
        "data": {
            "name": config["data"],
            "description": f"{config['data']}, seeded split (test_fraction 0.2, seed 0): "
            f"{len(x_train)} train / {len(x_test)} test",
            "train": len(x_train),
            "test": len(x_test),
        },
        "seed": seed,
        "config": config,
        "results": {},
        "seconds": {},
    }
    timer = time.perf_counter
    if "generation" in config:
        t = timer()
        key = f"{config['data']}-train-seed0-n{len(x_train)}"
        _generation(model, config, x_train, y_train, x_test, key, out, report)
        report["seconds"]["generation"] = round(timer() - t, 2)
    if "accuracy" in config:
        t = timer()
        acc = config["accuracy"]
        rows = []
        for setting in acc["bank"] if isinstance(acc["bank"], list) else [acc["bank"]]:
            bank, source = _bank(model, setting, x_train)
            rows += accuracy_grid(
                model,
                x_test,
                y_test,
                alphas=acc["alphas"],
                batch_sizes=acc["batch_sizes"],
                bank=bank,
                bank_source=source,
                seed=seed,
            )
        report["results"]["accuracy"] = rows
        if len(rows) > 1:
            rep.plot_accuracy(rows, out / "accuracy.png")
        report["seconds"]["accuracy"] = round(timer() - t, 2)
    if "reconstruction" in config:
        t = timer()
        rec = config["reconstruction"]
        n = min(rec["images"], len(x_train))
        labels = y_train[:n] if model.image.num_classes else None
        report["results"]["reconstruction"] = reconstruction_error(
            model,
            x_train[:n],
            labels=labels,
            repeats=rec["repeats"],
            batch_size=rec["batch_size"],
            sampler=rec["sampler"],
            steps=rec["steps"],
            seed=seed,
        )
        report["seconds"]["reconstruction"] = round(timer() - t, 2)
    if "linear_probe" in config or "knn" in config:
        t = timer()
        f_train = torch.cat(
            [model.embed(x_train[i : i + 500]) for i in range(0, len(x_train), 500)]
        )
        f_test = torch.cat([model.embed(x_test[i : i + 500]) for i in range(0, len(x_test), 500)])
        if "linear_probe" in config:
            lp = dict(config["linear_probe"])
            if lp["weight_decays"] is None:
                lp.pop("weight_decays")
            report["results"]["linear_probe"] = linear_probe(
                f_train, y_train, f_test, y_test, seed=seed, **lp
            )
        if "knn" in config:
            report["results"]["knn"] = knn(f_train, y_train, f_test, y_test, **config["knn"])
        report["seconds"]["representation"] = round(timer() - t, 2)
    report["software"] = rep.software()
    report["seconds"]["total"] = round(timer() - start, 2)
    rep.write(report, out)
    return report


def run(args: argparse.Namespace) -> int:
    config = read_config(args.config)
    if args.device:
        config["device"] = args.device
    out = Path(args.out)
    try:
        report = evaluate(args.model, config, out)
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
        "OUT/report.md, and plots (fid_vs_steps.png, accuracy.png, samples.png). Offline: FID "
        "features default to a shipped classifier for digits and MNIST.",
    )
    parser.add_argument("--model", required=True, help="a save_pretrained folder")
    parser.add_argument("--config", required=True, help="a YAML or JSON evaluation config")
    parser.add_argument("--out", default="lzn-eval", help="output folder (default: lzn-eval)")
    parser.add_argument("--device", default=None, help="override the config's device")
    parser.set_defaults(run=run)
    return parser
