"""Latent parallelism: 2 CPU processes (gloo) give the gradients of 1 process on the whole batch."""

import json

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lzn import zoning

WORLD, LOCAL, DIM_IN, DIM = 2, 12, 8, 5


def _problem():
    gen = torch.Generator().manual_seed(0)
    encoder = torch.nn.Linear(DIM_IN, DIM, dtype=torch.float64)
    with torch.no_grad():
        for p in encoder.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    data = torch.randn(WORLD * LOCAL, DIM_IN, generator=gen, dtype=torch.float64)
    noise = torch.randn(WORLD * LOCAL, DIM, generator=gen, dtype=torch.float64)
    return encoder, data, noise


def _loss(encoder, data, noise, total):
    """Per-sample losses summed and divided by the global batch: ranks' losses add up."""
    anchors, index = zoning.gather_anchors(encoder(data))
    z = zoning.compute_latents(anchors, noise=noise[index], index=index, solver="dpm++")
    per_sample = zoning.alignment_loss(z, anchors, index, log=True) * len(index)
    return (per_sample + (z**2).sum()) / total, z


def _worker(rank, init_file, out_dir):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        encoder, data, noise = _problem()
        shard = slice(rank * LOCAL, (rank + 1) * LOCAL)
        loss, z = _loss(encoder, data[shard], noise, WORLD * LOCAL)
        loss.backward()
        grads = [p.grad.clone() for p in encoder.parameters()]
        for g in grads:
            dist.all_reduce(g)
        uneven = "no error"
        try:
            zoning.gather_anchors(torch.zeros(3 - rank, DIM))
        except ValueError as e:
            uneven = str(e)
        result = {"z": z.tolist(), "grads": [g.tolist() for g in grads], "uneven": uneven}
        with open(f"{out_dir}/rank{rank}.json", "w") as f:
            json.dump(result, f)
        dist.barrier()  # no rank may tear down gloo while another still talks to it
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_ranks_give_the_gradients_of_one_process(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    encoder, data, noise = _problem()
    loss, z = _loss(encoder, data, noise, WORLD * LOCAL)  # no process group: one process
    loss.backward()
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]
    z_ranks = torch.cat([torch.tensor(r["z"], dtype=torch.float64) for r in results])
    assert torch.allclose(z_ranks, z.detach(), atol=1e-12)
    for r in results:
        for got, p in zip(r["grads"], encoder.parameters(), strict=True):
            assert torch.allclose(torch.tensor(got, dtype=torch.float64), p.grad, atol=1e-12)
        assert "same number of anchors on every rank, got [3, 2]" in r["uneven"]


def test_without_a_process_group_gather_is_the_identity():
    local = torch.randn(4, 3)
    anchors, index = zoning.gather_anchors(local)
    assert anchors is local and index.tolist() == [0, 1, 2, 3]
