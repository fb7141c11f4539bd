"""When float32 is exact enough for a step of the latent flow, and when it is not.

The squared distances ||s - t a||^2 come from the expansion ||s||^2 - 2t s.a + t^2 ||a||^2, whose
rounding error is about u (||s|| + t ||a||)^2 for unit roundoff u. The logits divide it by
2 (1-t)^2, so near the anchors (t -> 1) the error grows without bound: with q=200 unit-variance
anchors float32 is off by O(1) logits at t = 0.999, enough to send a latent to the wrong one of two
close anchors (3.3 absolute error measured on an H100). A step runs in float64 when the
float32 bound exceeds the tolerance; the rest stay in fast float32.

Two tolerances: a trajectory (latents, end points) tolerates LOGIT_TOLERANCE, but the target
probabilities of the alignment loss need TARGET_LOGIT_TOLERANCE, because the loss takes their max
over steps: late in the flow a latent between two close anchors has P near 1/2 at several steps,
and an error of 1e-4 there picks another step than float64 does, and so another gradient. The
Triton kernel (`lzn.zoning.triton_kernel`) needs neither: it sums exact differences.
"""

from __future__ import annotations

import torch

# Largest tolerated float32 logit error (bound, not typical). At 1e-3 latents of anchors 1e-4 apart
# stay within ~1e-6 of a float64 brute force (benchmarks/latent_flow.py, last table), and for
# q = 200 unit-scale anchors 3 of 20 steps run in float64 (t >= 0.9), in either direction.
LOGIT_TOLERANCE = 1e-3

# log P(target) = logit_target - lse: the target's logit comes from its difference (exact), lse
# is off by at most the bound, so |dP| <= P |d log P| <= the bound: 1e-6 at most.
TARGET_LOGIT_TOLERANCE = 1e-6

# What a float32 matmul really rounds to under torch.set_float32_matmul_precision: "high" may run
# on TF32 (10-bit mantissa) and "medium" on bfloat16 (7 bits).
_FLOAT32_MATMUL_ROUNDOFF = {"highest": 2.0**-24, "high": 2.0**-11, "medium": 2.0**-8}


def float32_roundoff() -> float:
    return _FLOAT32_MATMUL_ROUNDOFF.get(torch.get_float32_matmul_precision(), 2.0**-8)


def logit_error_bound(query_norm: float, anchor_norm: float, t: float, roundoff: float) -> float:
    """Bound on the absolute logit error of the expansion for points and anchors of these norms."""
    return roundoff * (query_norm + t * anchor_norm) ** 2 / (2.0 * (1.0 - t) ** 2)


def step_dtype(
    query_norm: float,
    anchor_norm: float,
    t: float,
    dtype: torch.dtype,
    tolerance: float | None = None,
) -> torch.dtype:
    """The dtype in which to compute the posterior at time t: `dtype` unless it is too coarse for
    `tolerance` (default LOGIT_TOLERANCE)."""
    if dtype == torch.float64:
        return dtype
    tolerance = LOGIT_TOLERANCE if tolerance is None else tolerance
    bound = logit_error_bound(query_norm, anchor_norm, t, float32_roundoff())
    return torch.float32 if bound <= tolerance else torch.float64
