"""Time and peak memory of the latent flow, lzn against the official code's materialised form.

One case = `compute_latents` of m samples against n anchors of dimension q (20 Euler steps; m = n
unless --queries is given, as on one GPU; m < n is one rank's shard of a gathered batch), then a
backward pass from the sum of the latents: the cost of one training step's latent computation.
Every case runs in a fresh process so that CPU peak memory (resident set growth) is its own; on
CUDA the peak is torch.cuda.max_memory_allocated. The last table is the error of the latents
against a float64 brute force on near-duplicate anchors (pairs 1e-4 apart).

    python benchmarks/latent_flow.py                      # CPU: n = 512, 2000, 8192; q = 64, 200
    python benchmarks/latent_flow.py --device cuda        # CUDA: n = 512 .. 65536, 2000 x 16000
    python benchmarks/latent_flow.py --sizes 512 --dims 64 --repeats 5
    python benchmarks/latent_flow.py --sizes 16000 --dims 200 --queries 2000
    LZN_KERNEL=torch python benchmarks/latent_flow.py --device cuda   # "lzn" = the PyTorch path

On CUDA "lzn" is the Triton kernel where triton is installed (`lzn.zoning.backend`).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import statistics
import time

import torch

from lzn import zoning
from lzn.zoning import backend, precision, reference

STEPS = 20
METHODS = ("lzn", "materialised")


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _step(method: str, anchors: torch.Tensor, noise: torch.Tensor) -> None:
    a = anchors.detach().requires_grad_(True)
    index = torch.arange(noise.shape[0], device=a.device)
    if method == "lzn":
        z = zoning.compute_latents(a, noise=noise, index=index, steps=STEPS)
    else:
        z = reference.compute_latents(a, noise, index=index, steps=STEPS)
    z.sum().backward()


def measure_here(method: str, m: int, n: int, q: int, device: str, repeats: int):
    """(median seconds, peak bytes) or the error that stopped it, in this process. CPU peak memory
    is the resident set's growth: a fresh process's (`measure`), else a lower bound."""
    try:
        gen = torch.Generator(device=device).manual_seed(0)
        anchors = torch.randn(n, q, device=device, generator=gen)
        noise = torch.randn(m, q, device=device, generator=gen)
        _sync(device)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        else:
            base = _rss_bytes()
        _step(method, anchors, noise)  # warm-up, and the memory measurement
        _sync(device)
        if device == "cuda":
            peak = torch.cuda.max_memory_allocated() - base
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            _step(method, anchors, noise)
            _sync(device)
            times.append(time.perf_counter() - start)
        return statistics.median(times), peak
    except torch.OutOfMemoryError:
        return "out of memory"
    except RuntimeError as e:  # CPU allocation failures
        return f"failed: {str(e).splitlines()[0][:60]}"


def _measure(method: str, m: int, n: int, q: int, device: str, repeats: int, out) -> None:
    """Runs in a child process."""
    out.put(measure_here(method, m, n, q, device, repeats))


def measure(method: str, m: int, n: int, q: int, device: str, repeats: int):
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(method, m, n, q, device, repeats, out))
    proc.start()
    proc.join()
    return out.get() if not out.empty() else f"crashed (exit code {proc.exitcode})"


def materialised_fits(m: int, n: int, q: int, limit_gib: float) -> bool:
    # One (m, n, q) float32 difference tensor, with a few temporaries alive at once.
    return 3 * m * n * q * 4 / 2**30 <= limit_gib


def near_duplicates(n: int, q: int, device: str = "cpu"):
    """Anchors in pairs 1e-4 apart, noise, and their latents from the float64 brute force."""
    gen = torch.Generator().manual_seed(0)
    anchors = torch.randn(n, q, generator=gen)
    anchors[1::2] = anchors[0::2] + 1e-4 * torch.randn(n // 2, q, generator=gen)
    noise = torch.randn(n, q, generator=gen)
    anchors, noise = anchors.to(device), noise.to(device)
    exact = reference.compute_latents(anchors.double(), noise.double(), steps=STEPS)
    return anchors, noise, exact


def near_duplicate_errors(n: int, q: int) -> dict[str, float]:
    anchors, noise, exact = near_duplicates(n, q)
    results = {
        "lzn": zoning.compute_latents(anchors, noise=noise, steps=STEPS),
        "materialised": reference.compute_latents(anchors, noise, steps=STEPS),
    }
    default_tolerance = precision.LOGIT_TOLERANCE
    default_kernel = os.environ.get(backend.ENV)
    try:
        precision.LOGIT_TOLERANCE = float("inf")  # float32 expansion at every step
        os.environ[backend.ENV] = "torch"  # the expansion is the PyTorch path's
        results["matmul expansion, float32 only"] = zoning.compute_latents(
            anchors, noise=noise, steps=STEPS
        )
    finally:
        precision.LOGIT_TOLERANCE = default_tolerance
        if default_kernel is None:
            os.environ.pop(backend.ENV)
        else:
            os.environ[backend.ENV] = default_kernel
    return {k: (v.double() - exact).abs().max().item() for k, v in results.items()}


def _cell(result) -> tuple[str, str]:
    if isinstance(result, str):
        return result, "-"
    seconds, peak = result
    return f"{seconds * 1e3:.1f}", f"{max(peak, 0) / 2**20:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--dims", type=int, nargs="+", default=None)
    parser.add_argument("--queries", type=int, default=None, help="m: latents per case (<= n)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--materialised-limit-gib",
        type=float,
        default=None,
        help="skip the materialised form when its tensors would exceed this (default: device)",
    )
    args = parser.parse_args()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device == "cuda"
    sizes = args.sizes or ([512, 2000, 8192, 16384, 65536] if cuda else [512, 2000, 8192])
    dims = args.dims or ([200] if cuda else [64, 200])
    cases = [(min(args.queries or n, n), n, q) for q in dims for n in sizes]
    if cuda and not (args.sizes or args.queries):
        cases.append((2000, 16000, 200))  # the paper-scale shard: 2000 queries x 16000 anchors
    limit = args.materialised_limit_gib or (60.0 if cuda else 12.0)
    name = torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine()
    print(f"# Latent flow, {STEPS} Euler steps, forward + backward, float32 inputs")
    print(
        f"device: {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}"
    )
    print()
    print(
        "| m x n | q | lzn ms | lzn peak MiB | materialised ms | materialised peak MiB | speed-up |"
    )
    print("|---|---|---|---|---|---|---|")
    for m, n, q in cases:
        ours = measure("lzn", m, n, q, device, args.repeats)
        theirs = (
            measure("materialised", m, n, q, device, max(1, args.repeats // 3))
            if materialised_fits(m, n, q, limit)
            else "skipped (too large)"
        )
        speedup = (
            f"{theirs[0] / ours[0]:.1f}x"
            if not isinstance(ours, str) and not isinstance(theirs, str)
            else "-"
        )
        cells = " | ".join([*_cell(ours), *_cell(theirs)])
        print(f"| {m} x {n} | {q} | {cells} | {speedup} |", flush=True)
    print()
    print("Max abs error of the latents vs float64, near-duplicate anchors (n=512, q=200):")
    print()
    print("| form | error |")
    print("|---|---|")
    for form, err in near_duplicate_errors(512, 200).items():
        print(f"| {form} | {err:.1e} |")


if __name__ == "__main__":
    main()
