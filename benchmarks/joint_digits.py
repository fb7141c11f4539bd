"""Case study 3 table: one LZN model for classification and class-conditional generation, on
scikit-learn's digits, against a supervised classifier and a conditional rectified flow.

Every arm starts from the `digits-joint` preset (NCSN++ nf 32 encoder and decoder, latent 16,
10 label anchors) with its recipe (Adam, the preset's learning rates, warm-up, EMA, gradient
clipping), the same data, steps, batch and seeds, and is trained by an `LZNModule`:

- lzn: `JointModule`, the paper's case study 3: the decoder conditioned on the image latents and
  the one-hot label, the image latents aligned to the label anchors. Classification: image
  encoder + label decoder with the training images' anchors as the bank (what `lzn fit` exports);
  generation: latents in the label's zone, decoded with the label.
- ce: the same image encoder trained with cross-entropy, its anchors classified by a bias-free
  linear layer (the label anchors' matrix as weights, the same parameters and learning rate as
  lzn's label part); no generation.
- cond-rf: `GenerationModule` with the decoder's latent input off: a class-conditional rectified
  flow (one-hot label only); no classification.

Accuracy on the 359 held-out digits; class-conditional samples (`--samples` images, equal counts
per class, RK45 by default) from the EMA weights, scored by `digits_generators.Scorer` (a
classifier trained on MNIST alone), including the share it reads as the requested digit.

    python benchmarks/joint_digits.py                             # the table: 3 seeds, 3 arms
    python benchmarks/joint_digits.py --seeds 0 --steps 100 --out /tmp/cs3
    python benchmarks/joint_digits.py --arms lzn --seeds 0 --label-log --out /tmp/screen  # a screen

The lzn arm is configs/digits-joint.yaml (what `lzn demo` trains), cond-rf is
configs/baselines/digits-joint-rf.yaml; ce exists only here.

Runs resume from `--out`, and models are kept in <--out>/models/, as in `generation_digits.py`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

import digits_generators
import runs
from digits_generators import Scorer, keep_model, run_table, sample, train
from lzn import presets
from lzn.train import recipe as recipes
from lzn.train.module import GenerationModule, JointModule, LZNModule
from lzn.train.recipe import JointRecipe

ARMS = ("lzn", "ce", "cond-rf")
PRESET = "digits-joint"
DEFAULT_OUT = Path("benchmarks/results/joint_digits")  # kept in git: the table resumes
METRICS = ("accuracy", "fid", "kid", "precision", "recall", "read_as")
CLASSES = 10


class CrossEntropyModule(LZNModule):
    """The image encoder with a bias-free linear classifier on its anchors (the label anchors'
    matrix as weights), trained with cross-entropy: the supervised baseline on LZN's mechanics
    (optimiser groups, warm-up, clipping, EMA, seeding)."""

    def losses(self, batch) -> dict[str, torch.Tensor]:
        images, labels = batch
        return {"ce": F.cross_entropy(self.logits(images), labels)}

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.image.encode(images) @ self.model.label.anchors.T


def build(arm: str, s: dict) -> LZNModule:
    """The arm's module; weights from the current seed."""
    recipe = {"lr": dict(s["lr"]), "iterations": dict.fromkeys(s["lr"], s["steps"]),
              "ema": s["ema"], "warmup_steps": s["warmup_steps"]}  # fmt: skip
    if arm == "lzn":
        # The label loss as recorded (`label_settings`): the paper's form at weight 1 when absent.
        recipe["label_loss_weight"] = s.get("label_loss_weight", 1.0)
        recipe["label_log"] = s.get("label_log", False)
        return JointModule(PRESET, recipe=recipe)
    if arm == "cond-rf":
        return GenerationModule(PRESET, model={"image": {"decoder": {"latent_input": False}}},
                                recipe=recipe)  # fmt: skip
    config = presets.config(PRESET)
    config["image"]["decoder"] = None  # a classifier: no decoder, no generation
    for key in ("lr", "iterations"):
        recipe[key].pop("decoder", None)
    return CrossEntropyModule(model=config, recipe=recipe)


