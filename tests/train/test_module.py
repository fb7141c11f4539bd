"""Training mechanics shared by the case studies: EMA, skipped non-finite steps, freezing."""

import copy

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lzn.modalities.label import LabelModality
from lzn.train.ema import EMA

from .tiny import tiny_module


def test_ema_warms_up_then_averages():
    layer = torch.nn.Linear(1, 1, bias=False)
    layer.weight.data.fill_(0.0)
    ema = EMA(layer, decay=0.9)
    layer.weight.data.fill_(1.0)
    ema.update(layer)  # decay min(0.9, 2/11): mostly the new weights
    assert ema.shadow["weight"].item() == pytest.approx(1 - 2 / 11)
    for _ in range(200):
        ema.update(layer)
    assert ema.shadow["weight"].item() == pytest.approx(1.0, abs=1e-6)
    layer.weight.data.fill_(5.0)
    with ema.applied(layer):
        assert layer.weight.item() == pytest.approx(1.0, abs=1e-6)
    assert layer.weight.item() == 5.0


def _fit(module, steps):
    x = torch.rand(64, 1, 8, 8) * 2 - 1
    y = torch.arange(64) % 10
    trainer = L.Trainer(
        max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, DataLoader(TensorDataset(x, y), batch_size=32))
    return trainer


def test_a_non_finite_gradient_skips_the_step():
    module = tiny_module()
    before = {k: v.clone() for k, v in module.model.state_dict().items()}
    module.losses = lambda batch: {"rf": module.model.image.encode(batch[0]).sum() * float("inf")}
    trainer = _fit(module, 2)
    for k, v in module.model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert module.skipped_steps == 2 and trainer.global_step == 2


def _trained_copies(module, steps=(1, 3)):
    """Copies of the module trained for each number of steps from the same start and noise."""
    copies = []
    for n in steps:
        trained = copy.deepcopy(module)
        torch.manual_seed(0)
        _fit(trained, n)
        copies.append(trained.model)
    return copies


def test_parts_freeze_after_their_iterations():
    """With a decoder budget of 1 step, 3 steps leave the decoder as 1 step left it."""
    module = tiny_module(iterations={"encoder": 100, "decoder": 1, "label": 100})
    one, three = (m.image for m in _trained_copies(module))
    assert all(not p.requires_grad for p in three.decoder.parameters())
    for (k, a), (_, b) in zip(
        one.decoder.state_dict().items(), three.decoder.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), k
    assert not torch.equal(next(one.encoder.parameters()), next(three.encoder.parameters()))


def test_steps_after_every_budget_change_nothing():
    module = tiny_module(iterations={"encoder": 1, "decoder": 1, "label": 1})
    one, three = (m.state_dict() for m in _trained_copies(module))
    for k, v in one.items():
        assert torch.equal(v, three[k]), k


def test_training_lowers_both_losses():
    torch.manual_seed(0)
    module = tiny_module(warmup_steps=1)
    x = torch.rand(64, 1, 8, 8) * 2 - 1
    y = torch.arange(64) % 10

    @torch.no_grad()
    def losses():  # the same noise every time
        torch.manual_seed(1)
        return module.losses((x, y))

    z = module.latents(x).detach()
    first = losses()
    _fit(module, 30)
    last = losses()
    assert last["rf"] < first["rf"] and last["label"] < first["label"]
    assert torch.isfinite(z).all()


def test_global_class_weights_without_a_process_group_are_the_batchs():
    w = LabelModality(4, 2).class_weights(torch.tensor([1, 1, 2, 0]), gather=True)
    assert torch.allclose(w, torch.tensor([0.25, 0.5, 0.25, 0.0]))
