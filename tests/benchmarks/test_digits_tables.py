"""The case study 1 and 3 harnesses on tiny budgets: arms, scorer, runs, resume, tables."""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

import digits_generators
import generation_digits as cs1
import joint_digits as cs3
import runs
from lzn import LZN, presets, zoning

TINY = ["--seeds", "0", "--steps", "2", "--batch", "32", "--warmup", "1", "--samples", "40",
        "--sampler", "euler", "--sample-steps", "2"]  # fmt: skip


@pytest.fixture(scope="module")
def scorer():
    return digits_generators.Scorer()


def test_scorer_gives_the_reference_itself_a_perfect_score(scorer):
    """The held-out digits against themselves: FID 0, every sample inside the manifold; the
    MNIST-only classifier reads them as well as it reads digits in general (about 91%)."""
    score = scorer.score(scorer.x_test)
    assert score["fid"] == pytest.approx(0.0, abs=1e-6)
    assert score["precision"] == score["recall"] == 1.0
    assert 0.85 < scorer.read_as(scorer.x_test, scorer.y_test) < 0.97
    noise = scorer.score(torch.rand(359, 1, 8, 8) * 2 - 1)
    assert noise["fid"] > 10 * scorer.real_train_images(359)["fid"]


def test_case_study_1_arms_differ_only_in_the_latent_and_resume(tmp_path, monkeypatch):
    out = tmp_path / "cs1"
    records = cs1.main([*TINY, "--out", str(out)])
    assert [r["method"] for r in records] == ["rf", "lzn"]
    rf, lzn = (json.loads((out / f"{a}-seed0.json").read_text()) for a in ("rf", "lzn"))
    differ = {k for k in rf["settings"] if rf["settings"][k] != lzn["settings"][k]}
    assert differ == {"latent_input"} and lzn["settings"]["latent_input"] is True
    assert lzn["loss_curve"][-1]["step"] == 2 and "loss/rf" in lzn["loss_curve"][-1]
    kept = LZN.from_pretrained(out / "models" / "lzn-seed0")  # for re-scoring without training
    assert kept.image.decoder.latent_dim == 16 and lzn["model"].endswith("lzn-seed0")
    assert all(0 <= r[k] <= 1 for r in records for k in ("precision", "recall"))
    table = (out / "results.md").read_text()
    assert "| rf |" in table and "| lzn |" in table and "real (training digits)" in table
    assert "torch threads" in table and "--steps 2" in table

    monkeypatch.setattr(cs1, "run_one", lambda *a: pytest.fail("a finished run ran again"))
    again = cs1.main([*TINY, "--out", str(out)])
    assert [r["fid"] for r in again] == [r["fid"] for r in records]
    with pytest.raises(ValueError, match="lr"):
        cs1.main([*TINY, "--lr-decoder", "1e-4", "--out", str(out)])


def test_case_study_3_arms_share_the_encoder_they_start_from():
    """Every arm is built from the preset under the same seed: the same initial encoder; lzn is
    the joint model, cond-rf's decoder takes no latent, ce has no decoder."""
    s = cs3.settings("lzn", cs3.parser().parse_args(TINY), SimpleNamespace(name="features"))
    before, modules = json.dumps(s), {}
    for arm in cs3.ARMS:
        L.seed_everything(0, verbose=False)
        modules[arm] = cs3.build(arm, s)
    assert json.dumps(s) == before  # the settings a run records are what it ran with
    encoders = [m.model.image.encoder.state_dict() for m in modules.values()]
    for other in encoders[1:]:
        assert all(torch.equal(encoders[0][k], other[k]) for k in encoders[0])
    assert modules["cond-rf"].model.image.decoder.latent_dim == 0
    assert modules["lzn"].model.image.decoder.latent_dim == 16
    assert modules["ce"].model.image.decoder is None
    assert set(modules["ce"].parts()) == {"encoder", "label"}


