"""`lzn evaluate --model DIR --config FILE --out DIR`: every metric of a saved model, one report.

The config is a small YAML (or JSON) file; a section's presence runs that metric:

    data: null                # digits | mnist; null: the data set the model records
    split_seed: null          # held-out split; null: the model's record (else 0)
    test_fraction: null       # null: the model's record (else 0.2)
    seed: 0                   # draws of the evaluation (samples, latents, probes)
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
      bank: model             # model (exported with it) | train (train split anchors) | none
    reconstruction:
      images: 2000            # the first n training images (all if fewer)
      repeats: 20
      sampler: rk45
      steps: 20
      batch_size: null        # null: all images' latents in one batch, as the paper
    linear_probe:
      augment: false          # false: L-BFGS on frozen features; true: the paper's main protocol
      weight_decays: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]   # augment: false only
      validation_fraction: 0.2                               # augment: false only
      epochs: 100             # augment: true only, as the four below
      batch_size: 256
      lr: 3e-3
      weight_decay: 0.0
      crop_scale: null        # null: [0.8, 1.0] for digits/MNIST, else [0.08, 1.0]
      flip: null              # null: false for digits/MNIST (a mirrored digit is no digit)
    knn: {k: [20, 200], temperature: 0.07}

The split is checked against the one the model was trained on (`lzn.eval.datasets`). Progress
(a line per section, a bar per long phase) goes to stderr (`lzn.progress`).
Wire it into the `lzn` command with `command.add_parser(commands)`.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

from lzn.eval import datasets
from lzn.output_dir import check_output_dir
from lzn.progress import Section
from lzn.progress import bar as progress_bar

BANKS = ("model", "train", "none")
# The augmented probe's settings (linear_probe with augment: true). The paper's ImageNet values
# are epochs 300, batch 8192, lr 3e-4, weight decay 0 (`augmented_probe.PAPER`); with 1.4k-5k
# images a batch of 8192 is one step per epoch, so the batch and lr are scaled to the data.
AUGMENTED_PROBE = {
    "epochs": 100,
    "batch_size": 256,
    "lr": 3e-3,
    "weight_decay": 0.0,
    "crop_scale": None,
    "flip": None,
}
LBFGS_PROBE = ("weight_decays", "validation_fraction")
# Augmentation for small grey digits: a milder crop than ImageNet's (0.08, 1), and no flips.
DIGIT_AUGMENTATION = {"crop_scale": [0.8, 1.0], "flip": False}
NATURAL_AUGMENTATION = {"crop_scale": [0.08, 1.0], "flip": True}  # the paper's (ImageNet)

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
    "accuracy": {"alphas": [1.0, 0.5, 0.0], "batch_sizes": [None], "bank": "model"},
    "reconstruction": {
        "images": 2000,
        "repeats": 20,
        "sampler": "rk45",
        "steps": 20,
        "batch_size": None,
    },
    "linear_probe": {
        "augment": False,
        "weight_decays": None,
        "validation_fraction": 0.2,
        **AUGMENTED_PROBE,
    },
    "knn": {"k": [20, 200], "temperature": 0.07},
}
TOP = {
    "data": None,
    "split_seed": None,
    "test_fraction": None,
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
    if config["data"] is not None and config["data"] not in datasets.NAMES:
        raise ValueError(
            f"{path}: unknown data set {config['data']!r}; the evaluation knows: "
            f"{', '.join(datasets.NAMES)}"
        )
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
        if name == "linear_probe":
            _check_probe_keys(section, path)
    if not any(name in config for name in SECTIONS):
        raise ValueError(f"{path}: no metric to run; add one of the sections {list(SECTIONS)}")
    _check_values(config, path)
    return config


def _check_probe_keys(section: dict, path: Path) -> None:
    """A setting of the other probe protocol would be silently ignored: refuse it by name."""
    augment = section.get("augment", False)
    unused = sorted(set(section) & (set(LBFGS_PROBE) if augment else set(AUGMENTED_PROBE)))
    if unused:
        which = "augment: true (the augmented probe)" if augment else "augment: false (L-BFGS)"
        raise ValueError(f"{path}: linear_probe settings {unused} are not used with {which}")


def _check_values(config: dict, path: Path) -> None:
    """Catch bad values before any metric runs (not after minutes of sampling)."""
    from lzn.eval.generative import METRICS

    def fail(message: str):
        raise ValueError(f"{path}: {message}")

    def number(value, name: str):
        # YAML 1.1 (PyYAML) reads 1e-3 without a dot as a string: accept it as the number meant.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                fail(f"{name} must be a number, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(f"{name} must be a number, got {value!r}")
        return value

    def numbers(section: dict | None, *keys: str) -> None:
        for key in keys if section is not None else ():
            value = section[key]
            if isinstance(value, list):
                section[key] = [number(v, key) for v in value]
            elif value is not None:
                section[key] = number(value, key)

    numbers(config, "test_fraction")
    numbers(config.get("accuracy"), "alphas")
    numbers(config.get("linear_probe"), "weight_decays", "validation_fraction", "lr")
    numbers(config.get("linear_probe"), "weight_decay", "crop_scale")
    numbers(config.get("knn"), "temperature")

    def positive_ints(values, name: str, allow_none: bool = False):
        for v in values if isinstance(values, list) else [values]:
            if not (v is None and allow_none) and (not isinstance(v, int) or v < 1):
                fail(
                    f"{name} must be positive integers{' or null' if allow_none else ''}, got {v!r}"
                )

    if config["split_seed"] is not None and (
        not isinstance(config["split_seed"], int) or config["split_seed"] < 0
    ):
        fail(f"split_seed must be a non-negative integer or null, got {config['split_seed']!r}")
    fraction = config["test_fraction"]
    if fraction is not None and (not isinstance(fraction, (int, float)) or not 0 < fraction < 1):
        fail(f"test_fraction must be a number in (0, 1) or null, got {fraction!r}")
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
        if not isinstance(acc["bank"], list):
            acc["bank"] = [acc["bank"]]
        acc["bank"] = ["none" if bank is None else bank for bank in acc["bank"]]
        for bank in acc["bank"]:
            if bank not in BANKS:
                fail(f"accuracy bank must be model, train or none, got {bank!r}")
        if any(not isinstance(a, (int, float)) or a < 0 for a in acc["alphas"]):
            fail(f"accuracy alphas must be non-negative numbers, got {acc['alphas']}")
        positive_ints(acc["batch_sizes"], "accuracy batch_sizes", allow_none=True)
    rec = config.get("reconstruction")
    if rec is not None:
        positive_ints([rec["images"], rec["repeats"]], "reconstruction images and repeats")
    if "knn" in config:
        positive_ints(config["knn"]["k"], "knn k")
    probe = config.get("linear_probe")
    if probe is not None:
        if not isinstance(probe["augment"], bool):
            fail(f"linear_probe augment must be true or false, got {probe['augment']!r}")
        positive_ints([probe["epochs"], probe["batch_size"]], "linear_probe epochs and batch_size")
        if not isinstance(probe["lr"], (int, float)) or probe["lr"] <= 0:
            fail(f"linear_probe lr must be a positive number, got {probe['lr']!r}")
        wd = probe["weight_decay"]
        if not isinstance(wd, (int, float)) or wd < 0:
            fail(f"linear_probe weight_decay must be a non-negative number, got {wd!r}")
        if probe["flip"] not in (None, True, False):
            fail(f"linear_probe flip must be true, false or null, got {probe['flip']!r}")
        if probe["crop_scale"] is not None:
            from lzn.eval.augment import check_scale

            try:
                check_scale(probe["crop_scale"])
            except ValueError as e:
                fail(f"linear_probe {e}")


def _extractor(config: dict, split: datasets.EvaluationSplit):
    from lzn.eval import classifier, features, inception

    if config["features"] == "inception":
        extractor = inception.InceptionFeatures(config["inception_weights"], config["device"])
        return extractor, f"TF-Inception pool3 (torch-fidelity port, weights {extractor.weights})"
    if config["features"] == "pixels":
        return features.pixels(), "raw pixels"
    if split.data not in classifier.SHIPPED:
        raise ValueError(
            f"no shipped classifier for {split.data!r} (there are: "
            f"{', '.join(classifier.SHIPPED)}); use features: inception"
        )
    extractor = classifier.ClassifierFeatures(split.data, config["device"])
    acc = extractor.metadata["training"]["test_accuracy"]
    description = (
        f"the shipped {split.data} classifier's 128-d penultimate layer ({extractor.name}, "
        f"test accuracy {acc:.2%}; docs/evaluation.md)"
    )
    if (split.test_fraction, split.seed) != (datasets.DEFAULT_TEST_FRACTION, datasets.DEFAULT_SEED):
        description += (
            f"; it was trained on the split test_fraction {datasets.DEFAULT_TEST_FRACTION:g}, "
            f"seed {datasets.DEFAULT_SEED}, so some of these held-out images were its training "
            "images (the held-out floor is biased low)"
        )
    return extractor, description


def _generation(model, config, split, x_ref, y_ref, x_test, out, report, progress) -> None:
    from lzn import images
    from lzn.eval import features as feats
    from lzn.eval.generative import GenerativeMetrics, generated_batches

    gen, seed = config["generation"], config["seed"]
    extractor, description = _extractor(config, split)
    report["features"] = {"name": extractor.name, "description": description}
    metrics = GenerativeMetrics(
        extractor,
        gen["metrics"],
        batch_size=gen["batch_size"],
        kid=gen["kid"],
        inception_score_splits=gen["inception_score_splits"],
        precision_recall_k=gen["precision_recall_k"],
    )
    # The key names the split: another split's train images are other images.
    key = f"{split.data}-train-frac{split.test_fraction:g}-seed{split.seed}-n{len(x_ref)}"
    reference, cache = feats.cached_extract(
        key,
        extractor,
        lambda: x_ref,
        cache_dir=config["cache_dir"],
        keep_features=metrics.keeps_features,
        keep_logits=False,
        batch_size=gen["batch_size"],
        progress=progress,
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
        generated = metrics.features(
            keep_grid(),
            progress=progress,
            desc=f"samples ({gen['sampler']}, {steps} steps)",
            total=n,
        )
        result = metrics.compute(reference, generated)
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
    floor = metrics.compute(
        reference, metrics.features(x_test, progress=progress, desc="held-out features")
    )
    report["results"]["generation"] = {
        "held_out_real": {"samples": len(x_test), **floor},
        "reference": {
            "description": f"{len(x_ref)} images of the {split.data} train split "
            f"(test_fraction {split.test_fraction:g}, seed {split.seed}; the paper and the "
            "official code compare with the training set)",
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


def _bank(model, setting: str, x_train):
    """(anchors or None, source) of an accuracy bank setting (model | train | none)."""
    if setting == "none":
        return None, "none"
    if setting == "train":
        return model.anchor_bank(x_train), "train split anchors"
    balanced = getattr(model, "bank_labels", None) is not None
    return model.bank, "model's exported bank" + (", class-balanced" if balanced else "")


def _check_capabilities(model, config: dict) -> None:
    """Refuse metrics the model cannot do before any work starts."""
    for metric in ("generation", "reconstruction"):
        if metric in config and model.image.decoder is None:
            raise ValueError(f"{metric} metrics need an image decoder; this model has none")
    if "accuracy" in config:
        if model.label is None:
            raise ValueError("accuracy needs a label modality; this model has none")
        if "model" in config["accuracy"]["bank"] and getattr(model, "bank", None) is None:
            raise ValueError(
                "accuracy bank: model, but this model carries no anchor bank (bank.safetensors; "
                "older models have none): use bank: train (anchors of the train split) or "
                "bank: none (the batch alone, the paper's Alg. 9)"
            )


def _probe_augmentation(config: dict, data: str) -> dict:
    """The probe's crop scale and flip: the config's, or the defaults for the data set."""
    lp = config["linear_probe"]
    defaults = DIGIT_AUGMENTATION if data in ("digits", "mnist") else NATURAL_AUGMENTATION
    return {
        "crop_scale": lp["crop_scale"] if lp["crop_scale"] is not None else defaults["crop_scale"],
        "flip": lp["flip"] if lp["flip"] is not None else defaults["flip"],
    }


@torch.no_grad()
def _embed(model, images, progress: bool, desc: str, batch_size: int = 500):
    with progress_bar(len(images), desc, enabled=progress, unit="image") as bar:
        parts = []
        for i in range(0, len(images), batch_size):
            parts.append(model.embed(images[i : i + batch_size]))
            bar.update(len(parts[-1]))
    return torch.cat(parts)


def _representation(model, config, split, data, progress) -> dict:
    from lzn.eval.augmented_probe import augmented_linear_probe
    from lzn.eval.representation import knn, linear_probe

    x_train, y_train, x_test, y_test = data
    seed, results = config["seed"], {}
    lp = config.get("linear_probe")
    needs_frozen = "knn" in config or (lp is not None and not lp["augment"])
    if needs_frozen:
        f_train = _embed(model, x_train, progress, "features (train)")
        f_test = _embed(model, x_test, progress, "features (test)")
    if lp is not None and lp["augment"]:
        results["linear_probe"] = augmented_linear_probe(
            model.embed,
            x_train,
            y_train,
            x_test,
            y_test,
            epochs=lp["epochs"],
            batch_size=lp["batch_size"],
            lr=lp["lr"],
            weight_decay=lp["weight_decay"],
            seed=seed,
            progress=progress,
            **_probe_augmentation(config, split.data),
        )
    elif lp is not None:
        options = {"validation_fraction": lp["validation_fraction"]}
        if lp["weight_decays"] is not None:
            options["weight_decays"] = lp["weight_decays"]
        results["linear_probe"] = linear_probe(
            f_train, y_train, f_test, y_test, seed=seed, progress=progress, **options
        )
    if "knn" in config:
        results["knn"] = knn(f_train, y_train, f_test, y_test, **config["knn"])
    return results


def evaluate(model_dir: str | Path, config: dict, out: Path, *, progress: bool = False) -> dict:
    """Run every configured metric of the model in `model_dir`; write the report into `out`.

    With `progress` (the command's setting), a line per section and a bar per long phase go to
    stderr (`lzn.progress`); the library call is quiet."""
    from lzn import LZN
    from lzn.eval import report as rep
    from lzn.eval.accuracy import accuracy_grid
    from lzn.eval.reconstruction import reconstruction_error

    start = time.perf_counter()
    device, seed = config["device"], config["seed"]
    model = LZN.from_pretrained(model_dir, map_location=device).eval()
    _check_capabilities(model, config)
    split = datasets.evaluation_split(
        getattr(model, "training_data", None),
        data=config["data"],
        test_fraction=config["test_fraction"],
        seed=config["split_seed"],
    )
    x_train, y_train, x_test, y_test = datasets.load(
        split.data, test_fraction=split.test_fraction, seed=split.seed
    )
    size, channels = model.config["image"]["size"], model.config["image"]["channels"]
    if tuple(x_train.shape[1:]) != (channels, size, size):
        raise ValueError(
            f"the model takes {channels}x{size}x{size} images, {split.data} has "
            f"{'x'.join(map(str, x_train.shape[1:]))}"
        )
    out.mkdir(parents=True, exist_ok=True)
    x_train, x_test = x_train.to(device), x_test.to(device)
    report = {
        "model": {"path": str(model_dir), "name": model.config.get("name", "?")},
        "data": {
            "name": split.data,
            "description": f"{split.describe()}: {len(x_train)} train / {len(x_test)} test",
            "train": len(x_train),
            "test": len(x_test),
            "split": split.as_dict(),
        },
        "seed": seed,
        "config": config,
        "results": {},
        "seconds": {},
    }

    def section(name: str, detail: str) -> Section:
        return Section(name, detail, enabled=progress, prefix="lzn evaluate: ")

    if progress:
        print(f"lzn evaluate: {report['data']['description']}", file=sys.stderr, flush=True)
    if "generation" in config:
        gen = config["generation"]
        n = gen["samples"] or len(x_train)
        detail = (
            f"{len(gen['steps'])} run(s) of {n} samples ({gen['sampler']}, steps {gen['steps']})"
        )
        with section("generation", detail) as s:
            _generation(model, config, split, x_train, y_train, x_test, out, report, progress)
        report["seconds"]["generation"] = s.seconds
    if "accuracy" in config:
        acc = config["accuracy"]
        detail = f"banks {acc['bank']}, alphas {acc['alphas']}, batch sizes {acc['batch_sizes']}"
        with section("accuracy", detail) as s:
            rows = []
            for setting in acc["bank"]:
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
                    progress=progress,
                )
            report["results"]["accuracy"] = rows
            if len(rows) > 1:
                rep.plot_accuracy(rows, out / "accuracy.png")
        report["seconds"]["accuracy"] = s.seconds
    if "reconstruction" in config:
        rec = config["reconstruction"]
        n = min(rec["images"], len(x_train))
        detail = f"{n} images x {rec['repeats']} draws ({rec['sampler']}, {rec['steps']} steps)"
        with section("reconstruction", detail) as s:
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
                progress=progress,
            )
        report["seconds"]["reconstruction"] = s.seconds
    if "linear_probe" in config or "knn" in config:
        parts = ["knn"] if "knn" in config else []
        if "linear_probe" in config:
            lp = config["linear_probe"]
            how = f"augmented, {lp['epochs']} epochs" if lp["augment"] else "L-BFGS"
            parts.insert(0, f"linear_probe ({how})")
        with section("representation", ", ".join(parts)) as s:
            data = (x_train, y_train, x_test, y_test)
            report["results"].update(_representation(model, config, split, data, progress))
        report["seconds"]["representation"] = s.seconds
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
        "OUT/report.md, and plots (fid_vs_steps.png, accuracy.png, samples.png). Offline: FID "
        "features default to a shipped classifier for digits and MNIST.",
    )
    parser.add_argument("--model", required=True, help="a save_pretrained folder")
    parser.add_argument("--config", required=True, help="a YAML or JSON evaluation config")
    parser.add_argument("--out", default="lzn-eval", help="output folder (default: lzn-eval)")
    parser.add_argument("--device", default=None, help="override the config's device")
    parser.set_defaults(run=run)
    return parser
