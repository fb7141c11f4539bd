"""The drop-in LZN loss and projection head (lzn.losses): the zoning formula, both directions,
what alignment rewards, and 2 processes == 1 process on the global batch."""

import json

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lzn import zoning
from lzn.losses import LatentAlignmentLoss, ProjectionHead

SETTINGS = {"solver": "euler", "steps": 10, "g": 1e-4}


def test_the_loss_is_latents_of_the_query_aligned_to_the_key():
    query, key = torch.randn(12, 6), torch.randn(12, 6)
    loss_fn = LatentAlignmentLoss(alpha=0.45, cutoff=0.2, log=True, **SETTINGS)
    torch.manual_seed(3)
    loss = loss_fn(query, key)
    torch.manual_seed(3)  # the same noise for the latents
    index = torch.arange(12)
    z = zoning.compute_latents(query, alpha=0.45, index=index, **SETTINGS)
    expected = zoning.alignment_loss(z, key, index, steps=10, cutoff=0.2, log=True)
    assert torch.equal(loss, expected)


def test_symmetric_averages_both_directions():
    query, key = torch.randn(8, 4), torch.randn(8, 4)
    one_way = LatentAlignmentLoss(alpha=0.0, **SETTINGS)
    both = LatentAlignmentLoss(alpha=0.0, symmetric=True, **SETTINGS)
    assert torch.allclose(both(query, key), (one_way(query, key) + one_way(key, query)) / 2)


def test_alignment_rewards_views_whose_anchors_match():
    query = 3 * torch.randn(16, 8)
    loss_fn = LatentAlignmentLoss()  # the paper's settings
    matched = loss_fn(query, query + 0.01 * torch.randn(16, 8))
    shuffled = loss_fn(query, query[torch.randperm(16)])
    # -mean log P(own anchor): near 0 when the views agree (0 without noise), large when not
    assert matched < 0.3 and shuffled > 3.0
    assert LatentAlignmentLoss(alpha=0.0)(query, query).abs() < 1e-6
    query.requires_grad_(True)
    key = torch.randn(16, 8, requires_grad=True)
    loss_fn(query, key).backward()
    assert query.grad.abs().sum() > 0 and key.grad.abs().sum() > 0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"same shape \(b, q\), got \(4, 3\) and \(5, 3\)"):
        LatentAlignmentLoss()(torch.zeros(4, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="alpha must be non-negative"):
        LatentAlignmentLoss(alpha=-1)


def test_the_head_has_eight_channels_a_group_and_the_paper_shape():
    head = ProjectionHead(128, 256, 64)
    kinds = [type(m).__name__ for m in head]
    assert kinds == ["Linear", "GroupNorm", "ReLU", "Linear", "GroupNorm"]
    assert head[1].num_groups == 32 and head[4].num_groups == 8  # 256/32, 64/8 channels
    assert head[0].bias is None and head(torch.randn(5, 128)).shape == (5, 64)
    paper = ProjectionHead(2048, 2048, 256)  # the official head: GroupNorm(32) on both
    assert paper[1].num_groups == paper[4].num_groups == 32


WORLD, LOCAL = 2, 6


def _problem():
    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Linear(5, 4, dtype=torch.float64)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    views = torch.randn(2, WORLD * LOCAL, 5, generator=gen, dtype=torch.float64)
    return net, views


def _worker(rank, init_file, out_dir):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        net, views = _problem()
        shard = slice(rank * LOCAL, (rank + 1) * LOCAL)
        loss = LatentAlignmentLoss(alpha=0.0, symmetric=True, **SETTINGS)
        loss(net(views[0, shard]), net(views[1, shard])).backward()
        grads = [p.grad.clone() for p in net.parameters()]
        for g in grads:  # what DDP does: the mean of the ranks' gradients
            dist.all_reduce(g)
            g /= WORLD
        with open(f"{out_dir}/rank{rank}.json", "w") as f:
            json.dump([g.tolist() for g in grads], f)
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_processes_give_the_gradients_of_one_on_the_global_batch(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    net, views = _problem()
    LatentAlignmentLoss(alpha=0.0, symmetric=True, **SETTINGS)(
        net(views[0]), net(views[1])
    ).backward()
    for rank in range(WORLD):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        for g, p in zip(got, net.parameters(), strict=True):
            assert torch.allclose(torch.tensor(g, dtype=torch.float64), p.grad, atol=1e-10)
