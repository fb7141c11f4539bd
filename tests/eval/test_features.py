import numpy as np
import pytest
import torch

from lzn.eval import CallableExtractor, FeatureSet, FeatureStats, cached_extract, extract


def test_streamed_moments_equal_numpy_on_all_samples():
    rng = np.random.RandomState(0)
    x = rng.randn(1000, 8) @ rng.randn(8, 8) + 5.0
    stats = FeatureStats()
    for i in range(0, 1000, 37):  # ragged batches, one of a single sample
        stats.update(x[i : i + 37])
    stats.update(x[:1])
    y = np.concatenate([x, x[:1]])
    np.testing.assert_allclose(stats.mean, y.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(y, rowvar=False), rtol=1e-10, atol=1e-12)


def test_moments_keep_precision_with_a_large_mean():
    # sum(x x^T) / n - mu mu^T would lose all digits here: variance 1e-6 around 1e4 in float64.
    rng = np.random.RandomState(1)
    x = 1e4 + 1e-3 * rng.randn(5000, 3)
    stats = FeatureStats()
    for batch in np.array_split(x, 50):
        stats.update(batch)
    np.testing.assert_allclose(stats.covariance, np.cov(x, rowvar=False), rtol=1e-6)


def test_extract_streams_a_generator_and_keeps_only_what_is_asked():
    seen = []

    def source():
        for _ in range(20):
            batch = torch.randn(25, 1, 4, 4)
            seen.append(batch)
            yield batch

    pixels = CallableExtractor(lambda x: x.flatten(1), "pixels")
    result = extract(pixels, source(), keep_features=False)
    assert result.n == 500 and result.features is None and result.logits is None
    all_pixels = torch.cat(seen).flatten(1).double().numpy()
    np.testing.assert_allclose(
        result.stats.covariance, np.cov(all_pixels, rowvar=False), atol=1e-12
    )


def test_extract_refuses_logits_from_an_extractor_without_them():
    with pytest.raises(ValueError, match="gives no class logits"):
        extract(
            CallableExtractor(lambda x: x.flatten(1), "p"),
            torch.zeros(4, 1, 2, 2),
            keep_logits=True,
        )


def test_feature_set_round_trips_through_npz(tmp_path):
    x = torch.randn(30, 5)
    original = extract(
        CallableExtractor(lambda z: z, "identity", logits=lambda z: 2 * z), x, keep_logits=True
    )
    original.save(tmp_path / "set.npz")
    loaded = FeatureSet.load(tmp_path / "set.npz")
    assert loaded.name == "identity" and loaded.n == 30
    np.testing.assert_array_equal(loaded.features, original.features)
    np.testing.assert_array_equal(loaded.logits, original.logits)
    np.testing.assert_allclose(loaded.stats.covariance, original.stats.covariance)


def test_reference_features_are_computed_once_and_cached(tmp_path):
    calls = []

    def images():
        calls.append(1)
        return torch.randn(40, 1, 3, 3, generator=torch.Generator().manual_seed(0))

    pixels = CallableExtractor(lambda x: x.flatten(1), "pixels")
    first, path = cached_extract("toy-train", pixels, images, cache_dir=tmp_path)
    second, _ = cached_extract("toy-train", pixels, images, cache_dir=tmp_path)
    assert len(calls) == 1 and path.is_file()
    np.testing.assert_array_equal(first.features, second.features)
    # Other features of the same images never reuse the file.
    doubled = CallableExtractor(lambda x: 2 * x.flatten(1), "doubled-pixels")
    third, other_path = cached_extract("toy-train", doubled, images, cache_dir=tmp_path)
    assert len(calls) == 2 and other_path != path
    np.testing.assert_allclose(third.features, 2 * first.features)


def test_a_corrupt_cache_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a cached feature file"):
        FeatureSet.load(tmp_path / "bad.npz")


def test_generated_batches_are_drawn_one_at_a_time():
    from lzn.eval import generated_batches

    class CountingModel:
        def __init__(self):
            self.calls = []

        def generate(self, n, labels, *, generator, sampler, steps):
            self.calls.append((n, None if labels is None else labels.tolist()))
            return torch.zeros(n, 1, 2, 2)

    model = CountingModel()
    stream = generated_batches(model, 50_000, batch_size=500, sampler="euler", steps=1)
    assert len(next(stream)) == 500 and len(model.calls) == 1  # nothing drawn ahead
    labels = torch.arange(7) % 3
    parts = list(generated_batches(model, 7, batch_size=3, labels=labels, sampler="euler", steps=1))
    assert [len(p) for p in parts] == [3, 3, 1]
    assert [c[1] for c in model.calls[1:]] == [[0, 1, 2], [0, 1, 2], [0]]


def test_fifty_thousand_samples_stream_through_the_statistics():
    generator = torch.Generator().manual_seed(0)

    def samples():
        for _ in range(100):
            yield torch.randn(500, 1, 2, 2, generator=generator) + 3.0

    result = extract(
        CallableExtractor(lambda x: x.flatten(1), "pixels"), samples(), keep_features=False
    )
    assert result.n == 50_000 and result.features is None
    np.testing.assert_allclose(result.stats.mean, 3.0, atol=0.02)
    np.testing.assert_allclose(result.stats.covariance, np.eye(4), atol=0.02)
