"""Case study 1 table: a rectified flow with and without LZN's latent, on scikit-learn's digits.

Both arms are `lzn.train.GenerationModule` on the `digits-generation` preset (NCSN++ nf 32
encoder and decoder, latent 16) with the same recipe, data, steps and seeds; the only difference
is the decoder's `latent_input`:

- rf: a plain rectified flow (the decoder takes no latent; the encoder is built but unused);
- lzn: RF + LZN, the decoder conditioned on the latents of the batch's images (the paper's
  case study 1), and unconditional samples decoded from z ~ N(0, I).

Training: the 1438 training digits (split seed 0), batch 256, Adam with the preset's learning
rates, warm-up, EMA and gradient clipping, `--steps` steps. Samples: `--samples` images from the
EMA weights (RK45 by default, as the paper samples its rectified flows). Scoring
(`digits_generators.Scorer`): a classifier trained on MNIST alone, against the 359 held-out digits.

    python benchmarks/generation_digits.py                        # the table: 3 seeds, 2 arms
    python benchmarks/generation_digits.py --seeds 0 --steps 100 --out /tmp/cs1

Each (arm, seed) run writes `{arm}-seed{seed}.json` into --out as it ends, and its EMA model into
<--out>/models/{arm}-seed{seed}/ (ignored by git); a later invocation with the same --out reuses the
records (and refuses those made with other settings). Then
`results.json` and `results.md` (the table) are written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lightning as L

import digits_generators
import runs
from digits_generators import Scorer, keep_model, run_table, sample, train

ARMS = ("rf", "lzn")
PRESET = "digits-generation"
DEFAULT_OUT = Path("benchmarks/results/generation_digits")  # kept in git: the table resumes
METRICS = ("fid", "kid", "precision", "recall")


def settings(arm: str, args: argparse.Namespace, scorer: Scorer) -> dict:
    return {
        "preset": PRESET, "latent_input": arm == "lzn", "steps": args.steps, "batch": args.batch,
        "lr": {"encoder": args.lr_encoder, "decoder": args.lr_decoder}, "ema": args.ema,
        "warmup_steps": args.warmup, "samples": args.samples, "sampler": args.sampler,
        "sample_steps": args.sample_steps, "scorer": scorer.name,
    }  # fmt: skip


def run_one(arm: str, seed: int, s: dict, scorer: Scorer, models: Path) -> dict:
    from lzn.train.module import GenerationModule

    L.seed_everything(seed, verbose=False)
    recipe = {
        "lr": s["lr"], "iterations": dict.fromkeys(s["lr"], s["steps"]), "ema": s["ema"],
        "warmup_steps": s["warmup_steps"],
    }  # fmt: skip
    model = {"image": {"decoder": {"latent_input": s["latent_input"]}}}
    module = GenerationModule(PRESET, model=model, recipe=recipe)
    train_seconds, curve = train(module, s["steps"], s["batch"])
    model_dir = keep_model(module, models / f"{arm}-seed{seed}")
    with module.ema.applied(module.model):
        images, sample_seconds = sample(
            module.model, s["samples"], seed, s["sampler"], s["sample_steps"]
        )
    return {
        "method": arm, "seed": seed, "settings": s, **scorer.score(images),
        "train_seconds": train_seconds, "sample_seconds": sample_seconds, "loss_curve": curve,
        "model": model_dir,
        "train_images": len(scorer.x_train), "test_images": len(scorer.x_test),
        "machine": runs.machine(), "date": runs.now(),
    }  # fmt: skip


def show(r: dict) -> str:
    return (
        f"FID {r['fid']:.3f}  KID {1e3 * r['kid']:.2f}e-3  precision {r['precision']:.3f}  "
        f"recall {r['recall']:.3f}  train {r['train_seconds']:.0f} s  "
        f"sampling {r['sample_seconds']:.0f} s"
    )


def summary(records: list[dict]) -> dict[str, dict]:
    """Per arm: each metric by seed, its mean and standard deviation over seeds, wall times."""
    return runs.summarise(records, METRICS, ("train_seconds", "sample_seconds"))


def verdict(rows: dict[str, dict]) -> str:
    if not {"rf", "lzn"} <= rows.keys():
        return "(both arms are needed for a verdict)"
    rf, lzn = rows["rf"]["fid"], rows["lzn"]["fid"]
    gap, spread = rf["mean"] - lzn["mean"], max(rf["std"], lzn["std"])
    if gap > spread:
        return f"RF+LZN has the lower FID by {gap:.3f}, more than the seed spread ({spread:.3f})."
    if gap > 0:
        return (
            f"RF+LZN has the lower FID by {gap:.3f}, within the seed spread ({spread:.3f}): "
            "not a measured gain."
        )
    return f"RF+LZN loses: its FID is higher by {-gap:.3f} (seed spread {spread:.3f})."


def table(records: list[dict], real: dict, protocol: str, command: str, date: str) -> str:
    rows = summary(records)
    seeds = sorted({r["seed"] for r in records})
    s = records[0]["settings"]
    scale = {"fid": 1.0, "kid": 1e3, "precision": 1.0, "recall": 1.0}
    head = ["arm", *(f"FID s{x}" for x in seeds), "FID", "KID x1e3", "precision", "recall",
            "train s/run", "sampling s/run"]  # fmt: skip
    about = [
        f"Training: preset {s['preset']}, {s['steps']} steps of batch {s['batch']}, lr "
        f"{s['lr']}, warm-up {s['warmup_steps']}, EMA {s['ema']}; {s['samples']} samples "
        f"({s['sampler']}) from the EMA weights.",
        f"Scoring: {protocol}.",
    ]
    title = "Case study 1: rectified flow with and without LZN, scikit-learn digits"
    lines = runs.table_head(title, about, records, command, date, head)
    for arm, row in rows.items():
        cells = [arm, *(f"{row['fid']['by_seed'].get(x, float('nan')):.3f}" for x in seeds)]
        cells += [runs.cell(row, metric, scale[metric]) for metric in METRICS]
        cells += [f"{row['train_seconds']:.0f}", f"{row['sample_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    n = s["samples"]
    real_cells = ["real (training digits)", *("" for _ in seeds)]
    real_cells += [f"{scale[m] * real[m]:.3f}" for m in METRICS] + ["", ""]
    lines += [
        "| " + " | ".join(real_cells) + " |",
        "",
        f"The last row scores {n} real training digits the same way, for scale: what a "
        "generator that reproduced its training set would get. It is not a floor: samples can "
        "score lower (FID is noisy at 359 reference images).",
        "",
        f"**{verdict(rows)}**",
    ]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    lrs = {"encoder": 1e-3, "decoder": 2e-3}  # the preset's
    return digits_generators.parser(__doc__, DEFAULT_OUT, ARMS, 1000, lrs)


def main(argv: list[str] | None = None) -> list[dict]:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    records = run_table("generation_digits.py", args, argv, settings, run_one, table, summary, show)
    print(verdict(summary(records)))
    return records


if __name__ == "__main__":
    main()
