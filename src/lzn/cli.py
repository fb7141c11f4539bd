"""The `lzn` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from lzn import demo

    report = demo.run(Path(args.out), quick=args.quick, seed=args.seed)
    print(demo.summary(report))
    print(f"Report: {Path(args.out) / 'report.json'}")
    print(
        "Training on the built-in digits (the digits-joint model) comes with the training issue; "
        "this demo checks the latent zoning core it will stand on."
    )
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
        help="run the built-in demonstration on CPU",
        description="Show the latent zoning core at work on CPU: Gaussian latents, disjoint "
        "zones, and the paper's Theorem 1; writes OUT/report.json.",
    )
    demo.add_argument("--out", default="lzn-demo", help="output folder (default: lzn-demo)")
    demo.add_argument("--quick", action="store_true", help="smaller sizes, a few seconds")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