def settings(arm: str, args: argparse.Namespace, scorer: Scorer) -> dict:
    lr = {"encoder": args.lr_encoder, "decoder": args.lr_decoder, "label": args.lr_label}
    s = {"preset": PRESET, "steps": args.steps, "batch": args.batch, "lr": lr, "ema": args.ema,
         "warmup_steps": args.warmup}  # fmt: skip
    if arm == "ce":  # a classifier: no decoder to train, nothing to sample
        del lr["decoder"]
        return s
    if arm == "lzn":
        s |= label_settings(args)
    return s | {"samples": args.samples, "sampler": args.sampler,
                "sample_steps": args.sample_steps, "scorer": scorer.name}  # fmt: skip


def label_settings(args: argparse.Namespace) -> dict:
    """The lzn arm's label loss: the preset's unless a screen changes it, recorded only where it
    is not the paper's (-mean(max P) at weight 1), as the first runs recorded it."""
    preset = recipes.resolve(JointRecipe, PRESET, JointRecipe())  # what JointModule would run
    weight = preset.label_loss_weight if args.label_loss_weight is None else args.label_loss_weight
    log = preset.label_log if args.label_log is None else args.label_log
    return ({"label_loss_weight": weight} if weight != 1.0 else {}) | (
        {"label_log": True} if log else {}
    )


def run_one(arm: str, seed: int, s: dict, scorer: Scorer, models: Path) -> dict:
    L.seed_everything(seed, verbose=False)
    module = build(arm, s)
    train_seconds, curve = train(module, s["steps"], s["batch"])
    record = {"method": arm, "seed": seed, "settings": s}
    record["model"] = keep_model(module, models / f"{arm}-seed{seed}")
    model = module.model
    with module.ema.applied(model), torch.no_grad():
        model.eval()
        if arm == "lzn":
            bank = model.anchor_bank(scorer.x_train)  # all 1438: what `lzn fit` exports
            predicted = model.classify(scorer.x_test, bank=bank)
        elif arm == "ce":
            predicted = module.logits(scorer.x_test).argmax(1)
        if arm != "cond-rf":
            record["accuracy"] = float((predicted == scorer.y_test).double().mean())
        if arm != "ce":
            labels = torch.arange(s["samples"]) % CLASSES
            images, record["sample_seconds"] = sample(
                model, s["samples"], seed, s["sampler"], s["sample_steps"], labels
            )
            record |= scorer.score(images) | {"read_as": scorer.read_as(images, labels)}
    return record | {
        "train_seconds": train_seconds, "loss_curve": curve,
        "train_images": len(scorer.x_train), "test_images": len(scorer.x_test),
        "machine": runs.machine(), "date": runs.now(),
    }  # fmt: skip


def show(r: dict) -> str:
    parts = [f"accuracy {r['accuracy']:.4f}"] if "accuracy" in r else []
    if "fid" in r:
        parts += [f"FID {r['fid']:.3f}", f"KID {1e3 * r['kid']:.2f}e-3",
                  f"read as asked {r['read_as']:.3f}",
                  f"sampling {r['sample_seconds']:.0f} s"]  # fmt: skip
    return "  ".join([*parts, f"train {r['train_seconds']:.0f} s"])


def summary(records: list[dict]) -> dict[str, dict]:
    return runs.summarise(records, METRICS, ("train_seconds", "sample_seconds"))


