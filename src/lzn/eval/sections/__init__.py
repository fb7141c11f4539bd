"""The sections of an `lzn evaluate` config, one registered class per metric (docs/evaluation.md).

`SECTIONS` is the registry: the sections the command accepts, in the order they run and appear in
the report. A new metric is an `EvaluationSection` subclass (its settings' defaults, their
checks, its run) listed here.
"""

from lzn.eval.sections.accuracy import Accuracy
from lzn.eval.sections.base import EvaluationSection
from lzn.eval.sections.context import EvaluationContext
from lzn.eval.sections.generation import Generation
from lzn.eval.sections.knn import KNN
from lzn.eval.sections.linear_probe import LinearProbe
from lzn.eval.sections.reconstruction import Reconstruction

SECTIONS: dict[str, type[EvaluationSection]] = {
    section.name: section for section in (Generation, Accuracy, Reconstruction, LinearProbe, KNN)
}

__all__ = [
    "KNN",
    "SECTIONS",
    "Accuracy",
    "EvaluationContext",
    "EvaluationSection",
    "Generation",
    "LinearProbe",
    "Reconstruction",
]
