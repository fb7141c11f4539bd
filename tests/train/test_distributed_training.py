"""One training step on 2 CPU processes (gloo, DDP) equals 1 process's step on the same batch."""

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from lzn import zoning
from lzn.modalities import rectified_flow as rf
from lzn.train.module import JointModule

from .tiny import tiny_module

N = 8
TABLE = torch.Generator().manual_seed(0)
IMAGES = torch.rand(N, 1, 8, 8, generator=TABLE) * 2 - 1
LABELS = torch.arange(N) % 4
LATENT_NOISE = torch.randn(N, 16, generator=TABLE)
IMAGE_NOISE = torch.randn(N, 1, 8, 8, generator=TABLE)
TIMES = torch.rand(N, generator=TABLE)


class Indexed(Dataset):
    def __len__(self):
        return N

    def __getitem__(self, i):
        return IMAGES[i], LABELS[i], i


class FixedNoiseJoint(JointModule):
    """Noise drawn from tables by sample index: 1 and 2 processes see the same randomness."""

    def losses(self, batch):
        images, labels, ids = batch
        anchors, index = zoning.gather_anchors(self.model.image.encode(images))
        z = zoning.compute_latents(
            anchors, noise=LATENT_NOISE[ids], index=index, flow=self.model.image.flow
        )
        velocity = self.model.image.velocity(z, labels)
        rf_loss = rf.loss(velocity, images, noise=IMAGE_NOISE[ids], t=TIMES[ids])
        weights = self.model.label.class_weights(labels, gather=True)  # summed over ranks
        return {"rf": rf_loss, "label": self.model.label.alignment_loss(z, labels, weights)}


def _train(devices: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    module = tiny_module(FixedNoiseJoint, optimizer="sgd", warmup_steps=1)
    trainer = L.Trainer(
        max_steps=1,
        accelerator="cpu",
        devices=devices,
        strategy="ddp_spawn" if devices > 1 else "auto",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, DataLoader(Indexed(), batch_size=N // devices))
    return {k: v.detach().clone() for k, v in module.model.state_dict().items()}


def test_two_processes_take_the_step_of_one():
    one, two = _train(1), _train(2)
    torch.manual_seed(0)  # the initial weights of both runs
    initial = tiny_module(FixedNoiseJoint)
    moved = 0
    for k, v in one.items():
        assert torch.allclose(two[k], v, atol=1e-6, rtol=1e-5), k
        moved += int(not torch.equal(v, initial.model.state_dict()[k]))
    assert moved > 0  # the step did change the parameters
