"""Bad input gets an error that names the argument and the problem."""

import pytest
import torch

from lzn import zoning

A = torch.randn(10, 4)
Z = torch.randn(6, 4)
T = torch.arange(6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: zoning.compute_latents(torch.randn(10)), r"anchors must have shape \(rows, dim\)"),
        (lambda: zoning.compute_latents(torch.zeros(0, 4)), "anchors is empty"),
        (lambda: zoning.compute_latents(A.numpy()), "anchors must be a torch.Tensor"),
        (lambda: zoning.compute_latents(torch.ones(3, 2, dtype=torch.long)), "floating-point"),
        (
            lambda: zoning.compute_latents(
                A.clone().index_fill_(0, torch.tensor([3]), float("nan"))
            ),
            "anchors contains NaN or infinite values",
        ),
        (
            lambda: zoning.compute_latents(A, noise=torch.randn(10, 5)),
            "noise has dimension 5, but the anchors have dimension 4",
        ),
        (lambda: zoning.compute_latents(A, noise=torch.randn(3, 4)), "noise has 3 rows"),
        (
            lambda: zoning.compute_latents(A, noise=torch.randn(10, 4, dtype=torch.float64)),
            "floating tensors must share one dtype",
        ),
        (lambda: zoning.compute_latents(A, index=torch.tensor([0, 10])), "index contains 10"),
        (
            lambda: zoning.compute_latents(A, index=torch.tensor([0.0])),
            "index must be a 1-D integer",
        ),
        (lambda: zoning.compute_latents(A, g=0.0), r"g must be a number in \(0, 1\)"),
        (lambda: zoning.compute_latents(A, g=1.0), "g must be a number"),
        (lambda: zoning.compute_latents(A, alpha=-1.0), "alpha must be a number"),
        (lambda: zoning.compute_latents(A, steps=0), "steps must be a positive integer"),
        (lambda: zoning.compute_latents(A, solver="rk4"), "unknown solver 'rk4'"),
        (
            lambda: zoning.compute_latents(A, weights=torch.ones(9)),
            r"weights must have shape \(10,\)",
        ),
        (lambda: zoning.compute_latents(A, weights=torch.zeros(10)), "weights are all zero"),
        (lambda: zoning.compute_latents(A, weights=-torch.ones(10)), "non-negative"),
        (lambda: zoning.flow_to_anchors(torch.randn(6, 3), A), "latents has dimension 3"),
        (lambda: zoning.flow_to_anchors(Z.double(), A), "floating tensors must share one dtype"),
        (lambda: zoning.assign(Z, A, steps=-2), "steps must be a positive integer"),
        (lambda: zoning.assignment_probabilities(Z, A, torch.arange(5)), "targets has 5 entries"),
        (lambda: zoning.assignment_probabilities(Z, A, T + 5), "targets contains 10"),
        (lambda: zoning.alignment_loss(Z, A, T, cutoff=1.0), "cutoff must be a number"),
        (
            lambda: zoning.alignment_loss(Z, A, T, weights=torch.tensor([0.0] + [1.0] * 9)),
            "a target anchor has weight 0",
        ),
        (lambda: zoning.DPMSolverPP(order=4), "orders 1, 2 and 3"),
        (lambda: zoning.block_sizes(queries=0).__enter__(), "queries must be a positive integer"),
    ],
)
def test_errors_name_the_problem(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_mismatched_devices_are_refused():
    meta = torch.empty(6, 4, device="meta")
    with pytest.raises(ValueError, match="tensors must be on one device"):
        zoning.flow_to_anchors(meta, A)
