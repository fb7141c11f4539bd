"""ODE solvers for the latent flow, on a given time grid, in the paper's convention.

The path is s_t = t x + (1 - t) eps (t = 0: Gaussian, t = 1: anchors), so a field is given as its
data prediction mean(s, t) = E[x | s_t = s] and the velocity is (mean - s) / (1 - t). A solver
evaluates the field once per step, at the grid points t_0 .. t_{K-1}, and returns s(t_K). The grid
may run forward (towards the anchors) or backward (towards the Gaussian).
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from torch import Tensor

from lzn.integrators import SOLVERS

Field = Callable[[Tensor, float], Tensor]


class Solver(ABC):
    """Integrates ds/dt = (field(s, t) - s) / (1 - t) over a time grid."""

    name: str

    @abstractmethod
    def integrate(self, field: Field, s: Tensor, times: Sequence[float]) -> Tensor: ...


class Euler(Solver):
    """s += (t_{k+1} - t_k) * (mean - s) / (1 - t_k)."""

    name = "euler"

    def integrate(self, field: Field, s: Tensor, times: Sequence[float]) -> Tensor:
        for t0, t1 in itertools.pairwise(times):
            s = s + ((t1 - t0) / (1.0 - t0)) * (field(s, t0) - s)
        return s

    def __repr__(self) -> str:
        return "Euler()"


def _log_snr(t: float) -> float:
    """lambda(t) = log(alpha / sigma) with alpha = t, sigma = 1 - t; infinite at t = 0 and 1."""
    if t <= 0.0:
        return -math.inf
    if t >= 1.0:
        return math.inf
    return math.log(t) - math.log1p(-t)


def _phi23(h: float) -> tuple[float, float]:
    """phi_2 = expm1(-h)/h + 1 and phi_3 = phi_2/h - 1/2, by their series where they cancel."""
    if abs(h) < 1e-2:
        return h / 2 - h * h / 6 + h**3 / 24, -h / 6 + h * h / 24 - h**3 / 120
    phi2 = math.expm1(-h) / h + 1.0
    return phi2, phi2 / h - 0.5


class DPMSolverPP(Solver):
    """DPM-Solver++ multistep (Lu et al., 2022) with the data prediction, orders 1 to 3.

    Order 1 is exactly Euler on this path. Higher orders reuse the previous data predictions, so
    every step still costs one evaluation; a step runs at a lower order where its history is not
    long enough or crosses t = 0 or t = 1, whose log-SNR is infinite (the first and last steps of
    the grids that reach them are order 1, which is where the exponential integrator is exact in
    the limit).
    """

    name = "dpm++"

    def __init__(self, order: int = 3):
        if order not in (1, 2, 3):
            raise ValueError(f"DPM-Solver++ supports orders 1, 2 and 3, got {order!r}")
        self.order = order

    def __repr__(self) -> str:
        return f"DPMSolverPP(order={self.order})"

    def integrate(self, field: Field, s: Tensor, times: Sequence[float]) -> Tensor:
        lambdas = [_log_snr(t) for t in times]
        means: list[Tensor] = []  # data predictions, newest last
        for k in range(len(times) - 1):
            t0, t1 = times[k], times[k + 1]
            means = [*means[-2:], field(s, t0)]
            order = 1
            while order < min(self.order, len(means)) and all(
                math.isfinite(v) for v in lambdas[k - order : k + 2]
            ):
                order += 1
            # The order-1 coefficient in ratio form stays finite at t = 0 and t = 1.
            a1 = t1 - (1.0 - t1) * t0 / (1.0 - t0)
            s = ((1.0 - t1) / (1.0 - t0)) * s + a1 * means[-1]
            if order == 1:
                continue
            h = lambdas[k + 1] - lambdas[k]
            r0 = (lambdas[k] - lambdas[k - 1]) / h
            d1_0 = (means[-1] - means[-2]) / r0
            if order == 2:
                s = s + (0.5 * a1) * d1_0
                continue
            r1 = (lambdas[k - 1] - lambdas[k - 2]) / h
            d1_1 = (means[-2] - means[-3]) / r1
            d1 = d1_0 + (r0 / (r0 + r1)) * (d1_0 - d1_1)
            d2 = (d1_0 - d1_1) / (r0 + r1)
            phi2, phi3 = _phi23(h)
            s = s + (t1 * phi2) * d1 - (t1 * phi3) * d2
        return s


def get_solver(solver: str | Solver) -> Solver:
    """A solver from a name in `lzn.integrators.SOLVERS` ("euler", "dpm++" = "dpm++3" of order 3,
    "dpm++2", "dpm++1") or a Solver instance."""
    if isinstance(solver, Solver):
        return solver
    try:
        method = SOLVERS.lookup(solver)
    except ValueError as e:
        raise ValueError(f"{e}, or a lzn.zoning.Solver") from None
    return Euler() if method.name == "euler" else DPMSolverPP(method.order)
