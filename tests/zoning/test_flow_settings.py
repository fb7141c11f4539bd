"""FlowSettings, the latent flow's one settings object: the zoning functions take it whole or as
its fields, a keyword overrides its field, and it is checked when made."""

import inspect

import pytest
import torch

from lzn import zoning
from lzn.modalities import Modality
from lzn.zoning import FlowSettings

GEN = torch.Generator().manual_seed(0)
ANCHORS = torch.randn(12, 4, generator=GEN)
NOISE = torch.randn(12, 4, generator=GEN)
LATENTS = torch.randn(6, 4, generator=GEN)
TARGETS = torch.arange(6)
FLOW = FlowSettings(solver="dpm++", steps=7, g=1e-2)
FIELDS = {"solver": "dpm++", "steps": 7, "g": 1e-2}
PATH = {"solver": "dpm++", "steps": 7}  # the forward flow takes no g
FUNCTIONS = [
    zoning.compute_latents, zoning.flow_to_anchors, zoning.assign,
    zoning.assignment_probabilities, zoning.alignment_loss,
]  # fmt: skip


def test_the_settings_and_their_fields_compute_the_same():
    def forward(**flow):
        return (
            zoning.flow_to_anchors(LATENTS, ANCHORS, **flow),
            zoning.assign(LATENTS, ANCHORS, **flow),
            zoning.assignment_probabilities(LATENTS, ANCHORS, TARGETS, **flow),
            zoning.alignment_loss(LATENTS, ANCHORS, TARGETS, **flow),
        )

    z = zoning.compute_latents(ANCHORS, noise=NOISE, flow=FLOW)
    assert torch.equal(z, zoning.compute_latents(ANCHORS, noise=NOISE, **FIELDS))
    assert not torch.equal(z, zoning.compute_latents(ANCHORS, noise=NOISE))
    for got, want in zip(forward(flow=FLOW), forward(**PATH), strict=True):
        assert torch.equal(got, want)


def test_a_keyword_overrides_its_field_of_the_settings():
    got = zoning.compute_latents(ANCHORS, noise=NOISE, flow=FLOW, steps=3)
    want = zoning.compute_latents(ANCHORS, noise=NOISE, **{**FIELDS, "steps": 3})
    assert torch.equal(got, want)


def test_every_default_is_the_settings_default():
    for function in FUNCTIONS:
        parameters = inspect.signature(function).parameters
        assert parameters["flow"].default == FlowSettings(), function.__name__
        assert all(parameters[k].default is None for k in PATH), function.__name__
    assert Modality.flow == FlowSettings()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: FlowSettings(steps=0), "steps must be a positive integer, got 0"),
        (lambda: FlowSettings(g=1.0), "g must be a number"),
        (lambda: FlowSettings(g=0.0), r"g must be a number in \(0, 1\)"),
        (lambda: FlowSettings(solver="rk4"), "unknown solver 'rk4'"),
        (lambda: zoning.compute_latents(ANCHORS, flow={"steps": 3}), "must be a lzn.zoning.Flow"),
    ],
)
def test_bad_settings_are_refused_when_made(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()
