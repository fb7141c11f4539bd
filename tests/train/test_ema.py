"""The EMA averages a part only while it trains: a part frozen at step k keeps the average it had
at k, as in the official code (case study 3 freezes the decoder long before the encoder)."""

import lightning as L
import torch

from lzn.data import DigitsData
from lzn.train.ema import EMA
from lzn.train.module import GenerationModule, JointModule

from .tiny import tiny

DECODER_STEPS, STEPS = 2, 4


def _trained(max_steps, cls=JointModule, latent_input=True):
    L.seed_everything(0)  # the same initial weights, data order and noise for every run
    config, recipe = tiny("digits-joint", cls)
    config["label"]["steps"] = 10  # fast; the mechanics do not depend on it
    config["image"]["decoder"]["latent_input"] = latent_input
    iterations = {"encoder": STEPS, "decoder": DECODER_STEPS, "label": STEPS}
    module = cls(model=config, recipe=recipe | {"iterations": iterations})
    trainer = L.Trainer(
        max_steps=max_steps, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, DigitsData(batch_size=16))
    return module


def _part(tensors, prefix):
    return {k: v for k, v in tensors.items() if k.startswith(prefix)}


def test_a_frozen_decoder_keeps_the_average_it_had_at_its_freeze():
    at_freeze, later = _trained(DECODER_STEPS), _trained(STEPS)
    decoder, encoder = "modalities.image.decoder.", "modalities.image.encoder."
    for name in (decoder, encoder):
        assert (
            _part(later.ema.shadow, name)
            and _part(later.ema.shadow, name).keys() == _part(at_freeze.ema.shadow, name).keys()
        )
    raw = {k: p for k, p in later.model.named_parameters()}
    raw_at_freeze = {k: p for k, p in at_freeze.model.named_parameters()}
    for k, v in _part(later.ema.shadow, decoder).items():
        assert torch.equal(v, at_freeze.ema.shadow[k]), k  # bit for bit
        assert torch.equal(raw[k], raw_at_freeze[k]), k
    assert any(not torch.equal(v, raw[k]) for k, v in _part(later.ema.shadow, decoder).items())
    assert any(
        not torch.equal(v, at_freeze.ema.shadow[k])
        for k, v in _part(later.ema.shadow, encoder).items()
    )
    assert later.ema.updates == STEPS and at_freeze.ema.updates == DECODER_STEPS


def test_a_baseline_stopped_at_its_decoder_freeze_exports_the_same_model():
    """The conditional RF baseline (configs/baselines/cifar10-joint-rf.yaml) trains its decoder
    alone: steps after the decoder's freeze change neither the weights nor their average."""
    args = {"cls": GenerationModule, "latent_input": False}
    at_freeze, later = _trained(DECODER_STEPS, **args), _trained(STEPS, **args)
    for k, v in later.ema.shadow.items():
        assert torch.equal(v, at_freeze.ema.shadow[k]), k
    weights = at_freeze.model.state_dict()
    for k, v in later.model.state_dict().items():
        assert torch.equal(v, weights[k]), k


def test_only_parameters_that_train_are_averaged_and_the_state_format_is_kept():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    ema = EMA(net, decay=0.5)
    start = {k: v.clone() for k, v in ema.shadow.items()}
    net[1].requires_grad_(False)  # frozen, as `_freeze_finished_parts` does
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    ema.update(net)
    assert torch.equal(ema.shadow["1.weight"], start["1.weight"])
    assert torch.equal(ema.shadow["1.bias"], start["1.bias"])
    assert not torch.equal(ema.shadow["0.weight"], start["0.weight"])
    state = ema.state_dict()
    assert set(state) == {"decay", "updates", "shadow"}  # checkpoints written before still load
    restored = EMA(net, decay=0.9)
    restored.load_state_dict(state)
    assert restored.updates == 1 and restored.decay == 0.5
    assert all(torch.equal(restored.shadow[k], v) for k, v in ema.shadow.items())
