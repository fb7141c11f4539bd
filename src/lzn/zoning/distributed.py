"""Latent parallelism (paper App. A.3): every rank encodes its shard, all ranks see all anchors.

Each rank computes the latents of its own samples against the gathered anchor set. The latents of
every rank depend on every anchor, so the gather must carry gradients back to the rank that made
each anchor: in backward, the gradients of the whole set are summed over ranks and each rank keeps
its own rows. We write that as a small autograd function on all_gather / all_reduce, which every
backend (gloo, NCCL) supports, instead of torch.distributed.nn.functional.all_gather, which is
deprecated in recent torch and goes through all-to-all on gloo.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


class _GatherWithGradients(torch.autograd.Function):
    @staticmethod
    def forward(ctx, local: Tensor, group: dist.ProcessGroup | None) -> Tensor:
        ctx.group = group
        ctx.rows = local.shape[0]
        parts = [torch.empty_like(local) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, local.contiguous(), group=group)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        start = dist.get_rank(ctx.group) * ctx.rows
        return grad[start : start + ctx.rows], None


def gather_anchors(local: Tensor, group: dist.ProcessGroup | None = None) -> tuple[Tensor, Tensor]:
    """All-gather the (b, q) anchors of every rank, with gradients flowing back to their ranks.

    Returns the (world * b, q) anchors, in rank order, and the indices (b,) of this rank's anchors
    in them (pass it as `index=` to `compute_latents`). Without an initialised process group this
    is the identity. Every rank must contribute the same number of anchors.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size(group) == 1:
        return local, torch.arange(local.shape[0], device=local.device)
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    sizes = torch.tensor([local.shape[0]], device=local.device)
    all_sizes = [torch.zeros_like(sizes) for _ in range(world)]
    dist.all_gather(all_sizes, sizes, group=group)
    counts = [int(c) for c in all_sizes]
    if len(set(counts)) > 1:
        raise ValueError(
            f"gather_anchors needs the same number of anchors on every rank, got {counts} "
            "(use drop_last=True in the data loader)"
        )
    start = rank * local.shape[0]
    index = torch.arange(start, start + local.shape[0], device=local.device)
    return _GatherWithGradients.apply(local, group), index
