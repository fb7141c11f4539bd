"""The ODE integrators of LZN's two flows, under one vocabulary.

Two flows are integrated: the decoder's rectified flow, from image noise to an image and back
(`lzn.modalities.rectified_flow`; its integrators are "samplers", `sampler=`), and the latent
flow, from the Gaussian to the anchors (`lzn.zoning.solvers`; "solvers", `solver=`). Each family
below lists the methods it implements and every name it accepts. Where a method is one of
torchdiffeq's (whose names flow_matching's ODESolver takes), its torchdiffeq name is accepted as
an alias: "heun2" for Heun's method, "dopri5" for RK45 (Dormand-Prince 5(4)). The command line
(`lzn sample --sampler`) and `lzn evaluate` read the accepted names from here.
"""

from __future__ import annotations

from dataclasses import dataclass

FIXED_STEP = "fixed-step"  # the given steps, the same evaluations in each
ADAPTIVE = "adaptive"  # steps sized by an error estimate, to a tolerance
MULTISTEP = "multistep"  # the given steps, each reusing the evaluations of earlier ones


@dataclass(frozen=True)
class Integrator:
    """One integration method: its name, the other names it answers to, its kind and order."""

    name: str
    kind: str  # FIXED_STEP | ADAPTIVE | MULTISTEP
    order: int
    aliases: tuple[str, ...] = ()

    @property
    def takes_steps(self) -> bool:
        """A number of steps sets its time grid (an adaptive method's tolerance sets its own)."""
        return self.kind != ADAPTIVE


class Family:
    """The integrators of one flow, found by any name they answer to."""

    def __init__(self, noun: str, *integrators: Integrator):
        self.noun = noun  # what the flow's functions call their integrator: sampler | solver
        self.integrators = integrators
        self._by_name = {name: i for i in integrators for name in (i.name, *i.aliases)}

    @property
    def names(self) -> tuple[str, ...]:
        """Every accepted name: the integrators' own names, then their aliases."""
        aliases = (alias for i in self.integrators for alias in i.aliases)
        return (*(i.name for i in self.integrators), *aliases)

    def listing(self) -> str:
        """The accepted names for an error message: "euler, heun (alias heun2) or rk45 (...)"."""
        parts = [
            f"{i.name} (alias {', '.join(i.aliases)})" if i.aliases else i.name
            for i in self.integrators
        ]
        return f"{', '.join(parts[:-1])} or {parts[-1]}" if len(parts) > 1 else parts[0]

    def lookup(self, name: str) -> Integrator:
        """The integrator `name` names; a ValueError that lists the valid names if none."""
        try:
            return self._by_name[name]
        except (KeyError, TypeError):  # TypeError: an unhashable value, e.g. a list
            raise ValueError(f"unknown {self.noun} {name!r}: use one of {self.listing()}") from None


# The decoder's rectified flow (`lzn.modalities.rectified_flow.integrate`).
SAMPLERS = Family(
    "sampler",
    Integrator("euler", FIXED_STEP, 1),
    Integrator("heun", FIXED_STEP, 2, aliases=("heun2",)),
    Integrator("rk45", ADAPTIVE, 5, aliases=("dopri5",)),  # error control per sample
)
# The latent flow (`lzn.zoning.solvers.get_solver`). DPM-Solver++ has no torchdiffeq name.
SOLVERS = Family(
    "solver",
    Integrator("euler", FIXED_STEP, 1),
    Integrator("dpm++", MULTISTEP, 3, aliases=("dpm++3",)),
    Integrator("dpm++2", MULTISTEP, 2),
    Integrator("dpm++1", MULTISTEP, 1),  # exactly Euler on the latent path
)
