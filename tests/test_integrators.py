"""One registry of the integrators of both flows (`lzn.integrators`): what it lists is what the
flows, `lzn sample` and `lzn evaluate` accept, and every name of a method runs that method."""

import argparse
import math

import pytest
import torch

from lzn import cli, zoning
from lzn.eval import command
from lzn.integrators import FIXED_STEP, SAMPLERS, SOLVERS
from lzn.modalities import rectified_flow as rf

RATE = torch.tensor([0.5, 3.0, -2.0]).view(3, 1)


def velocity(x, t):
    """x(t) = x(0) exp(rate sin t)."""
    return RATE * torch.cos(t).view(-1, 1) * x


X0 = torch.ones(3, 4, dtype=torch.float64)
ANCHORS = torch.randn(12, 3, generator=torch.Generator().manual_seed(0))
NOISE = torch.randn(12, 3, generator=torch.Generator().manual_seed(1))


def sample_option(dest: str) -> argparse.Action:
    commands = next(
        a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    return next(a for a in commands.choices["sample"]._actions if a.dest == dest)


def test_lzn_sample_offers_the_registrys_samplers():
    assert tuple(sample_option("sampler").choices) == SAMPLERS.names


@pytest.mark.parametrize("name", SAMPLERS.names)
def test_every_sampler_name_is_accepted_by_the_cli_and_the_evaluation(tmp_path, name):
    args = cli.build_parser().parse_args(["sample", "--model", "m", "--sampler", name])
    assert args.sampler == name
    (tmp_path / "c.yaml").write_text(
        f"data: digits\ngeneration: {{sampler: {name}}}\nreconstruction: {{sampler: {name}}}\n"
    )
    config = command.read_config(tmp_path / "c.yaml")
    assert config["generation"]["sampler"] == config["reconstruction"]["sampler"] == name


def test_an_unknown_name_is_refused_with_every_valid_one(tmp_path, capsys):
    refusals = []  # (message, the family whose names it must list)
    with pytest.raises(ValueError, match="unknown sampler 'midpoint'") as raised:
        rf.integrate(velocity, X0, 0.0, 1.0, sampler="midpoint")
    refusals.append((str(raised.value), SAMPLERS))
    with pytest.raises(ValueError, match="unknown solver 'midpoint'") as raised:
        zoning.compute_latents(ANCHORS, solver="midpoint")
    refusals.append((str(raised.value), SOLVERS))
    for section in ("generation", "reconstruction"):
        (tmp_path / "c.yaml").write_text(f"data: digits\n{section}: {{sampler: midpoint}}\n")
        with pytest.raises(ValueError, match=rf"{section} sampler must be .*'midpoint'") as raised:
            command.read_config(tmp_path / "c.yaml")
        refusals.append((str(raised.value), SAMPLERS))
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["sample", "--model", "m", "--sampler", "midpoint"])
    refusals.append((capsys.readouterr().err, SAMPLERS))
    for message, family in refusals:
        assert all(name in message for name in family.names), message


def test_every_name_of_a_method_runs_it_bit_for_bit():
    for method in SAMPLERS.integrators:
        expected = rf.integrate(velocity, X0, 0.0, 1.0, sampler=method.name, steps=5)
        for alias in method.aliases:
            got = rf.integrate(velocity, X0, 0.0, 1.0, sampler=alias, steps=5)
            assert torch.equal(got[0], expected[0]) and got[1] == expected[1]
    for method in SOLVERS.integrators:
        expected = zoning.compute_latents(ANCHORS, noise=NOISE, solver=method.name, steps=6)
        for alias in method.aliases:
            got = zoning.compute_latents(ANCHORS, noise=NOISE, solver=alias, steps=6)
            assert torch.equal(got, expected)


def test_a_sampler_takes_a_step_count_unless_it_is_adaptive():
    for name in SAMPLERS.names:
        method = SAMPLERS.lookup(name)
        if method.takes_steps:
            with pytest.raises(ValueError, match="steps must be a positive integer"):
                rf.check_sampler(name, 0)
        else:  # the tolerance sets its steps: a step count is not used
            assert rf.check_sampler(name, 0) is method


def test_fixed_step_samplers_converge_at_the_order_the_registry_states():
    exact = torch.exp(RATE * math.sin(1.0)).expand(3, 4)
    for method in SAMPLERS.integrators:
        if method.kind != FIXED_STEP:
            continue
        e20, e40 = (
            (rf.integrate(velocity, X0, 0.0, 1.0, sampler=method.name, steps=n)[0] - exact)
            .abs()
            .max()
            .item()
            for n in (20, 40)
        )
        assert math.log2(e20 / e40) == pytest.approx(method.order, abs=0.2)


def test_the_zoning_package_lists_the_registrys_solvers():
    assert zoning.SOLVERS is SOLVERS
