"""`knn:` weighted k-nearest-neighbour classification on frozen features (InstDisc, DINO)."""

from __future__ import annotations

from typing import ClassVar

from lzn.eval.sections import values
from lzn.eval.sections.base import EvaluationSection
from lzn.eval.sections.context import EvaluationContext


class KNN(EvaluationSection):
    name = "knn"
    defaults: ClassVar[dict] = {"k": [20, 200], "temperature": 0.07}
    phase = "representation"
    needs_test = True

    @classmethod
    def check(cls, settings: dict, given: dict) -> None:
        values.numbers(settings, "temperature")
        values.positive_ints(settings["k"], "knn k")

    def describe(self, context: EvaluationContext) -> str:
        return "knn"

    def run(self, context: EvaluationContext) -> dict:
        from lzn.eval.representation import knn

        f_train, f_test = context.frozen_features()
        return knn(
            f_train,
            context.train.labels,
            f_test,
            context.test.labels,
            device=context.config["device"],
            **self.settings,
        )
