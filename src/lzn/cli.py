"""The `lzn` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lzn.hub import MissingHubDependency
from lzn.integrators import SAMPLERS
from lzn.modalities.rectified_flow import (  # (lzn imports torch anyway)
    MAX_EVALUATIONS,
    EvaluationCapError,
)


def _demo(args: argparse.Namespace) -> int:
    from lzn import demo

    out = Path(args.out)
    report = demo.run(out, quick=args.quick, seed=args.seed, steps=args.steps, verbose=args.verbose)
    print(demo.summary(report))
    print(f"Model, report, samples and plots in {out}/")
    return 0


def _load_model(path: str):
    from lzn import LZN

    return LZN.from_pretrained(path)


def _read_images(model, paths: list[str]):
    from lzn import images

    cfg = model.config["image"]
    return images.load(paths, size=cfg["size"], channels=cfg["channels"])


def _sample(args: argparse.Namespace) -> int:
    import torch

    from lzn import images

    model = _load_model(args.model)
    labels = [args.label] * args.n if args.label is not None else None
    gen = torch.Generator().manual_seed(args.seed)
    samples = model.generate(
        args.n, labels, sampler=args.sampler, steps=args.steps, generator=gen,
        max_evaluations=args.max_evaluations, progress=True,
    )  # fmt: skip
    images.save_grid(samples, args.out, columns=min(args.n, 8))
    print(f"{args.n} samples written to {args.out}")
    return 0


def _classify(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    if model.bank is None and not args.no_bank:
        print(
            f"lzn classify: {args.model} carries no anchor bank (converted official checkpoints "
            "and models of earlier releases have none): the labels depend on which files are "
            "classified together; add one with model.set_bank(train_images, train_labels) and "
            "save the model, or pass --no-bank to accept this",
            file=sys.stderr,
        )
    bank = None if args.no_bank else "model"
    predicted = model.classify(_read_images(model, args.images), alpha=args.alpha, bank=bank)
    for path, label in zip(args.images, predicted.tolist(), strict=True):
        print(f"{path}\t{label}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    import numpy as np

    model = _load_model(args.model)
    features = model.embed(_read_images(model, args.images))
    np.save(args.out, features.cpu().numpy())
    print(f"{tuple(features.shape)} features written to {args.out}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from lzn.official import convert

    out = convert(args.checkpoint, args.case, args.out, ema=not args.raw)
    weights = "raw" if args.raw else "EMA"
    print(f"{args.checkpoint} ({args.case}, {weights} weights) converted to {out}/")
    return 0


def _presets(args: argparse.Namespace) -> int:
    import yaml

    from lzn import presets

    if args.name is None:
        for name in presets.names():
            recipe = presets.recipe(name)
            print(f"{name:<26} {recipe.get('paper') or recipe.get('source', '')}")
        return 0
    recipe = presets.recipe(args.name)  # refuses an unknown name, listing the presets
    document = {"preset": args.name, "model": presets.config(args.name), "recipe": recipe}
    print(yaml.safe_dump(document, sort_keys=False, default_flow_style=None), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lzn", description="Latent Zoning Networks: one Gaussian latent space for all tasks."
    )
    from lzn import __version__

    parser.add_argument("--version", action="version", version=f"lzn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train the digits-joint model on the built-in digits (CPU, minutes)",
        description="Train one LZN model for classification and class-conditional generation "
        "on scikit-learn's digits (held-out split), then write OUT/model (the weights), "
        "OUT/report.json and report.txt (held-out accuracy, and the fraction of generated "
        "samples an SVC reads as the requested digit), samples.png, curves.png, latents.png.",
    )
    demo.add_argument("--out", default="lzn-demo", help="output folder (default: lzn-demo)")
    demo.add_argument(
        "--quick", action="store_true", help="a few training steps, under a minute (for tests)"
    )
    demo.add_argument("--steps", type=int, default=None, help="training steps (default: 400)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument(
        "--verbose", action="store_true", help="show Lightning's banners and library warnings"
    )
    demo.set_defaults(run=_demo)

    preset = commands.add_parser(
        "presets",
        help="list the presets, or print one (architecture and training recipe)",
        description="Without NAME, list the presets (the paper's case-study models and small "
        "ones for CPU). With NAME, print its architecture (`model`, what config.json holds) and "
        "its training recipe (`recipe`, with the global batch size) as YAML: the numbers a YAML "
        "recipe in configs/ runs unless it changes them.",
    )
    preset.add_argument("name", nargs="?", default=None, help="a preset name")
    preset.set_defaults(run=_presets)

    commands.add_parser(
        "fit",
        help="train from a YAML recipe (Lightning CLI): lzn fit --config FILE",
        description="See `lzn fit --help`.",
        add_help=False,
    )

    sample = commands.add_parser(
        "sample",
        help="generate images with a saved model",
        description="Generate N images and write them as a PNG grid: of one class with --label; "
        "without it, latents from N(0, I) (for a class-conditional decoder, the class the label "
        "decoder reads from each latent, the paper's Alg. 7).",
    )
    sample.add_argument("--model", required=True, help="a save_pretrained folder")
    sample.add_argument("--n", type=int, default=64, help="number of images (default: 64)")
    sample.add_argument("--label", type=int, default=None, help="class of every image")
    sample.add_argument(
        "--sampler",
        default="rk45",
        choices=SAMPLERS.names,
        help=f"the decoder's ODE sampler (default: rk45; {SAMPLERS.listing()})",
    )
    fixed_step = "/".join(i.name for i in SAMPLERS.integrators if i.takes_steps)
    sample.add_argument(
        "--steps", type=int, default=20, help=f"steps of {fixed_step} (default: 20)"
    )
    sample.add_argument(
        "--max-evaluations",
        type=int,
        default=MAX_EVALUATIONS,
        help=f"rk45: the cap on network evaluations per sample (default: {MAX_EVALUATIONS})",
    )
    sample.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    sample.add_argument("--out", default="samples.png", help="output PNG (default: samples.png)")
    sample.set_defaults(run=_sample)

    classify = commands.add_parser(
        "classify",
        help="classify image files with a saved model",
        description="Print the predicted label of each image file (tab-separated). Files must "
        "have the model's size. Each file's zone is cut by the model's anchor bank (anchors of "
        "its training images, saved with it) plus the files given, so a file gets the same "
        "label alone or with others; --no-bank cuts zones by the files alone (the paper's "
        "batch-only Alg. 9: labels then depend on the batch, and one file alone is meaningless).",
    )
    classify.add_argument("--model", required=True, help="a save_pretrained folder")
    classify.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...)")
    classify.add_argument(
        "--alpha", type=float, default=0.0, help="latent noise scale (default: 0, zone centres)"
    )
    classify.add_argument(
        "--no-bank",
        action="store_true",
        help="zones from the files given alone, without the model's anchor bank",
    )
    classify.set_defaults(run=_classify)

    embed = commands.add_parser(
        "embed",
        help="embed image files with a saved model",
        description="Write the features of the image files as an (n, d) .npy array.",
    )
    embed.add_argument("--model", required=True, help="a save_pretrained folder")
    embed.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...)")
    embed.add_argument("--out", default="embeddings.npy", help="output .npy file")
    embed.set_defaults(run=_embed)

    from lzn.official import cases

    convert = commands.add_parser(
        "convert",
        help="convert a checkpoint released with the paper into an lzn model folder",
        description="Read an official LZN checkpoint (microsoft/latent-zoning-networks; "
        "torch.load with weights_only=True only, nothing else is unpickled) and write OUT/"
        "config.json and OUT/model.safetensors. The architecture is the case's official one, "
        "with widths and depths read from the tensors. Cases: "
        + ", ".join(f"{c.name} ({c.preset})" for c in cases.CASES)
        + ". A Hub reference hf://OWNER/REPO/PATH is downloaded (needs huggingface_hub).",
    )
    convert.add_argument("checkpoint", help="the official .pt file, or hf://OWNER/REPO/PATH")
    convert.add_argument(
        "--case", required=True, help="official case name or lzn preset, e.g. cifar10-generation"
    )
    convert.add_argument("--out", required=True, help="the model folder to write")
    convert.add_argument(
        "--raw",
        action="store_true",
        help="the raw trained weights instead of the EMA weights (which the paper evaluated)",
    )
    convert.set_defaults(run=_convert)

    from lzn.eval import command as evaluate_command

    evaluate_command.add_parser(commands)
    return parser


def _fit(argv: list[str]) -> int:
    from lzn.train.fit import fit

    return fit(argv)


def _message(error: BaseException) -> str:
    """The error's message; for one re-raised from a DataLoader worker (whose message is the
    worker's whole traceback), the original error's own line."""
    text = str(error)
    if "Original Traceback" not in text:
        return text
    last = [line for line in text.splitlines() if line.strip()][-1]
    original = last.split(": ", 1)[-1] if last.split(": ", 1)[0].isidentifier() else last
    return f"{original} (in a data-loader worker)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["fit"]:  # Lightning's CLI parses the rest
        command, run = "fit", lambda: _fit(argv[1:])
    else:
        args = build_parser().parse_args(argv)
        command, run = args.command, lambda: args.run(args)
    try:
        return run()
    # One line for what the user can fix: bad input, a missing file, a failed download.
    except (ValueError, OSError, EvaluationCapError, MissingHubDependency) as e:
        print(f"lzn {command}: {_message(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # `lzn fit` saves and explains itself; elsewhere nothing is lost
        print(f"lzn {command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
