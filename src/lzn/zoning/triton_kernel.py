"""The latent flow's posterior as fused Triton kernels: the same function as `lzn.zoning.kernel`.

For points s (m, q), anchors a (n, q), log-weights (n,) and time t:

    logit_ij = log pi_j - ||s_i - t a_j||^2 / (2 (1-t)^2)
    mean_i   = sum_j softmax_j(logit_i) a_j             lse_i = logsumexp_j logit_ij

One program owns a block of queries and streams the anchors through an online softmax, so no
(m, n) matrix is stored, only mean and lse (O((m + n) q) memory, as flash attention). Unlike the
PyTorch path, the squared distances are summed from the differences s - t a formed in registers,
so they keep their relative precision near the anchors, where the expansion
||s||^2 - 2t s.a + t^2 ||a||^2 cancels. Backward recomputes the logits the same way in two
kernels: one per query block (d s), one per anchor block (d a, d log pi), so no atomics are needed
and the gradients are deterministic.

Precision: differences, squared distances, logits and their running max are float64 in registers
(t and 1 / (2 (1-t)^2) come as a float64 tensor: a Python float would reach the kernel rounded
to float32), so the points may be the flow's float64 state while the anchors stay float32; the
softmax weights and the value products (tl.dot, IEEE, never TF32) run in the anchors' dtype.
float64 arithmetic runs at half the float32 rate on H100/H200-class GPUs and far slower on
consumer ones: a float32-distance variant for early steps is left to measurements on a device.

CPU tensors need Triton's interpreter (TRITON_INTERPRET=1 before this module is imported); it is
how the tests run these kernels without a GPU. Not yet run on a GPU: block sizes are untuned.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

# Queries x anchors per program and the dimension chunk of the distance sum. tl.dot needs >= 16.
_BLOCK_M = 32
_BLOCK_N = 32
_CHUNK = 8


@triton.jit
def _sq_dist(
    S, A, rows, cols, row_ok, col_ok, q, stride_s, stride_a, t,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
):  # fmt: skip
    """||s_i - t a_j||^2 (BLOCK_M, BLOCK_N) in float64, from differences, CHUNK dimensions at a
    time: exact to a few float64 roundings, whatever the inputs' dtype."""
    dist = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float64)
    for k0 in range(0, q, CHUNK):
        ks = k0 + tl.arange(0, CHUNK)
        k_ok = ks < q
        s = tl.load(
            S + rows[:, None] * stride_s + ks[None, :],
            mask=row_ok[:, None] & k_ok[None, :],
            other=0.0,
        ).to(tl.float64)
        a = tl.load(
            A + cols[:, None] * stride_a + ks[None, :],
            mask=col_ok[:, None] & k_ok[None, :],
            other=0.0,
        ).to(tl.float64)
        diff = s[:, None, :] - t * a[None, :, :]
        dist += tl.sum(diff * diff, axis=2)
    return dist


@triton.jit
def _forward_kernel(
    S, A, LOGW, TS, MEAN, LSE, m, n, q, stride_s, stride_a, stride_mean,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_Q: tl.constexpr, CHUNK: tl.constexpr,
):  # fmt: skip
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < m
    ks = tl.arange(0, BLOCK_Q)
    k_ok = ks < q
    t = tl.load(TS)
    scale = tl.load(TS + 1)
    value = A.dtype.element_ty  # logits and their running max in float64, weights in this
    run_max = tl.full((BLOCK_M,), float("-inf"), tl.float64)
    run_sum = tl.zeros((BLOCK_M,), value)
    acc = tl.zeros((BLOCK_M, BLOCK_Q), value)
    for n0 in range(0, n, BLOCK_N):
        cols = n0 + tl.arange(0, BLOCK_N)
        col_ok = cols < n
        dist = _sq_dist(
            S, A, rows, cols, row_ok, col_ok, q, stride_s, stride_a, t, BLOCK_M, BLOCK_N, CHUNK
        )
        log_w = tl.load(LOGW + cols, mask=col_ok, other=float("-inf")).to(tl.float64)
        logits = log_w[None, :] - dist * scale
        new_max = tl.maximum(run_max, tl.max(logits, 1))
        # Rows whose anchors so far all have weight zero shift by 0 (exp(-inf) = 0, not NaN).
        shift = tl.where(new_max == float("-inf"), 0.0, new_max)
        p = tl.exp((logits - shift[:, None]).to(value))
        rescale = tl.exp((run_max - shift).to(value))
        a = tl.load(
            A + cols[:, None] * stride_a + ks[None, :],
            mask=col_ok[:, None] & k_ok[None, :],
            other=0.0,
        )
        run_sum = run_sum * rescale + tl.sum(p, 1)
        acc = acc * rescale[:, None] + tl.dot(p, a, input_precision="ieee")
        run_max = new_max
    out = rows[:, None] * stride_mean + ks[None, :]
    tl.store(MEAN + out, acc / run_sum[:, None], mask=row_ok[:, None] & k_ok[None, :])
    tl.store(LSE + rows, run_max + tl.log(run_sum.to(tl.float64)), mask=row_ok)


