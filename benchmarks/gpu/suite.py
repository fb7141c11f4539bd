"""The device suite: latent flow, training step and sampling, written as JSON and markdown.

    python benchmarks/gpu/suite.py --smoke                  # CPU, tiny sizes, every part (CI)
    python benchmarks/gpu/suite.py --part latent_flow --budget 80 --out gpu-out
    python benchmarks/gpu/suite.py --report --out gpu-out   # OUT/*.json -> OUT/suite.md

On the device machine run `benchmarks/gpu/run.sh`, which runs the CUDA tests and then each part in
its own process under a time limit (docs/benchmarks.md). Every part writes OUT/<part>.json after
each row, so a part stopped by its limit still leaves what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the parts, and benchmarks/latent_flow.py

PARTS = ("latent_flow", "training", "sampling")
TESTS_LOG = "cuda-tests.txt"  # written by run.sh


def run_part(name: str, settings) -> None:
    import suite_flow
    import suite_sampling
    import suite_training

    module = {"latent_flow": suite_flow, "training": suite_training, "sampling": suite_sampling}
    module[name].run(settings)


def report(out: Path) -> str:
    from suite_common import markdown

    files = [out / f"{p}.json" for p in PARTS]
    parts = [json.loads(f.read_text()) for f in files if f.exists()]
    lines = ["# lzn device suite", ""]
    if parts:
        machine = parts[0]["machine"]
        lines.append("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items() if v != ""))
        lines.append(f"smoke run (CPU, tiny sizes): {parts[0]['smoke']}")
        lines.append("")
    tests = out / TESTS_LOG
    if tests.exists():
        last = [s for s in tests.read_text().splitlines() if s.strip()][-1:] or ["(empty)"]
        lines += [f"CUDA tests: {last[0].strip('= ')}", ""]
    missing = [p for p in PARTS if not (out / f"{p}.json").exists()]
    if missing:
        lines += [f"Parts that wrote nothing: {', '.join(missing)}", ""]
    for part in parts:
        lines += [f"## {part['part']}", ""]
        if not part["finished"]:
            lines += ["**Stopped by its time limit: its last rows are missing.**", ""]
        lines += [markdown(table) for table in part["tables"].values()]
    text = "\n".join(lines)
    (out / "suite.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny sizes (CI)")
    parser.add_argument("--part", choices=PARTS, action="append", help="default: every part")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-out")))
    parser.add_argument("--budget", type=float, default=None, help="soft seconds per part")
    parser.add_argument("--report", action="store_true", help="only write OUT/suite.md")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        if args.smoke:
            # Triton's kernels take CPU tensors only in its interpreter, chosen at its import.
            os.environ.setdefault("TRITON_INTERPRET", "1")
        import torch

        if not args.smoke and not torch.cuda.is_available():
            sys.exit("no CUDA device: run with --smoke for the CPU check")
        from suite_common import Settings

        budget = args.budget if args.budget is not None else (60.0 if args.smoke else 120.0)
        settings = Settings(smoke=args.smoke, out=args.out, budget_s=budget)
        for name in args.part or PARTS:
            print(f"running {name} ...", flush=True)
            run_part(name, settings)
    if args.report or not args.part:
        print(report(args.out))


if __name__ == "__main__":
    main()
