"""`accuracy:` classification accuracy on the test split, over alphas, evaluation batch sizes and
anchor banks (docs/evaluation.md, "Classification accuracy")."""

from __future__ import annotations

from typing import ClassVar

from lzn.eval.sections import values
from lzn.eval.sections.base import EvaluationSection
from lzn.eval.sections.context import EvaluationContext

BANKS = ("model", "train", "none")


class Accuracy(EvaluationSection):
    name = "accuracy"
    defaults: ClassVar[dict] = {
        "alphas": [1.0, 0.5, 0.0],
        "batch_sizes": [None],  # null: the whole test split in one evaluation batch
        "bank": "model",  # model | train | none, or a list of them
    }
    needs_test = True
    needs_memory = True  # the default evaluation batch is the whole test split

    @classmethod
    def check(cls, settings: dict, given: dict) -> None:
        values.numbers(settings, "alphas")
        if not isinstance(settings["alphas"], list):  # one alpha
            settings["alphas"] = [settings["alphas"]]
        if not isinstance(settings["bank"], list):
            settings["bank"] = [settings["bank"]]
        settings["bank"] = ["none" if bank is None else bank for bank in settings["bank"]]
        for bank in settings["bank"]:
            if bank not in BANKS:
                raise ValueError(f"accuracy bank must be model, train or none, got {bank!r}")
        if any(not isinstance(a, (int, float)) or a < 0 for a in settings["alphas"]):
            raise ValueError(
                f"accuracy alphas must be non-negative numbers, got {settings['alphas']}"
            )
        values.positive_ints(settings["batch_sizes"], "accuracy batch_sizes", allow_none=True)

    def check_model(self, model) -> None:
        if model.label is None:
            raise ValueError("accuracy needs a label modality; this model has none")
        if "model" in self.settings["bank"] and getattr(model, "bank", None) is None:
            raise ValueError(
                "accuracy bank: model, but this model carries no anchor bank (bank.safetensors; "
                "converted official checkpoints and older models have none): use bank: train "
                "(anchors of the train split) or bank: none (the batch alone, the paper's Alg. 9)"
            )

    def describe(self, context: EvaluationContext) -> str:
        acc = self.settings
        return f"banks {acc['bank']}, alphas {acc['alphas']}, batch sizes {acc['batch_sizes']}"

    def run(self, context: EvaluationContext) -> list[dict]:
        from lzn.eval import report as rep
        from lzn.eval.accuracy import accuracy_grid

        acc, rows = self.settings, []
        for setting in acc["bank"]:
            bank, source = _bank(context.model, setting, context.x_train)
            rows += accuracy_grid(
                context.model,
                context.x_test,
                context.y_test,
                alphas=acc["alphas"],
                batch_sizes=acc["batch_sizes"],
                bank=bank,
                bank_source=source,
                seed=context.seed,
                progress=context.progress,
            )
        if len(rows) > 1:
            rep.plot_accuracy(rows, context.out / "accuracy.png")
        return rows


def _bank(model, setting: str, x_train):
    """(anchors or None, source) of an accuracy bank setting (model | train | none)."""
    if setting == "none":
        return None, "none"
    if setting == "train":
        return model.anchor_bank(x_train), "train split anchors"
    balanced = getattr(model, "bank_labels", None) is not None
    return model.bank, "model's exported bank" + (", class-balanced" if balanced else "")
