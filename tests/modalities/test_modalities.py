"""Image and label modalities: round trips through their decoders."""

import pytest
import torch

from lzn import presets
from lzn.modalities import LabelModality


def test_label_decode_of_label_latents_returns_the_labels():
    torch.manual_seed(0)
    labels_mod = LabelModality(10, 16)
    labels = torch.arange(10).repeat(20)
    z = labels_mod.latents(labels, generator=torch.Generator().manual_seed(1))
    assert (labels_mod.decode(z) == labels).float().mean() > 0.97


def test_label_alignment_loss_trains_latents_into_their_zones():
    torch.manual_seed(0)
    labels_mod = LabelModality(4, 8)
    labels = torch.tensor([0, 0, 1, 2, 3, 3, 3, 1])
    latents = torch.randn(8, 8, requires_grad=True)
    optimizer = torch.optim.Adam([latents, labels_mod.anchors], lr=0.05)
    first = None
    for _ in range(100):
        loss = labels_mod.alignment_loss(latents, labels)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first - 0.3
    # Decoded with the weights it was trained with (the batch's class frequencies).
    weights = labels_mod.class_weights(labels)
    assert (labels_mod.decode(latents.detach(), weights=weights) == labels).all()


def test_class_weights_are_batch_frequencies():
    labels_mod = LabelModality(4, 2)
    w = labels_mod.class_weights(torch.tensor([0, 0, 1, 3]))
    assert torch.allclose(w, torch.tensor([0.5, 0.25, 0.0, 0.25]))


def test_inverse_then_forward_reconstructs_on_a_trained_decoder():
    """Train the tiny digits decoder briefly on a few images, then image -> noise -> image."""
    torch.manual_seed(0)
    model = presets.build("digits-joint", tiny=True)
    images = torch.rand(8, 1, 8, 8).mul(2).sub(1).clamp(-1, 1)
    labels = torch.arange(8)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(150):
        z = model.latents(images)
        loss = model.image.loss(images, z, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    z = model.latents(images, generator=torch.Generator().manual_seed(0)).detach()
    with torch.no_grad():
        noise = model.image.invert(images, z, labels=labels)
        back = model.image.decode(z, labels=labels, noise=noise)
    assert (back - images).abs().max() < 1e-2
    assert noise.std() > 0.5  # it really went back to the noise end


def test_the_label_flow_setting_is_what_labels_run():
    """`label.flow` reports the preset's label settings (not the base default) and is what
    latents, decode and the alignment loss read: change it and they change."""
    from lzn import zoning
    from lzn.modalities.base import Modality

    label = presets.build("digits-joint", tiny=True).label
    given = presets.config("digits-joint")["label"]
    fields = {k: given[k] for k in ("solver", "steps", "g")}
    assert label.flow == zoning.FlowSettings(**fields) != Modality.flow
    labels = torch.tensor([0, 3, 3, 9])
    weights = torch.full((10,), 0.1)

    def runs():
        z = label.latents(labels, generator=torch.Generator().manual_seed(0))
        return z, label.decode(z, weights=weights), label.alignment_loss(z, labels, weights)

    def expected(flow):
        z = zoning.compute_latents(
            label.anchors, index=labels, generator=torch.Generator().manual_seed(0),
            solver=flow.solver, steps=flow.steps, g=flow.g,
        )  # fmt: skip
        path = {"steps": flow.steps, "solver": flow.solver}
        return (
            z,
            zoning.assign(z, label.anchors, weights=weights, **path),
            zoning.alignment_loss(z, label.anchors, labels, cutoff=0.2, weights=weights, **path),
        )

    preset = runs()
    for got, want in zip(preset, expected(label.flow), strict=True):
        assert torch.equal(got, want)
    label.flow = zoning.FlowSettings(solver="euler", steps=5, g=1e-2)
    changed = runs()
    for got, want in zip(changed, expected(label.flow), strict=True):
        assert torch.equal(got, want)
    assert not torch.equal(changed[0], preset[0]) and changed[2] != preset[2]


def test_image_decode_and_invert_pass_the_rk45_cap_on():
    from torch import nn

    from lzn.modalities import ImageModality
    from lzn.modalities.rectified_flow import T_MIN, EvaluationCapError

    class Drift(nn.Module):  # dx/dt = 1: one RK45 step of 1% cannot cover the time
        latent_dim = 2

        def forward(self, x, t, latents, onehot):
            return torch.ones_like(x)

    image = ImageModality(nn.Linear(1, 2), Drift(), image_size=2, channels=1, latent_dim=2)
    z, x = torch.zeros(3, 2), torch.zeros(3, 1, 2, 2)
    end = image.decode(z, noise=x, max_evaluations=1000)  # from t = T_MIN to 1
    assert torch.allclose(end, torch.full_like(x, 1 - T_MIN))
    with pytest.raises(EvaluationCapError, match="cap of 7 velocity evaluations"):
        image.decode(z, max_evaluations=7)
    with pytest.raises(EvaluationCapError, match="cap of 7 velocity evaluations"):
        image.invert(x, z, max_evaluations=7)


@pytest.mark.parametrize("name", ["digits-joint", "mnist-representation"])
def test_the_image_flow_setting_is_what_image_latents_run(name):
    """`image.flow` is the preset's image flow (DPM-Solver++ or case study 2's Euler), and the
    model's latents are a zoning call with exactly its fields."""
    from lzn import zoning

    model = presets.build(name, tiny=True).eval()
    flow = model.image.flow
    assert flow == presets.settings(name).image.flow != zoning.FlowSettings()
    size = model.image.image_size
    images = torch.rand(5, model.image.channels, size, size) * 2 - 1
    with torch.no_grad():
        got = model.latents(images, generator=torch.Generator().manual_seed(0))
        expected = zoning.compute_latents(
            model.encode(images), generator=torch.Generator().manual_seed(0),
            solver=flow.solver, steps=flow.steps, g=flow.g,
        )  # fmt: skip
    assert torch.equal(got, expected)


def test_image_latents_with_a_bank_and_gather_are_the_zoning_call_on_bank_plus_batch():
    """One code path for one process and many: without a process group, gathering changes
    nothing, and the batch's latents sit behind the bank's anchors (index offset by the bank)."""
    from lzn import zoning

    model = presets.build("digits-joint", tiny=True).eval()
    images = torch.rand(5, 1, 8, 8) * 2 - 1
    bank = torch.randn(7, model.latent_dim)

    def seeded():
        return torch.Generator().manual_seed(0)

    with torch.no_grad():
        alone = model.image.latents(images, bank=bank, generator=seeded())
        gathered = model.image.latents(images, bank=bank, generator=seeded(), gather=True)
        expected = zoning.compute_latents(
            torch.cat([bank, model.encode(images)]), index=torch.arange(7, 12),
            generator=seeded(), flow=model.image.flow,
        )  # fmt: skip
    assert torch.equal(alone, expected) and torch.equal(gathered, expected)
    with pytest.raises(ValueError, match="bank= and gather= do not apply"):
        model.label.latents(torch.tensor([1, 2]), gather=True)