def verdicts(rows: dict[str, dict]) -> list[str]:
    lines = []
    if "accuracy" in rows.get("lzn", {}) and "accuracy" in rows.get("ce", {}):
        lzn, ce = rows["lzn"]["accuracy"], rows["ce"]["accuracy"]
        gap = 100 * (ce["mean"] - lzn["mean"])
        within = "within" if gap <= 1 else "not within"
        lines.append(
            f"Accuracy: LZN {100 * lzn['mean']:.2f}% against cross-entropy "
            f"{100 * ce['mean']:.2f}% ({gap:+.2f} points for cross-entropy): {within} 1 point."
        )
    if "fid" in rows.get("lzn", {}) and "fid" in rows.get("cond-rf", {}):
        lzn, rf = rows["lzn"]["fid"], rows["cond-rf"]["fid"]
        spread = max(lzn["std"], rf["std"])
        outcome = "at or below" if lzn["mean"] <= rf["mean"] else "above"
        lines.append(
            f"Conditional FID: LZN {lzn['mean']:.3f} against the conditional RF "
            f"{rf['mean']:.3f}: {outcome} the baseline (seed spread {spread:.3f})."
        )
    return lines


def table(records: list[dict], real: dict, protocol: str, command: str, date: str) -> str:
    rows = summary(records)
    s = next(r["settings"] for r in records if "samples" in r["settings"])
    scale = {"accuracy": 100.0, "fid": 1.0, "kid": 1e3, "precision": 1.0, "recall": 1.0,
             "read_as": 100.0}  # fmt: skip
    head = ["arm", "accuracy %", "FID", "KID x1e3", "precision", "recall", "read as asked %",
            "train s/run", "sampling s/run"]  # fmt: skip
    about = [
        f"Training: preset {s['preset']}, {s['steps']} steps of batch {s['batch']}, lr "
        f"{s['lr']}, warm-up {s['warmup_steps']}, EMA {s['ema']}; {s['samples']} "
        f"class-conditional samples ({s['sampler']}, equal counts per class) from the EMA "
        "weights; accuracy on the 359 held-out digits.",
        f"Scoring: {protocol}; 'read as asked': the share of samples that classifier reads as "
        "the requested digit.",
    ]
    title = "Case study 3: classification and conditional generation in one model, digits"
    lines = runs.table_head(title, about, records, command, date, head)
    for arm, row in rows.items():
        cells = [arm, *(runs.cell(row, m, scale[m], 2 if scale[m] == 100 else 3) for m in METRICS)]
        sampling = f"{row['sample_seconds']:.0f}" if "fid" in row else "-"
        cells += [f"{row['train_seconds']:.0f}", sampling]
        lines.append("| " + " | ".join(cells) + " |")
    real_cells = ["real (training digits)", "-"]
    real_cells += [f"{scale[m] * real[m]:.{2 if scale[m] == 100 else 3}f}" for m in METRICS[1:]]
    lines += [
        "| " + " | ".join([*real_cells, "", ""]) + " |",
        "",
        f"The last row scores {s['samples']} real training digits the same way, for scale (read "
        "as asked: the classifier's accuracy on them). It is not a floor: samples can score "
        "lower (FID is noisy at 359 reference images).",
        "",
        *(f"**{line}**" for line in verdicts(rows)),
    ]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    lrs = {"encoder": 1e-3, "decoder": 2e-3, "label": 1e-3}  # the preset's
    # 400 steps: the preset's (and `lzn demo`'s) budget.
    p = digits_generators.parser(__doc__, DEFAULT_OUT, ARMS, 400, lrs)
    p.add_argument(
        "--label-loss-weight", type=float, default=None,
        help="lzn arm: the label loss's weight (default: the preset's)",
    )  # fmt: skip
    form = p.add_mutually_exclusive_group()
    form.add_argument(
        "--label-log", action="store_const", const=True, default=None,
        help="lzn arm: the label loss's log form, -mean(max log P) (default: the preset's)",
    )  # fmt: skip
    form.add_argument(
        "--paper-label-loss", action="store_const", const=False, dest="label_log",
        help="lzn arm: the paper's form of the label loss, -mean(max P)",
    )  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> list[dict]:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    if args.samples % CLASSES:
        raise ValueError(f"--samples must be a multiple of {CLASSES} (equal counts per class)")
    records = run_table("joint_digits.py", args, argv, settings, run_one, table, summary, show)
    print(*verdicts(summary(records)), sep="\n")
    return records


if __name__ == "__main__":
    main()
