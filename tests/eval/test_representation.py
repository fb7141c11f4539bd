import numpy as np
import pytest
import torch

from lzn.data import digits
from lzn.eval import knn, linear_probe


@pytest.fixture(scope="module")
def pixels():
    x_train, y_train, x_test, y_test = digits.load()
    return x_train.flatten(1), y_train, x_test.flatten(1), y_test


def test_linear_probe_on_raw_pixels_reaches_the_known_digits_accuracy(pixels):
    # Logistic regression on the 64 raw pixels of scikit-learn's digits: about 95-97% held out.
    result = linear_probe(*pixels)
    assert 0.94 <= result["top1"] <= 0.985
    assert result["top5"] >= result["top1"]
    assert result["train_samples"] + 0 == len(pixels[0]) and result["test_samples"] == len(
        pixels[2]
    )
    assert str(result["weight_decay"]) in result["validation_top1"]


def test_linear_probe_never_looks_at_the_test_labels_to_choose(pixels):
    x_train, y_train, x_test, y_test = pixels
    shuffled = y_test[torch.randperm(len(y_test), generator=torch.Generator().manual_seed(0))]
    options = {"weight_decays": (1e-4, 1e-2, 1.0)}
    honest = linear_probe(x_train, y_train, x_test, y_test, **options)
    scrambled = linear_probe(x_train, y_train, x_test, shuffled, **options)
    assert honest["weight_decay"] == scrambled["weight_decay"]
    assert honest["validation_top1"] == scrambled["validation_top1"]
    assert scrambled["top1"] < 0.3  # the probe itself is the same; only the score changes


def test_linear_probe_is_reproducible(pixels):
    options = {"weight_decays": (1e-3, 1e-1), "max_iter": 50}
    assert linear_probe(*pixels, **options) == linear_probe(*pixels, **options)


def test_knn_on_identical_train_and_test_with_one_neighbour_is_perfect(pixels):
    x, y = pixels[0], pixels[1]
    result = knn(x, y, x, y, k=1)
    assert result["k=1"] == {"top1": 1.0, "top5": 1.0}


def test_knn_at_low_temperature_is_decided_by_the_identical_sample(pixels):
    # The sample itself (similarity 1) outweighs every other neighbour as T -> 0, for any k; the
    # shifted weights keep exp(s / T) from overflowing.
    x, y = pixels[0], pixels[1]
    result = knn(x, y, x, y, k=(20, 200), temperature=1e-3)
    assert result["k=20"]["top1"] == 1.0 and result["k=200"]["top1"] == 1.0


def test_knn_with_one_neighbour_is_nearest_neighbour_classification(pixels):
    from sklearn.neighbors import KNeighborsClassifier

    x_train, y_train, x_test, y_test = (np.asarray(a) for a in pixels)
    sk = KNeighborsClassifier(n_neighbors=1, metric="cosine").fit(x_train, y_train)
    expected = float((sk.predict(x_test) == y_test).mean())
    assert knn(x_train, y_train, x_test, y_test, k=1)["k=1"]["top1"] == pytest.approx(expected)


def test_knn_on_digits_pixels_in_chunks(pixels):
    whole = knn(*pixels)
    chunked = knn(*pixels, chunk=50)
    assert whole == chunked
    assert 0.9 < whole["k=20"]["top1"] <= whole["k=20"]["top5"] <= 1.0
    assert whole["k=200"]["top1"] <= 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"k": 2000}, "k=2000 is larger than the train set"),
        ({"temperature": 0.0}, "temperature must be positive"),
    ],
)
def test_knn_refuses_bad_settings(pixels, change, message):
    with pytest.raises(ValueError, match=message):
        knn(*pixels, **change)


def test_representation_metrics_refuse_bad_input(pixels):
    x_train, y_train, x_test, y_test = pixels
    with pytest.raises(ValueError, match="different feature dimensions"):
        knn(x_train, y_train, x_test[:, :10], y_test)
    with pytest.raises(ValueError, match="the train labels must have shape"):
        linear_probe(x_train, y_train[:5], x_test, y_test)
    bad = x_test.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite values in the test features"):
        knn(x_train, y_train, bad, y_test)


def test_linear_probe_agrees_with_scikit_learn_at_the_same_penalty(pixels):
    # Our objective mean CE + wd / 2 ||W||^2 is scikit-learn's with C = 1 / (n wd).
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x_train, y_train, x_test, y_test = (np.asarray(a) for a in pixels)
    wd = 1e-2
    ours = linear_probe(x_train, y_train, x_test, y_test, weight_decays=(wd,))
    scaler = StandardScaler().fit(x_train)
    sk = LogisticRegression(C=1 / (len(x_train) * wd), max_iter=5000)
    sk.fit(scaler.transform(x_train), y_train)
    expected = float((sk.predict(scaler.transform(x_test)) == y_test).mean())
    assert abs(ours["top1"] - expected) <= 1 / len(y_test) + 1e-12  # at most one image apart
