"""`lzn demo`: the latent zoning core at work, on CPU, in seconds.

Until training lands (the issue "Training the three case studies"), the demo shows the properties
everything else stands on: latents of a batch of anchors are N(0, I), each latent flows back to
its own anchor (disjoint zones, more exactly with more steps), and the paper's Theorem 1 holds.
"""

from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path

import torch

import lzn
from lzn import zoning


def _gaussian_prior(n: int, q: int, gen: torch.Generator) -> dict:
    anchors = torch.randn(n, q, generator=gen) * 2.0 + 3.0
    z = zoning.compute_latents(anchors, solver="dpm++", generator=gen)
    cov = torch.cov(z.T)
    return {
        "anchors": n,
        "dim": q,
        "latent_mean_max_abs": z.mean(0).abs().max().item(),
        "latent_cov_max_abs_error": (cov - torch.eye(q)).abs().max().item(),
        "sampling_error_of_mean": 1 / math.sqrt(n),
    }


def _round_trip(n: int, q: int, steps: list[int], gen: torch.Generator) -> dict:
    anchors = torch.randn(n, q, generator=gen)
    own = torch.arange(n)
    hits = {}
    for k in steps:
        z = zoning.compute_latents(anchors, steps=k, generator=gen)
        hits[str(k)] = (zoning.assign(z, anchors, steps=k) == own).float().mean().item()
    return {"anchors": n, "dim": q, "own_anchor_fraction_by_steps": hits}


def _theorem_1(samples: int, g: float, gen: torch.Generator) -> dict:
    anchors = torch.tensor([[-1.0], [1.0]])
    index = torch.zeros(samples, dtype=torch.long)
    z = zoning.compute_latents(anchors, index=index, g=g, steps=40, generator=gen)
    wrong = (zoning.assign(z, anchors, steps=40) == 1).double().mean().item()
    return {
        "g": g,
        "samples": samples,
        "wrong_zone_fraction": wrong,
        "theory_phi_(g-1)/g": 0.5 * math.erfc((1 - g) / g / math.sqrt(2)),
        "monte_carlo_std": math.sqrt(wrong * (1 - wrong) / samples),
    }


def run(out: Path, *, quick: bool = False, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    report = {
        "lzn_version": lzn.__version__,
        "torch_version": torch.__version__,
        "machine": platform.platform(),
        "gaussian_prior": _gaussian_prior(500 if quick else 3000, 6, gen),
        "round_trip": _round_trip(64 if quick else 256, 32, [5, 20, 100], gen),
        "theorem_1": _theorem_1(10_000 if quick else 100_000, 0.3, gen),
    }
    report["seconds"] = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def summary(report: dict) -> str:
    gp, rt, th = report["gaussian_prior"], report["round_trip"], report["theorem_1"]
    trips = ", ".join(f"{k} steps {v:.1%}" for k, v in rt["own_anchor_fraction_by_steps"].items())
    return "\n".join(
        [
            f"Gaussian prior ({gp['anchors']} anchors far from the origin, dim {gp['dim']}):",
            f"  latent mean within {gp['latent_mean_max_abs']:.3f} of 0 "
            f"(sampling error {gp['sampling_error_of_mean']:.3f}), "
            f"covariance within {gp['latent_cov_max_abs_error']:.3f} of I",
            f"Disjoint zones ({rt['anchors']} random anchors, dim {rt['dim']}): latents that "
            f"flow back to their own anchor: {trips}",
            f"Theorem 1 (anchors -1, +1, g = {th['g']}): wrong zone {th['wrong_zone_fraction']:.4f}"
            f" +- {th['monte_carlo_std']:.4f}, theory {th['theory_phi_(g-1)/g']:.4f}",
            f"({report['seconds']:.1f} s)",
        ]
    )