@triton.jit
def _logit_grads(
    S, A, LOGW, G, LSE, SHIFT, rows, cols, row_ok, col_ok, ks, k_ok, q,
    stride_s, stride_a, t, scale,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
):  # fmt: skip
    """Recomputed posterior p and d loss / d logit = p (g.a - g.mean + g_lse), both (M, N) in the
    anchors' dtype, and the blocks g (M, Q) and a (N, Q)."""
    value = A.dtype.element_ty
    dist = _sq_dist(
        S, A, rows, cols, row_ok, col_ok, q, stride_s, stride_a, t, BLOCK_M, BLOCK_N, CHUNK
    )
    log_w = tl.load(LOGW + cols, mask=col_ok, other=float("-inf")).to(tl.float64)
    lse = tl.load(LSE + rows, mask=row_ok, other=0.0)
    p = tl.exp((log_w[None, :] - dist * scale - lse[:, None]).to(value))
    p = tl.where(row_ok[:, None], p, 0.0)
    g = tl.load(
        G + rows[:, None] * stride_s + ks[None, :], mask=row_ok[:, None] & k_ok[None, :], other=0.0
    )
    a = tl.load(
        A + cols[:, None] * stride_a + ks[None, :], mask=col_ok[:, None] & k_ok[None, :], other=0.0
    )
    shift = tl.load(SHIFT + rows, mask=row_ok, other=0.0)
    g_a = tl.dot(g, tl.trans(a), input_precision="ieee")
    return p, (p * (g_a - shift[:, None])).to(value), g, a


@triton.jit
def _backward_queries_kernel(
    S, A, LOGW, G, LSE, SHIFT, TS, DS, m, n, q, stride_s, stride_a,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_Q: tl.constexpr, CHUNK: tl.constexpr,
):  # fmt: skip
    # d s_i = -2c sum_j dlogit_ij (s_i - t a_j), c = 1 / (2 (1-t)^2) = scale
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < m
    ks = tl.arange(0, BLOCK_Q)
    k_ok = ks < q
    t = tl.load(TS)
    scale = tl.load(TS + 1)
    value = A.dtype.element_ty
    row_total = tl.zeros((BLOCK_M,), value)
    weighted = tl.zeros((BLOCK_M, BLOCK_Q), value)
    for n0 in range(0, n, BLOCK_N):
        cols = n0 + tl.arange(0, BLOCK_N)
        col_ok = cols < n
        _, d_logit, _, a = _logit_grads(
            S, A, LOGW, G, LSE, SHIFT, rows, cols, row_ok, col_ok, ks, k_ok, q,
            stride_s, stride_a, t, scale, BLOCK_M, BLOCK_N, CHUNK,
        )  # fmt: skip
        row_total += tl.sum(d_logit, 1)
        weighted += tl.dot(d_logit, a, input_precision="ieee")
    at = rows[:, None] * stride_s + ks[None, :]
    ok = row_ok[:, None] & k_ok[None, :]
    s = tl.load(S + at, mask=ok, other=0.0)
    d_s = (-2.0 * scale) * (row_total[:, None] * s - t * weighted)
    tl.store(DS + at, d_s.to(S.dtype.element_ty), mask=ok)


@triton.jit
def _backward_anchors_kernel(
    S, A, LOGW, G, LSE, SHIFT, TS, DA, DLOGW, m, n, q, stride_s, stride_a,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_Q: tl.constexpr, CHUNK: tl.constexpr,
):  # fmt: skip
    # d a_j = sum_i p_ij g_i + 2ct sum_i dlogit_ij (s_i - t a_j);  d log pi_j = sum_i dlogit_ij
    cols = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    col_ok = cols < n
    ks = tl.arange(0, BLOCK_Q)
    k_ok = ks < q
    t = tl.load(TS)
    scale = tl.load(TS + 1)
    value = A.dtype.element_ty
    col_total = tl.zeros((BLOCK_N,), value)
    through_values = tl.zeros((BLOCK_N, BLOCK_Q), value)
    through_logits = tl.zeros((BLOCK_N, BLOCK_Q), value)
    for m0 in range(0, m, BLOCK_M):
        rows = m0 + tl.arange(0, BLOCK_M)
        row_ok = rows < m
        p, d_logit, g, a = _logit_grads(
            S, A, LOGW, G, LSE, SHIFT, rows, cols, row_ok, col_ok, ks, k_ok, q,
            stride_s, stride_a, t, scale, BLOCK_M, BLOCK_N, CHUNK,
        )  # fmt: skip
        s = tl.load(
            S + rows[:, None] * stride_s + ks[None, :],
            mask=row_ok[:, None] & k_ok[None, :],
            other=0.0,
        ).to(value)
        col_total += tl.sum(d_logit, 0)
        through_values += tl.dot(tl.trans(p), g, input_precision="ieee")
        through_logits += tl.dot(tl.trans(d_logit), s, input_precision="ieee")
    a = tl.load(
        A + cols[:, None] * stride_a + ks[None, :], mask=col_ok[:, None] & k_ok[None, :], other=0.0
    )
    d_a = through_values + (2.0 * scale * t).to(value) * (
        through_logits - t.to(value) * col_total[:, None] * a
    )
    tl.store(DA + cols[:, None] * stride_a + ks[None, :], d_a, mask=col_ok[:, None] & k_ok[None, :])
    tl.store(DLOGW + cols, col_total, mask=col_ok)


