"""Part 3: sampling with the CIFAR-10 decoder (preset cifar10-generation, random weights): images/s
of one network evaluation (fp32, bf16 autocast, bf16 + channels-last + compiled), and from those an
estimate of the time for 10,000 images with each sampler, from its evaluation count."""

from __future__ import annotations

import time

import torch
from suite_common import (
    SKIPPED_FOR_TIME,
    Deadline,
    Part,
    Settings,
    Table,
    failed,
    peak_mib,
    reset_peak,
    sync,
)

from lzn import presets
from lzn.modalities import rectified_flow as rf

PRESET = "cifar10-generation"
IMAGES = 10_000
COMPILE_NEEDS_S = 45  # compiling the decoder's forward takes well under a minute
# A trained rectified flow takes about 100-300 RK45 evaluations at rtol = atol = 1e-5
# (`rectified_flow.MAX_EVALUATIONS`); random weights give a field that is nearly constant.
RK45_TRAINED_GUESS = 200
SAMPLERS = [("euler", 10), ("euler", 20), ("euler", 50), ("heun", 20), ("rk45", 0)]
VARIANTS = ["fp32", "bf16 autocast", "bf16, channels-last, compiled"]


def _inputs(decoder, batch: int, device: str):
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, device=device, generator=gen)
    t = torch.rand(batch, device=device, generator=gen)
    z = torch.randn(batch, decoder.latent_dim, device=device, generator=gen)
    return x, t, z


@torch.no_grad()
def evaluations_per_second(decoder, variant: str, batch: int, settings: Settings) -> dict:
    warmup, timed = (1, 2) if settings.smoke else (3, 20)
    device = settings.device
    x, t, z = _inputs(decoder, batch, device)
    if "channels-last" in variant:
        decoder.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if "compiled" in variant:
        decoder.compile(dynamic=False)
    bf16 = variant != "fp32"
    reset_peak(device)
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
        for _ in range(warmup):
            decoder(x, t, z)
        sync(device)
        start = time.perf_counter()
        for _ in range(timed):
            decoder(x, t, z)
        sync(device)
    seconds = (time.perf_counter() - start) / timed
    return {
        "images/s": batch / seconds,
        "ms/evaluation": seconds * 1e3,
        "peak MiB": peak_mib(device),
    }


@torch.no_grad()
def evaluation_counts(decoder, device: str) -> dict[str, int | str]:
    """Each sampler's evaluations, counted by `rectified_flow.integrate` on a few images."""
    x, _, z = _inputs(decoder, 4, device)
    counts = {}
    for sampler, steps in SAMPLERS:
        name = f"{sampler} {steps}" if steps else sampler
        try:
            _, counts[name] = rf.integrate(
                lambda x, t: decoder(x, t, z), x, rf.T_MIN, 1.0, sampler=sampler, steps=steps or 20
            )
        except rf.EvaluationCapError:
            counts[name] = f"over {rf.MAX_EVALUATIONS}"
        except Exception as e:
            counts[name] = failed(e)
    return counts


def run(settings: Settings) -> Part:
    deadline = Deadline(settings.budget_s)
    part = Part(
        "sampling",
        settings,
        {
            "evaluation": Table(
                f"Decoder of {PRESET}: one network evaluation, no gradients (target: bf16 or "
                "compiled >= 2x fp32)",
                ["variant", "batch", "images/s", "ms/evaluation", "x fp32", "peak MiB", "note"],
            ),
            "samplers": Table(
                f"Time for {IMAGES:,} images (estimate: evaluations x {IMAGES:,} / the images/s "
                "of one evaluation above; the latents are drawn, not computed)",
                ["sampler", "evaluations", *[f"s, {v}" for v in VARIANTS], "note"],
            ),
        },
    )
    device = settings.device
    batch = 4 if settings.smoke else 500
    with torch.device(device):
        decoder = presets.build(PRESET, tiny=settings.smoke).image.decoder.eval()
    counts = evaluation_counts(decoder, device)  # fp32, before channels-last and compile
    rates = {}
    for variant in VARIANTS:
        row = {"variant": variant, "batch": batch}
        if "compiled" in variant and settings.smoke:
            row["note"] = "skipped on CPU: compiling takes minutes there"
        elif deadline.left() <= (COMPILE_NEEDS_S if "compiled" in variant else 0):
            row["note"] = SKIPPED_FOR_TIME
        else:
            try:
                row.update(evaluations_per_second(decoder, variant, batch, settings))
                rates[variant] = row["images/s"]
                row["x fp32"] = row["images/s"] / rates["fp32"] if "fp32" in rates else None
                row["note"] = ""
            except Exception as e:
                row["note"] = failed(e)
        part.add("evaluation", row)
    for name, count in counts.items():
        row = {"sampler": name, "evaluations": count, "note": ""}
        if name == "rk45":
            row["note"] = "counted on random weights: not what a trained model takes"
        for variant, rate in rates.items():
            if isinstance(count, int):
                row[f"s, {variant}"] = count * IMAGES / rate
        part.add("samplers", row)
    guess = {"sampler": "rk45 (assumed)", "evaluations": RK45_TRAINED_GUESS}
    for variant, rate in rates.items():
        guess[f"s, {variant}"] = RK45_TRAINED_GUESS * IMAGES / rate
    guess["note"] = "a trained rectified flow takes about 100-300 evaluations (assumed, not run)"
    part.add("samplers", guess)
    part.finish()
    return part
