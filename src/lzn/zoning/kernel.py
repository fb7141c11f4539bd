"""The posterior over anchors at a point of the latent flow: exact, blocked, memory-light.

At time t the flow's marginal is the mixture sum_j pi_j N(t a_j, (1-t)^2 I). For a point s,

    logit_j(s, t) = log pi_j - ||s - t a_j||^2 / (2 (1-t)^2)
    mean(s, t)    = sum_j softmax_j(logit) a_j          lse(s, t) = logsumexp_j logit_j

and the flow's velocity is (mean - s) / (1 - t). This is attention with queries s, keys t a_j and
values a_j. `posterior` computes it block by block with an online softmax, so neither an (m, n, q)
tensor nor the whole (m, n) matrix ever exists, and recomputes the blocks in backward (as flash
attention does), so autograd keeps only a call's inputs and outputs: a whole solver trajectory
costs O((m + n) q r) memory, the paper's custom checkpointing without its per-step bookkeeping.

Squared distances come from the expansion ||s||^2 - 2t s.a + t^2 ||a||^2 as one matmul. Callers
choose the dtype with `lzn.zoning.precision`, because near the anchors float32 is not enough.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch
from torch import Tensor

# Logits held per block: 16 MiB of float32 on CPU (cache-friendly), 256 MiB on CUDA (few launches).
_BLOCK_ELEMENTS = {"cpu": 2**22, "cuda": 2**26}
_MIN_QUERY_ROWS = 128
# exp(x) of x far below 0 leaves the vectorised fast path (10x slower on CPU). Weights below
# e^-80 = 2e-35 of the largest one change no sum in float32 or float64: clamp there.
_EXP_FLOOR = -80.0
_block_override: contextvars.ContextVar[tuple[int | None, int | None]] = contextvars.ContextVar(
    "lzn_block_override", default=(None, None)
)


@contextlib.contextmanager
def block_sizes(queries: int | None = None, anchors: int | None = None) -> Iterator[None]:
    """Force the block shape (queries x anchors) of every posterior computed in this context.

    The defaults are chosen from the device; results do not depend on the blocks beyond rounding.
    """
    for name, value in (("queries", queries), ("anchors", anchors)):
        if value is not None and value < 1:
            raise ValueError(f"block_sizes: {name} must be a positive integer, got {value}")
    token = _block_override.set((queries, anchors))
    try:
        yield
    finally:
        _block_override.reset(token)


def _block_shape(m: int, n: int, device: torch.device) -> tuple[int, int]:
    forced_rows, forced_cols = _block_override.get()
    budget = _BLOCK_ELEMENTS.get(device.type, _BLOCK_ELEMENTS["cpu"])
    cols = forced_cols or min(n, max(1, budget // _MIN_QUERY_ROWS))
    rows = forced_rows or max(1, budget // cols)
    return min(rows, m), min(cols, n)


def _logits(s: Tensor, s_sq: Tensor, a: Tensor, a_sq: Tensor, log_w: Tensor, t: float) -> Tensor:
    """One (rows x cols) block of logits, written in place into a fresh buffer."""
    base = s_sq[:, None] + (t * t) * a_sq[None, :]
    dist = torch.addmm(base, s, a.T, alpha=-2.0 * t)  # ||s - t a||^2 without forming s - t a
    return dist.mul_(-0.5 / (1.0 - t) ** 2).add_(log_w[None, :])


def _finite_or_zero(x: Tensor) -> Tensor:
    """A row max usable as a shift: rows whose anchors all have weight zero (so far) shift by 0."""
    return torch.where(torch.isfinite(x), x, torch.zeros_like(x))


class _Posterior(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s: Tensor, anchors: Tensor, log_w: Tensor, t: float):
        m, n = s.shape[0], anchors.shape[0]
        rows, cols = _block_shape(m, n, s.device)
        s_sq = s.square().sum(1)
        a_sq = anchors.square().sum(1)
        mean = torch.empty_like(s)
        lse = torch.empty(m, dtype=s.dtype, device=s.device)
        for r0 in range(0, m, rows):
            rs = slice(r0, r0 + rows)
            run_max = torch.full_like(s_sq[rs], -torch.inf)
            run_sum = torch.zeros_like(s_sq[rs])
            acc = torch.zeros_like(s[rs])
            for c0 in range(0, n, cols):
                cs = slice(c0, c0 + cols)
                p = _logits(s[rs], s_sq[rs], anchors[cs], a_sq[cs], log_w[cs], t)
                new_max = torch.maximum(run_max, p.amax(1))
                shift = _finite_or_zero(new_max)
                p.sub_(shift[:, None]).clamp_min_(_EXP_FLOOR).exp_()
                rescale = torch.exp(run_max - shift)
                run_sum = run_sum * rescale + p.sum(1)
                acc = torch.addmm(acc * rescale[:, None], p, anchors[cs])
                run_max = new_max
            mean[rs] = acc / run_sum[:, None]
            lse[rs] = run_max + run_sum.log()
        ctx.t, ctx.device_type = t, s.device.type
        ctx.save_for_backward(s, anchors, log_w, mean, lse)
        return mean, lse

    @staticmethod
    def backward(ctx, g_mean: Tensor | None, g_lse: Tensor | None):
        # Training loops call backward inside autocast (Lightning's bf16-mixed does): the
        # recomputed logits must stay in the forward's precision, as the flow never runs in half.
        with torch.autocast(ctx.device_type, enabled=False):
            return _Posterior._backward(ctx, g_mean, g_lse)

    @staticmethod
    def _backward(ctx, g_mean: Tensor | None, g_lse: Tensor | None):
        s, anchors, log_w, mean, lse = ctx.saved_tensors
        t = ctx.t
        m, n = s.shape[0], anchors.shape[0]
        rows, cols = _block_shape(m, n, s.device)
        g_mean = torch.zeros_like(s) if g_mean is None else g_mean.contiguous()
        g_lse = torch.zeros_like(lse) if g_lse is None else g_lse
        # logit = log w - c ||s - t a||^2: d logit/ds = -2c (s - t a), d logit/da = 2ct (s - t a).
        c = 0.5 / (1.0 - t) ** 2
        s_sq = s.square().sum(1)
        a_sq = anchors.square().sum(1)
        shift = (g_mean * mean).sum(1) - g_lse  # dlogit = p * (g.a - g.mean + g_lse)
        d_s = torch.zeros_like(s)
        d_a = torch.zeros_like(anchors)
        d_logw = torch.zeros_like(log_w)
        for r0 in range(0, m, rows):
            rs = slice(r0, r0 + rows)
            s_r, g_r = s[rs], g_mean[rs]
            row_total = torch.zeros_like(s_sq[rs])
            d_s_r = torch.zeros_like(s_r)
            for c0 in range(0, n, cols):
                cs = slice(c0, c0 + cols)
                a_c = anchors[cs]
                p = _logits(s_r, s_sq[rs], a_c, a_sq[cs], log_w[cs], t)
                p.sub_(lse[rs, None]).clamp_min_(_EXP_FLOOR).exp_()
                d_a[cs] += p.T @ g_r  # through the values
                d_logit = (g_r @ a_c.T).sub_(shift[rs, None]).mul_(p)
                col_total = d_logit.sum(0)
                row_total += d_logit.sum(1)
                d_s_r.addmm_(d_logit, a_c)
                d_a[cs] += (2 * c * t) * (d_logit.T @ s_r - t * col_total[:, None] * a_c)
                d_logw[cs] += col_total
            d_s[rs] = (-2 * c) * (row_total[:, None] * s_r - t * d_s_r)
        return d_s, d_a, d_logw, None


def posterior(s: Tensor, anchors: Tensor, log_weights: Tensor, t: float) -> tuple[Tensor, Tensor]:
    """Posterior mean of the anchors (m, q) and logsumexp of the logits (m,) at points s, time t.

    `s` (m, q), `anchors` (n, q) and `log_weights` (n,) share one floating dtype and device; t is
    in [0, 1). Differentiable with respect to s, anchors and log_weights. No input checking: the
    public functions of `lzn.zoning` validate their arguments.
    """
    if not 0.0 <= t < 1.0:
        raise ValueError(f"the posterior is defined for t in [0, 1), got t={t}")
    return _Posterior.apply(s, anchors, log_weights, float(t))


def nearest_anchor(points: Tensor, anchors: Tensor, log_weights: Tensor) -> Tensor:
    """Index of the nearest anchor of positive weight for every point, in float64 (ties are rare
    but near-duplicate anchors are not, and float32 distances cannot order them)."""
    points64, anchors64 = points.detach().double(), anchors.detach().double()
    a_sq = anchors64.square().sum(1)
    allowed = torch.isfinite(log_weights.detach())
    rows, _ = _block_shape(points.shape[0], anchors.shape[0], points.device)
    out = torch.empty(points.shape[0], dtype=torch.long, device=points.device)
    for r0 in range(0, points.shape[0], rows):
        dist = torch.addmm(a_sq[None, :], points64[r0 : r0 + rows], anchors64.T, alpha=-2.0)
        out[r0 : r0 + rows] = dist.masked_fill_(~allowed[None, :], torch.inf).argmin(1)
    return out
