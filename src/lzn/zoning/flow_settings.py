"""How the latent flow is integrated: one settings object, owned by each modality.

`FlowSettings(solver, steps, g)`: the integrator (a name in `lzn.integrators.SOLVERS` or a
`Solver`), its number of steps, and g, the offset from the anchors where latent computation
starts (t_0 = 1 - g; the forward flow to the anchors does not use it). Its field defaults are the
zoning functions' defaults. A modality holds its own (`model.image.flow`, `model.label.flow`) and
passes it whole (`flow=`), so what a modality reports is what it runs. The noise scale alpha is
not a flow setting: callers choose it per call.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lzn.zoning import validation as check
from lzn.zoning.solvers import Solver, get_solver


@dataclass(frozen=True)
class FlowSettings:
    """The latent flow's integrator, step count and start offset g; checked when made."""

    solver: str | Solver = "euler"
    steps: int = 20
    g: float = 1e-3

    def __post_init__(self):
        get_solver(self.solver)  # an unknown name is refused with the list of valid ones
        check.positive_int("steps", self.steps)
        if not check.in_range("g", self.g, 0.0, 1.0) > 0.0:
            raise ValueError(f"g must be a number in (0, 1), got {self.g!r}")


DEFAULT_FLOW = FlowSettings()


def resolve(
    flow: FlowSettings,
    *,
    solver: str | Solver | None = None,
    steps: int | None = None,
    g: float | None = None,
) -> FlowSettings:
    """`flow` with the fields that are given (not None) replaced: what the `solver=`, `steps=`
    and `g=` keywords mean next to `flow=`."""
    if not isinstance(flow, FlowSettings):
        raise TypeError(f"flow must be a lzn.zoning.FlowSettings, got {type(flow).__name__}")
    given = {"solver": solver, "steps": steps, "g": g}
    changes = {name: value for name, value in given.items() if value is not None}
    return dataclasses.replace(flow, **changes) if changes else flow
