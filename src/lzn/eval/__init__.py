"""Evaluation that users can trust: offline, protocol-clean, reproducible (docs/evaluation.md).

    from lzn import eval as lzn_eval
    lzn_eval.frechet_distance(a, b)                        # FID's distance of two (n, d) arrays
    lzn_eval.kernel_inception_distance(a, b)               # KID, unbiased, torch-fidelity defaults
    lzn_eval.inception_score(logits)                       # IS, 10 splits
    lzn_eval.precision_recall(real, fake, k=3)             # Kynkaeaenniemi et al.
    lzn_eval.GenerativeMetrics(extractor, metrics)         # all of them on streamed images
    lzn_eval.ClassifierFeatures("digits" | "mnist")        # shipped offline features
    lzn_eval.InceptionFeatures(weights_path)               # standard TF-Inception (optional)
    lzn_eval.linear_probe(...), lzn_eval.knn(...)          # frozen-feature representation metrics
    lzn_eval.augmented_linear_probe(model.embed, ...)      # the paper's main probe (augmented)
    lzn_eval.classification_accuracy(model, x, y, alpha=0.0, batch_size=..., bank="model")
    lzn_eval.reconstruction_error(model, x, repeats=20)    # the paper's definition

`lzn evaluate --model DIR --config FILE --out DIR` runs them from a config (lzn.eval.command; one
class per config section in lzn.eval.sections).
"""

from lzn.eval.accuracy import accuracy_grid, classification_accuracy
from lzn.eval.augmented_probe import augmented_linear_probe
from lzn.eval.classifier import ClassifierFeatures
from lzn.eval.features import (
    CallableExtractor,
    FeatureExtractor,
    FeatureSet,
    FeatureStats,
    cached_extract,
    extract,
)
from lzn.eval.frechet import frechet_distance, frechet_distance_from_moments
from lzn.eval.generative import (
    GenerativeMetrics,
    fid,
    generated_batches,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)
from lzn.eval.inception import InceptionFeatures
from lzn.eval.reconstruction import reconstruction_error
from lzn.eval.representation import knn, linear_probe

__all__ = [
    "CallableExtractor",
    "ClassifierFeatures",
    "FeatureExtractor",
    "FeatureSet",
    "FeatureStats",
    "GenerativeMetrics",
    "InceptionFeatures",
    "accuracy_grid",
    "augmented_linear_probe",
    "cached_extract",
    "classification_accuracy",
    "extract",
    "fid",
    "frechet_distance",
    "frechet_distance_from_moments",
    "generated_batches",
    "inception_score",
    "kernel_inception_distance",
    "knn",
    "linear_probe",
    "precision_recall",
    "reconstruction_error",
]