def interpreted() -> bool:
    """Whether these kernels were built for Triton's interpreter (the mode that takes CPU tensors):
    triton.jit decides when this module is imported, from TRITON_INTERPRET."""
    return not isinstance(_forward_kernel, triton.runtime.JITFunction)


def _time_scalars(t: float, device: torch.device) -> Tensor:
    return torch.tensor([t, 0.5 / (1.0 - t) ** 2], dtype=torch.float64, device=device)


def _meta(q: int) -> dict[str, int]:
    return {
        "BLOCK_M": _BLOCK_M,
        "BLOCK_N": _BLOCK_N,
        "BLOCK_Q": max(16, triton.next_power_of_2(q)),
        "CHUNK": _CHUNK,
    }


class _TritonPosterior(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s: Tensor, anchors: Tensor, log_w: Tensor, t: float):
        s, anchors, log_w = s.contiguous(), anchors.contiguous(), log_w.contiguous()
        (m, q), n = s.shape, anchors.shape[0]
        ts = _time_scalars(t, s.device)
        mean = torch.empty(m, q, dtype=anchors.dtype, device=s.device)
        lse = torch.empty(m, dtype=torch.float64, device=s.device)
        _forward_kernel[(triton.cdiv(m, _BLOCK_M),)](
            s, anchors, log_w, ts, mean, lse, m, n, q, s.stride(0), anchors.stride(0),
            mean.stride(0), **_meta(q),
        )  # fmt: skip
        ctx.save_for_backward(s, anchors, log_w, ts, mean, lse)
        return mean, lse.to(s.dtype)

    @staticmethod
    def backward(ctx, g_mean: Tensor | None, g_lse: Tensor | None):
        s, anchors, log_w, ts, mean, lse = ctx.saved_tensors
        (m, q), n = s.shape, anchors.shape[0]
        g_mean = torch.zeros_like(mean) if g_mean is None else g_mean.to(mean.dtype).contiguous()
        g_lse = torch.zeros_like(lse) if g_lse is None else g_lse.to(lse.dtype)
        # dlogit = p (g.a - shift): the shift in float64, as g.a and g.mean nearly cancel.
        shift = ((g_mean.double() * mean.double()).sum(1) - g_lse).contiguous()
        d_s = torch.empty_like(s)
        d_a = torch.empty_like(anchors)
        d_logw = torch.empty_like(log_w)
        common = (s, anchors, log_w, g_mean, lse, shift, ts)
        _backward_queries_kernel[(triton.cdiv(m, _BLOCK_M),)](
            *common, d_s, m, n, q, s.stride(0), anchors.stride(0), **_meta(q)
        )
        _backward_anchors_kernel[(triton.cdiv(n, _BLOCK_N),)](
            *common, d_a, d_logw, m, n, q, s.stride(0), anchors.stride(0), **_meta(q)
        )
        return d_s, d_a, d_logw, None


def posterior(s: Tensor, anchors: Tensor, log_weights: Tensor, t: float) -> tuple[Tensor, Tensor]:
    """Posterior mean (m, q) and logsumexp of the logits (m,): `lzn.zoning.kernel.posterior`, fused.

    Same contract (t in [0, 1), one device, differentiable with respect to s, anchors and
    log_weights), except that s may be float64 while the anchors and log_weights are float32:
    the distances are exact either way, so the flow's float64 state goes in as it is. mean comes
    back in the anchors' dtype, lse in s's.
    """
    if not 0.0 <= t < 1.0:
        raise ValueError(f"the posterior is defined for t in [0, 1), got t={t}")
    if s.device.type == "cpu" and not interpreted():
        raise RuntimeError(
            "the Triton kernel takes CPU tensors only in Triton's interpreter: set "
            "TRITON_INTERPRET=1 before triton is imported, or LZN_KERNEL=torch"
        )
    return _TritonPosterior.apply(s, anchors, log_weights, float(t))
