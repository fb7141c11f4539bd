"""The `lzn` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from lzn import demo

    out = Path(args.out)
    report = demo.run(out, quick=args.quick, seed=args.seed, steps=args.steps)
    print(demo.summary(report))
    print(f"Model, report, samples and plots in {out}/")
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
    demo.add_argument("--steps", type=int, default=None, help="training steps (default: 700)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
