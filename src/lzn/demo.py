"""`lzn demo`: train the digits-joint model on scikit-learn's digits, on CPU, in a few minutes.

One model does both tasks of case study 3: classification (image encoder + label decoder) and
class-conditional generation (label encoder + image decoder). The demo trains it with the same
Lightning module as the paper recipes, then writes to its output folder:

    model/          the EMA weights, their anchor bank and the split (LZN.from_pretrained)
    report.json     held-out accuracy (one image at a time and as one batch), sample accuracy,
                    protocol and versions; report.txt
    samples.png     10 generated samples per class
    curves.png      the training losses
    latents.png     the held-out latents (zone centres) in 2-D (PCA), coloured by class

Sample accuracy is the fraction of class-conditional samples that an independent classifier (an
SVC on the real training digits) reads as the requested digit.
"""

from __future__ import annotations

import csv
import json
import platform
import time
from pathlib import Path

import torch

import lzn
from lzn import images, presets
from lzn.data import DigitsData, digits
from lzn.output_dir import check_output_dir
from lzn.train.export import export
from lzn.train.module import JointModule

PRESET = "digits-joint"
# 400 steps: 96.7% held-out accuracy in about 4 minutes on 2 cores (docs/results.md).
STEPS, QUICK_STEPS = 400, 40
Data = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # x/y train, x/y test
SAMPLES_PER_CLASS = 10


def train(
    out: Path, steps: int, seed: int, verbose: bool = False
) -> tuple[JointModule, DigitsData]:
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger

    from lzn.train.callbacks import StepProgressBar
    from lzn.train.quiet import quiet_lightning

    L.seed_everything(seed, verbose=False)
    recipe = presets.recipe(PRESET)
    module = JointModule(PRESET, recipe={"iterations": dict.fromkeys(recipe["iterations"], steps)})
    data = DigitsData(batch_size=recipe["batch_size"], split_seed=seed)
    with quiet_lightning(verbose):  # no banners, tips or deprecation notices
        trainer = L.Trainer(
            max_steps=steps,
            accelerator="cpu",
            devices=1,
            logger=CSVLogger(out, name="logs", version=""),
            log_every_n_steps=5,
            callbacks=[StepProgressBar()],
            enable_checkpointing=False,
            enable_model_summary=False,
            default_root_dir=out,
        )
        trainer.fit(module, data)
    return module, data


def _sample_accuracy(samples: torch.Tensor, labels: torch.Tensor, x_train, y_train) -> float:
    from sklearn.svm import SVC

    svc = SVC().fit(x_train.flatten(1).numpy(), y_train.numpy())
    predicted = svc.predict(samples.flatten(1).numpy())
    return float((torch.tensor(predicted) == labels).float().mean())


def evaluate(
    model: lzn.LZN, data: Data, seed: int, sampler: str = "rk45"
) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Held-out accuracy and sample accuracy of a saved model (with its anchor bank)."""
    x_train, y_train, x_test, y_test = data
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    batch = model.classify(x_test)  # the whole test split as one batch, plus the model's bank
    single = torch.cat([model.classify(x) for x in x_test.split(1)])  # each image alone
    labels = torch.arange(10).repeat_interleave(SAMPLES_PER_CLASS)
    samples = model.generate(len(labels), labels, sampler=sampler, steps=10, generator=gen)
    with torch.no_grad():
        centres = model.latents(x_test, alpha=0.0, bank="model")
    bank = f"the model's bank ({len(model.bank)} class-balanced training images' anchors)"
    report = {
        "accuracy": float((batch == y_test).float().mean()),
        "single_image_accuracy": float((single == y_test).float().mean()),
        "sample_accuracy": _sample_accuracy(samples, labels, x_train, y_train),
        "protocol": {
            "data": f"scikit-learn digits, {len(x_train)} train / {len(x_test)} held-out test "
            f"(split seed {seed})",
            "accuracy": "image encoder + label decoder, alpha = 0 (zone centres), zones cut by "
            f"{bank} plus the {len(x_test)} test images as one batch, uniform class weights",
            "single_image_accuracy": "the same, each test image classified alone (its zone "
            "cut by the bank plus itself), as `lzn classify one.png` does",
            "sample_accuracy": f"{SAMPLES_PER_CLASS} samples per class ({sampler}), read by an "
            "SVC trained on the real training digits",
        },
    }
    return report, samples, centres


def _save_curves(metrics_csv: Path, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[int, float]]] = {}
    with open(metrics_csv) as f:
        for row in csv.DictReader(f):
            for key in ("loss/rf", "loss/label"):
                if row.get(key):
                    series.setdefault(key, []).append((int(row["step"]), float(row[key])))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, points in series.items():
        ax.plot(*zip(*points, strict=True), label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.set_title("digits-joint training")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _save_latents(centres: torch.Tensor, labels: torch.Tensor, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centred = centres - centres.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    xy = (centred @ v[:2].T).numpy()
    fig, ax = plt.subplots(figsize=(5, 5))
    points = ax.scatter(xy[:, 0], xy[:, 1], c=labels.numpy(), cmap="tab10", s=8)
    ax.legend(*points.legend_elements(), title="digit", fontsize=7, loc="best")
    ax.set_title("held-out latents (zone centres), PCA")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(
    out: Path, *, quick: bool = False, seed: int = 0, steps: int | None = None,
    verbose: bool = False,
) -> dict:  # fmt: skip
    check_output_dir(out, "--out")  # before minutes of training, not after
    out.mkdir(parents=True, exist_ok=True)
    steps = steps or (QUICK_STEPS if quick else STEPS)
    data = digits.load(seed=seed)
    start = time.perf_counter()
    module, data_module = train(out, steps, seed, verbose)
    train_seconds = time.perf_counter() - start
    export(module, data_module, out / "model")
    model = lzn.LZN.from_pretrained(out / "model")  # evaluate what was saved
    # --quick: a 10-step Euler sampler instead of RK45, whose adaptive steps are many on an
    # untrained decoder.
    report, samples, centres = evaluate(model, data, seed, "euler" if quick else "rk45")
    report.update(
        {
            "preset": PRESET,
            "steps": steps,
            "seed": seed,
            "train_seconds": train_seconds,
            "total_seconds": time.perf_counter() - start,
            "weights": "EMA",
            "lzn_version": lzn.__version__,
            "torch_version": torch.__version__,
            "machine": platform.platform(),
            "threads": torch.get_num_threads(),
        }
    )
    images.save_grid(samples, out / "samples.png", columns=SAMPLES_PER_CLASS)  # a row per class
    _save_curves(out / "logs" / "metrics.csv", out / "curves.png")
    _save_latents(centres, data[3], out / "latents.png")
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.txt").write_text(summary(report) + "\n")
    return report


def summary(report: dict) -> str:
    return "\n".join(
        [
            f"{report['preset']}: {report['steps']} steps in {report['train_seconds']:.0f} s "
            f"({report['threads']} threads)",
            f"held-out accuracy: {report['accuracy']:.1%} as one batch, "
            f"{report['single_image_accuracy']:.1%} one image at a time",
            f"class-conditional samples read as the requested digit: "
            f"{report['sample_accuracy']:.1%}",
        ]
    )
