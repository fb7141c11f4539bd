"""Image and label modalities: round trips through their decoders."""

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
