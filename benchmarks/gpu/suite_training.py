"""Part 2: one training step of the CIFAR-10 case-study-1 networks (preset cifar10-generation):
`GenerationModule.losses` (encoder, latent flow, decoder rectified-flow loss), backward, gradient
clipping and an Adam step, on random images. The official form computes the latents with the
materialised flow (`lzn.zoning.reference`, checkpointed like the official code) in float32; ours
adds bf16 autocast (the flow stays float32: `lzn.zoning.field` disables autocast inside it),
channels-last, fused Adam and `torch.compile` of the two networks, one at a time."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

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
from lzn.train.module import GenerationModule
from lzn.zoning import reference

PRESET = "cifar10-generation"
COMPILE_NEEDS_S = 90  # a compile of both networks, forward and backward, takes about a minute


class MaterialisedGeneration(GenerationModule):
    """Case study 1 with the official code's latent computation: the (m, n, q) tensor."""

    def latents(self, images, alpha: float = 1.0):
        anchors = self.model.image.encode(images)
        flow = self.model.image.flow
        noise = alpha * torch.randn_like(anchors)
        return reference.compute_latents(
            anchors, noise, g=flow.g, steps=flow.steps, solver=flow.solver
        )


@dataclass(frozen=True)
class Variant:
    name: str
    official: bool = False
    bf16: bool = False
    channels_last: bool = False
    fused_adam: bool = False
    compiled: bool = False


VARIANTS = [
    Variant("official form, fp32", official=True),
    Variant("lzn fp32"),
    Variant("lzn bf16 autocast", bf16=True),
    Variant("lzn bf16, channels-last", bf16=True, channels_last=True),
    Variant("lzn bf16, channels-last, fused Adam", bf16=True, channels_last=True, fused_adam=True),
]
COMPILED = Variant(
    "lzn bf16, channels-last, fused Adam, compiled",
    bf16=True,
    channels_last=True,
    fused_adam=True,
    compiled=True,
)


def _setup(variant: Variant, settings: Settings):
    cls = MaterialisedGeneration if variant.official else GenerationModule
    model = presets.config(PRESET, tiny=True) if settings.smoke else None
    with torch.device(settings.device):  # the weights are initialised where they train
        module = cls(PRESET, model=model)
    module.train()
    if variant.channels_last:
        module.to(memory_format=torch.channels_last)
    if variant.compiled:
        torch._dynamo.reset()  # a fresh compile for this batch size, with static shapes
        module.model.image.encoder.compile(dynamic=False)
        module.model.image.decoder.compile(dynamic=False)
    groups = [{"params": p, "lr": module.recipe.lr[name]} for name, p in module.parts().items()]
    optimizer = torch.optim.Adam(groups, fused=True if variant.fused_adam else None)
    return module, optimizer


def _batch(batch: int, variant: Variant, device: str):
    gen = torch.Generator(device=device).manual_seed(0)
    images = torch.rand(batch, 3, 32, 32, device=device, generator=gen) * 2 - 1
    if variant.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,), device=device, generator=gen)
    return images, labels


def _step(module, optimizer, batch, variant: Variant, device: str) -> None:
    with torch.autocast(device, dtype=torch.bfloat16, enabled=variant.bf16):
        total = sum(module.losses(batch).values())
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    torch.nn.utils.clip_grad_norm_(module.parameters(), module.recipe.grad_clip)
    optimizer.step()


def measure(variant: Variant, batch: int, settings: Settings) -> dict:
    warmup, timed = (1, 2) if settings.smoke else (3, 10)
    device = settings.device
    module, optimizer = _setup(variant, settings)
    data = _batch(batch, variant, device)
    reset_peak(device)
    for _ in range(warmup):  # the compile, cuDNN's choices and the allocator's growth
        _step(module, optimizer, data, variant, device)
    sync(device)
    start = time.perf_counter()
    for _ in range(timed):
        _step(module, optimizer, data, variant, device)
    sync(device)
    seconds = (time.perf_counter() - start) / timed
    return {"ms/step": seconds * 1e3, "images/s": batch / seconds, "peak MiB": peak_mib(device)}


def _skip_reason(variant: Variant, settings: Settings, deadline: Deadline) -> str | None:
    if variant.compiled and settings.smoke:
        return "skipped on CPU: compiling takes minutes there"
    need = COMPILE_NEEDS_S if variant.compiled else 0
    if deadline.left() <= need:
        return SKIPPED_FOR_TIME
    return None


def _row(
    part: Part,
    variant: Variant,
    batch: int,
    settings: Settings,
    deadline: Deadline,
    official: dict[int, float],
) -> None:
    """Measures one variant and saves its row; `official`: images/s of the official form by
    batch, for the ratio."""
    row = {"batch": batch, "variant": variant.name}
    reason = _skip_reason(variant, settings, deadline)
    if reason is None:
        try:
            row.update(measure(variant, batch, settings))
        except Exception as e:
            reason = failed(e)
    if variant.official and "images/s" in row:
        official[batch] = row["images/s"]
    elif batch in official and "images/s" in row:
        row["x official"] = row["images/s"] / official[batch]
    row["note"] = reason or ""
    part.add("training", row)
    gc.collect()
    if settings.device == "cuda":
        torch.cuda.empty_cache()


def run(settings: Settings) -> Part:
    deadline = Deadline(settings.budget_s)
    part = Part(
        "training",
        settings,
        {
            "training": Table(
                f"Training step of {PRESET} (encoder + latent flow + decoder RF loss + backward "
                "+ clip + Adam), random images (target: >= 2x the official form's images/s)",
                ["batch", "variant", "ms/step", "images/s", "x official", "peak MiB", "note"],
            )
        },
    )
    batches = (4, 2) if settings.smoke else (250, 125)
    official = {}  # images/s of the official form, by batch
    for batch in batches:  # every uncompiled variant first: compiling is the slow, risky part
        for variant in VARIANTS:
            _row(part, variant, batch, settings, deadline, official)
    for batch in batches:
        _row(part, COMPILED, batch, settings, deadline, official)
    warmup, timed = (1, 2) if settings.smoke else (3, 10)
    part.note(
        "training",
        f"Each row: a fresh module, {warmup} untimed warm-up step(s), then the mean of {timed} "
        "steps. Variants add up from top to bottom; the official form's latents are the "
        "materialised DPM-Solver++ flow, ours the preset's flow through lzn.zoning.",
    )
    part.note("training", "peak MiB: torch.cuda.max_memory_allocated (weights, Adam state too).")
    part.finish()
    return part
