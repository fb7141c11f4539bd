"""The latent space of LZN: zones of anchors, latents, and latent alignment.

    compute_latents(anchors, ...)                      -> latents (m, q)
    flow_to_anchors(latents, anchors, ...)             -> end points (m, q)
    assign(latents, anchors, ...)                      -> anchor index (m,)
    assignment_probabilities(latents, anchors, targets, ...) -> (steps, m)
    alignment_loss(latents, anchors, targets, ...)     -> scalar
    gather_anchors(local_anchors)                      -> (all anchors, index of the local ones)

The flow functions take its settings whole (`flow=FlowSettings(solver, steps, g)`) or as
keywords (`solver=`, `steps=`, `g=`).

Time convention: t = 0 is the Gaussian, t = 1 the anchors (see `lzn.zoning.flow`).
"""

from lzn.zoning.alignment import alignment_loss
from lzn.zoning.distributed import gather_anchors
from lzn.zoning.flow import (
    assign,
    assignment_probabilities,
    compute_latents,
    flow_to_anchors,
)
from lzn.zoning.flow_settings import FlowSettings
from lzn.zoning.kernel import block_sizes
from lzn.zoning.solvers import SOLVERS, DPMSolverPP, Euler, Solver

__all__ = [
    "SOLVERS",
    "DPMSolverPP",
    "Euler",
    "FlowSettings",
    "Solver",
    "alignment_loss",
    "assign",
    "assignment_probabilities",
    "block_sizes",
    "compute_latents",
    "flow_to_anchors",
    "gather_anchors",
]
