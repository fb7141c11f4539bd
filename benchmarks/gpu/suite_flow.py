"""Part 1: the latent flow, side by side in one run: the official materialised form, our PyTorch
path (LZN_KERNEL=torch) and the Triton kernel (LZN_KERNEL=triton). Timing and memory come from
`benchmarks/latent_flow.py` (20 Euler steps, `compute_latents` then a backward pass), measured
in this process; the errors are against its float64 brute force on near-duplicate anchors."""

from __future__ import annotations

import contextlib
import os

import torch
from suite_common import (
    SKIPPED_FOR_TIME,
    Deadline,
    Part,
    Settings,
    Table,
    failed,
    triton_runs_on,
)

import latent_flow
from lzn import zoning
from lzn.zoning import backend, reference

OFFICIAL, TORCH, TRITON = "official (materialised)", "lzn, PyTorch path", "lzn, Triton kernel"
# (label, m queries, n anchors, q); the device cases are the issue's, the smoke ones tiny.
DEVICE_CASES = [
    ("n=2000", 2000, 2000, 200),
    ("2000 x 16000", 2000, 16000, 200),
    ("n=16384", 16384, 16384, 200),
    ("n=65536", 65536, 65536, 200),
]
SMOKE_CASES = [("n=64", 64, 64, 8), ("32 x 128", 32, 128, 8), ("n=128", 128, 128, 8)]


@contextlib.contextmanager
def kernel(name: str | None):
    """LZN_KERNEL set to `name` (None: left alone) for the duration."""
    before = os.environ.get(backend.ENV)
    if name is not None:
        os.environ[backend.ENV] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(backend.ENV, None)
        else:
            os.environ[backend.ENV] = before


FORM_KERNELS = {TRITON: "triton", TORCH: "torch", OFFICIAL: None}


def _repeats(form: str, m: int, n: int, smoke: bool) -> int:
    if smoke or form == OFFICIAL or m * n >= 16384**2:
        return 1  # the slow ones: one timed pass after the warm-up
    return 5


def _skip_reason(form: str, m: int, n: int, q: int, settings: Settings, first: bool):
    if form == TRITON:
        why = triton_runs_on(settings.device)
        if why:
            return f"skipped: {why}"
        if settings.smoke and not first:
            return "skipped: Triton's interpreter is too slow on CPU beyond the first case"
    if form == OFFICIAL:
        limit_gib = 2.0 if settings.smoke else 0.8 * torch.cuda.mem_get_info()[1] / 2**30
        if not latent_flow.materialised_fits(m, n, q, limit_gib):
            return f"skipped: its (m, n, q) tensors would need over {limit_gib:.0f} GiB"
    return None


def timing_rows(part: Part, settings: Settings, deadline: Deadline) -> None:
    cases = SMOKE_CASES if settings.smoke else DEVICE_CASES
    for i, (label, m, n, q) in enumerate(cases):
        rows = {}
        for form, kernel_name in FORM_KERNELS.items():  # fastest first: a timeout cuts the slow
            row = {"case": label, "m": m, "n": n, "q": q, "form": form}
            reason = _skip_reason(form, m, n, q, settings, first=i == 0)
            if reason is None and deadline.left() <= 0:
                reason = SKIPPED_FOR_TIME
            if reason is None:
                method = "materialised" if form == OFFICIAL else "lzn"
                try:
                    with kernel(kernel_name):
                        result = latent_flow.measure_here(
                            method, m, n, q, settings.device, _repeats(form, m, n, settings.smoke)
                        )
                except Exception as e:  # measure_here reports OOM and allocation failures itself
                    result = failed(e)
                if isinstance(result, str):
                    reason = result
                else:
                    row["ms"] = result[0] * 1e3
                    row["peak MiB"] = result[1] / 2**20 if settings.device == "cuda" else None
            if settings.device == "cuda":
                torch.cuda.empty_cache()
            row["note"] = reason or ""
            rows[form] = row
            part.add("timing", row)
        official = rows[OFFICIAL].get("ms")
        for row in rows.values():
            if official and row.get("ms"):
                row["x official"] = official / row["ms"]
        part.save()


def error_rows(part: Part, settings: Settings) -> None:
    n, q = (64, 8) if settings.smoke else (512, 200)
    anchors, noise, exact = latent_flow.near_duplicates(n, q, settings.device)
    for form, kernel_name in FORM_KERNELS.items():
        row = {"form": form, "n": n, "q": q}
        why = triton_runs_on(settings.device) if form == TRITON else None
        if why:
            part.add("error", {**row, "note": f"skipped: {why}"})
            continue
        try:
            with kernel(kernel_name), torch.no_grad():
                if form == OFFICIAL:
                    z = reference.compute_latents(anchors, noise, steps=latent_flow.STEPS)
                else:
                    z = zoning.compute_latents(anchors, noise=noise, steps=latent_flow.STEPS)
        except Exception as e:
            part.add("error", {**row, "note": failed(e)})
            continue
        error = (z.double() - exact).abs().max().item()
        part.add("error", {**row, "max abs error": error, "note": ""})


def run(settings: Settings) -> Part:
    deadline = Deadline(settings.budget_s)
    part = Part(
        "latent_flow",
        settings,
        {
            "error": Table(
                "Latent flow: max abs error of the latents vs float64, near-duplicate anchors "
                "(pairs 1e-4 apart), 20 Euler steps, float32 inputs (target <= 1e-3)",
                ["form", "n", "q", "max abs error", "note"],
            ),
            "timing": Table(
                "Latent flow: 20 Euler steps, forward + backward, float32 (targets: n=2000 <= "
                "10 ms; 2000 x 16000 <= 60 ms and <= 2 GiB; n=65536 <= 2 s and <= 8 GiB)",
                ["case", "q", "form", "ms", "peak MiB", "x official", "note"],
            ),
        },
    )
    error_rows(part, settings)  # cheap and decisive: first, before any timing can run out
    timing_rows(part, settings, deadline)
    part.note("timing", "ms: median of timed passes after a warm-up pass (one pass where slow).")
    if settings.device == "cuda":
        part.note("timing", "peak MiB: torch.cuda.max_memory_allocated above the inputs.")
    else:
        part.note("timing", "peak MiB: measured on CUDA only (smoke run on CPU).")
    part.finish()
    return part
