"""The case study 2 harness on tiny sizes: views, backbone, NT-Xent, probes, runs, resume, table."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

import representation_mnist as bench
import selfsup


def test_backbone_has_the_protocol_parameter_count():
    net = selfsup.backbone()
    assert sum(p.numel() for p in net.parameters()) == 240_608
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 128)


def test_views_keep_shape_and_range_differ_and_follow_the_seed():
    x = torch.rand(8, 1, 28, 28)
    gen = torch.Generator().manual_seed(0)
    v1, v2 = selfsup.random_view(x, gen), selfsup.random_view(x, gen)
    assert v1.shape == v2.shape == x.shape
    assert v1.min() >= 0 and v1.max() <= 1 and v2.min() >= 0 and v2.max() <= 1
    assert (v1 - v2).abs().flatten(1).amax(1).min() > 0.1  # every image's two views differ
    again = selfsup.random_view(x, torch.Generator().manual_seed(0))
    assert torch.equal(again, v1)


def test_crop_rotate_identity_and_quarter_turn():
    x = torch.rand(2, 1, 6, 6)
    one, zero = torch.ones(2), torch.zeros(2)
    same = selfsup.crop_rotate(x, one, one, torch.zeros(2, 2), zero)
    torch.testing.assert_close(same, x)
    turned = selfsup.crop_rotate(x, one, one, torch.zeros(2, 2), torch.full((2,), math.pi / 2))
    assert any(torch.allclose(turned, x.rot90(k, (2, 3)), atol=1e-5) for k in (1, -1))
    # centre x = 0.5 (one pixel of a 4-pixel image): the image moves one pixel left, zeros enter
    y = torch.rand(2, 1, 4, 4)
    shifted = selfsup.crop_rotate(y, one, one, torch.tensor([[0.5, 0.0]] * 2), zero)
    torch.testing.assert_close(shifted[..., :3], y[..., 1:])
    assert torch.equal(shifted[..., 3], torch.zeros(2, 1, 4))


def test_erasing_zeroes_one_rectangle_of_2_to_15_percent():
    x = torch.ones(200, 1, 28, 28)
    erased = selfsup.random_erase(x, torch.Generator().manual_seed(0), p=1.0)
    zeros = (erased == 0).flatten(1).sum(1).float()

    def rounding(area):  # each side is rounded to whole pixels: up to half a pixel either way
        return 0.5 * math.sqrt(area) * (math.sqrt(3.3) + 1 / math.sqrt(3.3)) + 0.25

    low, high = 0.02 * 784, 0.15 * 784
    assert low - rounding(low) <= zeros.min() and zeros.max() <= high + rounding(high)
    assert zeros.min() < 0.04 * 784 and zeros.max() > 0.12 * 784  # the whole range is drawn
    rows, cols = (erased[:, 0] == 0).any(2).sum(1), (erased[:, 0] == 0).any(1).sum(1)
    assert torch.equal(rows * cols, (erased == 0).flatten(1).sum(1))  # one filled rectangle
    kept = selfsup.random_erase(x, torch.Generator().manual_seed(0), p=0.0)
    assert torch.equal(kept, x)


def test_nt_xent_of_aligned_orthogonal_pairs_is_analytic():
    b, t = 4, 0.5
    z = torch.eye(b, 8)
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + (2 * b - 2)))
    assert selfsup.nt_xent(z, 3 * z, t).item() == pytest.approx(expected, rel=1e-6)


def test_nt_xent_matches_the_per_view_formula():
    z1, z2 = torch.randn(5, 3), torch.randn(5, 3)
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim, b, total = z @ z.T / 0.5, 5, 0.0
    for i in range(2 * b):
        others = [k for k in range(2 * b) if k != i]
        total += -(sim[i, (i + b) % (2 * b)] - torch.logsumexp(sim[i, others], 0))
    assert selfsup.nt_xent(z1, z2, 0.5).item() == pytest.approx(total.item() / (2 * b), rel=1e-5)


def test_probes_separate_a_separable_set():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 20)) * 5
    y = np.repeat(np.arange(3), 40)
    x = centres[y] + rng.normal(size=(120, 20))
    test_y = np.repeat(np.arange(3), 10)
    test_x = centres[test_y] + rng.normal(size=(30, 20))
    accuracy, c, by_c = selfsup.linear_probe(x, y, test_x, test_y)
    assert accuracy == 1.0 and c in selfsup.PROBE_CS and len(by_c) == 6
    assert selfsup.knn_probe(x, y, test_x, test_y) == 1.0
    shuffled = rng.permutation(y)  # labels unrelated to the features: near chance
    assert selfsup.knn_probe(x, shuffled, test_x, test_y) < 0.7


def _tiny_data() -> bench.Data:
    gen = torch.Generator().manual_seed(0)
    y = np.arange(96) % 2
    x = torch.rand(96, 1, 28, 28, generator=gen) * 0.2
    x[torch.from_numpy(y == 1), :, 8:20, 8:20] += 0.7  # class 1: a bright square
    return bench.Data(x[:64], y[:64], x[64:], y[64:])


TINY = ["--seeds", "0", "--steps", "2", "--batch", "16", "--lzn-steps", "4"]


def test_harness_writes_runs_and_table_then_resumes(tmp_path, monkeypatch):
    data, out = _tiny_data(), tmp_path / "cs2"
    argv = [*TINY, "--methods", "simclr", "pixels", "--out", str(out)]
    records = bench.main(argv, data=data)
    run = json.loads((out / "simclr-seed0.json").read_text())
    assert run["settings"]["steps"] == 2 and run["settings"]["temperature"] == 0.5
    assert [step for step, _ in run["loss_curve"]] == [2]
    assert run["train_seconds"] > 0 and run["machine"]["torch_threads"] >= 1
    assert 0 <= run["knn_accuracy"] <= 1 and run["chosen_C"] in selfsup.PROBE_CS
    assert json.loads((out / "pixels-seed0.json").read_text())["linear_accuracy"] == 1.0
    table = (out / "results.md").read_text()
    assert "| simclr |" in table and "| pixels |" in table and "torch threads" in table
    assert "--methods simclr pixels" in table
    results = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in results["runs"]] == ["simclr", "pixels"]

    mtime = (out / "simclr-seed0.json").stat().st_mtime_ns
    monkeypatch.setattr(bench, "run_one", lambda *a: pytest.fail("a finished run ran again"))
    again = bench.main(argv, data=data)
    assert (out / "simclr-seed0.json").stat().st_mtime_ns == mtime
    assert [r["linear_accuracy"] for r in again] == [r["linear_accuracy"] for r in records]
    with pytest.raises(ValueError, match="lr"):
        bench.main([*argv, "--lr", "0.01"], data=data)


def test_lzn_run_records_its_settings_and_repeats_exactly(tmp_path):
    pytest.importorskip("lzn.losses")
    runs = []
    for out in (tmp_path / "a", tmp_path / "b"):
        argv = [*TINY, "--methods", "lzn", "--lzn-alpha", "0.8", "--out", str(out)]
        bench.main(argv, _tiny_data())
        runs.append(json.loads((out / "lzn-seed0.json").read_text()))
    run = runs[0]
    assert run["settings"]["alpha"] == 0.8 and run["settings"]["flow_steps"] == 4
    assert run["settings"]["head"] == [128, 256, 64] and run["settings"]["log"] is True
    assert math.isfinite(run["loss_curve"][0][1])
    assert runs[1]["loss_curve"] == run["loss_curve"]  # the seed fixes init, order and views


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--steps"):
        bench.main(["--steps", "0", "--out", str(tmp_path)], _tiny_data())


def test_sweep_runs_each_variant_into_its_folder_and_collects_them(tmp_path):
    import representation_mnist_sweep as sweep

    out = tmp_path / "sweep"
    argv = [
        "--variants",
        "lzn-clip1-symmetric",
        "simclr-clip1-t0.2",
        "--steps",
        "2",
        "--out",
        str(out),
    ]
    rows = sweep.main([*argv, "--batch", "16", "--lzn-steps", "4"], data=_tiny_data())
    assert [r["variant"] for r in rows] == ["lzn-clip1-symmetric", "simclr-clip1-t0.2"]
    lzn = json.loads((out / "lzn-clip1-symmetric" / "lzn-seed0.json").read_text())
    simclr = json.loads((out / "simclr-clip1-t0.2" / "simclr-seed0.json").read_text())
    assert lzn["settings"]["symmetric"] is True and simclr["settings"]["temperature"] == 0.2
    assert lzn["settings"]["grad_clip"] == simclr["settings"]["grad_clip"] == 1.0
    assert rows[0]["linear"] == {0: lzn["linear_accuracy"]}
    text = (out / "sweep.md").read_text()
    assert "| lzn-clip1-symmetric | `--grad-clip 1.0 --lzn-symmetric` |" in text
    assert "`--grad-clip 1.0 --temperature 0.2`" in text


def test_mean_over_steps_is_the_mean_log_assignment_after_the_cutoff():
    from lzn import zoning

    gen = torch.Generator().manual_seed(0)
    query = torch.randn(12, 6, generator=gen) * 0.5
    key = query + 0.3 * torch.randn(12, 6, generator=gen)  # views: P far from 0 at every step
    loss = bench.MeanOverSteps(alpha=0.0, steps=10, cutoff=0.2, gather_distributed=False)
    index = torch.arange(12)
    latents = zoning.compute_latents(query, alpha=0.0, g=1e-4, steps=10, solver="euler")
    p = zoning.assignment_probabilities(latents, key, index, steps=10)
    assert loss(query, key).item() == pytest.approx(-p[2:].log().mean().item(), rel=1e-5)
    paper = bench.LatentAlignmentLoss(alpha=0.0, steps=10, cutoff=0.2, gather_distributed=False)
    assert paper(query, key).item() == pytest.approx(-p[2:].log().amax(0).mean().item(), rel=1e-5)


def test_lzn_variants_are_recorded_only_when_set_and_build_what_they_say():
    args = bench.parser().parse_args(["--lzn-reduce", "mean", "--lzn-hidden-norm", "batchnorm"])
    s = bench.method_settings("lzn", args)
    assert s["reduce"] == "mean" and s["hidden_norm"] == "batchnorm"
    default = bench.method_settings("lzn", bench.parser().parse_args([]))
    assert "reduce" not in default and "hidden_norm" not in default  # stored runs still resume
    made = bench.objective("lzn", s)
    assert isinstance(made.loss, bench.MeanOverSteps)
    assert isinstance(made.head[1], torch.nn.BatchNorm1d)
    with pytest.raises(ValueError, match="needs the log form"):
        bench.check(bench.parser().parse_args(["--lzn-reduce", "mean", "--no-lzn-log"]))