def test_case_study_3_cross_entropy_is_the_linear_classifier_on_the_anchors():
    s = {"lr": {"encoder": 1e-3, "decoder": 1e-3, "label": 1e-3}, "steps": 4, "ema": 0.9,
         "warmup_steps": 1}  # fmt: skip
    module = cs3.build("ce", s)
    images, labels = torch.rand(6, 1, 8, 8) * 2 - 1, torch.arange(6)
    logits = module.logits(images)
    anchors = module.model.image.encode(images)
    by_class = torch.stack([anchors @ a for a in module.model.label.anchors], 1)
    assert torch.allclose(logits, by_class, atol=1e-5)
    loss = module.losses((images, labels))["ce"]
    expected = -logits.log_softmax(1)[torch.arange(6), labels].mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_case_study_3_table_scores_each_arm_for_what_it_does(tmp_path):
    out = tmp_path / "cs3"
    records = cs3.main([*TINY, "--out", str(out)])
    by_arm = {r["method"]: r for r in records}
    assert "fid" not in by_arm["ce"] and "accuracy" not in by_arm["cond-rf"]
    assert 0 <= by_arm["lzn"]["accuracy"] <= 1 and 0 <= by_arm["lzn"]["read_as"] <= 1
    assert by_arm["ce"]["settings"].get("samples") is None
    table = (out / "results.md").read_text()
    assert "| ce |" in table and "| cond-rf |" in table and "Accuracy: LZN" in table
    assert "Conditional FID: LZN" in table


def test_verdicts_say_when_lzn_loses():
    def row(mean, std):
        return {"mean": mean, "std": std}

    rows = {"rf": {"fid": row(1.0, 0.1)}, "lzn": {"fid": row(1.5, 0.1)}}
    assert cs1.verdict(rows).startswith("RF+LZN loses")
    rows["lzn"]["fid"] = row(0.95, 0.1)
    assert "within the seed spread" in cs1.verdict(rows)
    rows["lzn"]["fid"] = row(0.5, 0.1)
    assert "more than the seed spread" in cs1.verdict(rows)
    joint = {"lzn": {"accuracy": row(0.95, 0), "fid": row(2.0, 0.1)},
             "ce": {"accuracy": row(0.97, 0)}, "cond-rf": {"fid": row(1.0, 0.1)}}  # fmt: skip
    accuracy, fid = cs3.verdicts(joint)
    assert "not within 1 point" in accuracy and "above the baseline" in fid


def test_mean_std_is_the_sample_standard_deviation():
    assert runs.mean_std([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))
    assert runs.mean_std([4.0]) == (4.0, 0.0)


def test_case_study_3_log_label_screen_is_the_log_of_the_papers_label_loss():
    """The screen changes only the form: -mean(max log P) where the paper has -mean(max P)."""
    args = cs3.parser().parse_args([*TINY, "--label-log", "--label-loss-weight", "2"])
    features = SimpleNamespace(name="features")
    s = cs3.settings("lzn", args, features)
    assert s["label_log"] is True and s["label_loss_weight"] == 2.0
    preset = cs3.settings("lzn", cs3.parser().parse_args(TINY), features)  # the preset's form
    recipe = presets.recipe("digits-joint")
    assert preset["label_log"] is recipe["label_log"]
    assert preset["label_loss_weight"] == recipe["label_loss_weight"]
    paper_args = cs3.parser().parse_args([*TINY, "--paper-label-loss", "--label-loss-weight", "1"])
    assert "label_log" not in cs3.settings("lzn", paper_args, features)  # as first recorded
    assert "label_loss_weight" not in cs3.settings("lzn", paper_args, features)
    L.seed_everything(0, verbose=False)
    screen = cs3.build("lzn", s)
    paper = cs3.build("lzn", {k: v for k, v in s.items() if k != "label_log"})
    paper.model.load_state_dict(screen.model.state_dict())
    z, labels = torch.randn(20, 16), torch.arange(20) % 10
    label = screen.model.label
    p = zoning.assignment_probabilities(z, label.anchors, labels, steps=100,
                                        weights=label.class_weights(labels))  # fmt: skip
    best = p[int(100 * label.cutoff) :].amax(0)
    log_form = screen.latent_losses(z, labels)["label"].item()
    assert log_form == pytest.approx(-2 * best.log().mean().item(), rel=1e-4)
    assert paper.latent_losses(z, labels)["label"].item() == pytest.approx(
        -2 * best.mean().item(), rel=1e-4
    )
