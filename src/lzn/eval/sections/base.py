"""What a section of an `lzn evaluate` config is: the schema of its settings and how it runs."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from lzn.eval.datasets import EvaluationSplit
    from lzn.eval.sections.context import EvaluationContext
    from lzn.eval.sources import Images


class EvaluationSection(ABC):
    """One section of the config (`generation:`, `accuracy:`, ...); its presence runs it.

    The class is the schema: `defaults` holds every setting with its default, and `validate`
    turns what a config gives into complete settings, or a ValueError that names the key. An
    instance is a configured section: `check_model` refuses a model it cannot evaluate,
    `describe` says what it will run, and `run` returns its results (the report's
    `results[name]`).
    """

    name: ClassVar[str]
    defaults: ClassVar[dict]
    # Sections of one phase share a progress line and a time in the report (linear_probe and knn
    # share "representation", as they share the frozen features); empty: the section's name.
    phase: ClassVar[str] = ""
    # What the section needs of the data: a test split (a folder of images has none), and the
    # whole splits in memory (ImageNet and folders are streamed from disk).
    needs_test: ClassVar[bool] = False
    needs_memory: ClassVar[bool] = False

    def __init__(self, settings: dict):
        """`settings`: complete, as `validate` returns them."""
        self.settings = settings

    @classmethod
    def validate(cls, given: dict | None) -> dict:
        """The settings with every default filled in and values normalised; unknown keys and bad
        values are ValueErrors that name them."""
        given = given or {}
        if not isinstance(given, dict):
            raise ValueError(f"{cls.name} must be a mapping of settings")
        unknown = sorted(set(given) - set(cls.defaults))
        if unknown:
            raise ValueError(f"unknown {cls.name} settings {unknown}; known: {list(cls.defaults)}")
        settings = {**copy.deepcopy(cls.defaults), **given}
        cls.check(settings, given)
        return settings

    @classmethod  # noqa: B027 (an optional hook)
    def check(cls, settings: dict, given: dict) -> None:
        """Check and normalise the complete `settings` in place (`given`: the config's own keys),
        so that a bad value stops the command before any work, not after minutes of sampling."""

    def check_model(self, model) -> None:  # noqa: B027 (an optional hook)
        """Refuse, before any work starts, a model this section cannot evaluate."""

    def check_split(self, config: dict, split: EvaluationSplit) -> None:  # noqa: B027
        """Refuse, before the data is read, a data set this section cannot run on with the
        config's top-level settings (an optional hook)."""

    def check_data(self, model, train: Images, test: Images | None) -> None:
        """Refuse, before any work starts, data this section cannot run on (with `model`)."""
        if self.needs_test and test is None:
            raise ValueError(f"{self.name} needs a test split; {train.source} has none")
        if self.needs_memory and train.streamed:
            raise ValueError(
                f"{self.name} needs the whole splits in memory; {train.source} is streamed "
                "from disk (data: digits, mnist or cifar10 are held in memory)"
            )

    @abstractmethod
    def describe(self, context: EvaluationContext) -> str:
        """What the run will do, for its progress line."""

    @abstractmethod
    def run(self, context: EvaluationContext):
        """This section's results (JSON-ready); plots go to `context.out`."""
