"""`quiet_lightning` hides Lightning's banners and tips and the libraries' deprecation warnings,
keeps every other warning, and restores everything on exit."""

import io
import logging
import warnings

import lightning as L
import pytest

from lzn.train.quiet import quiet_lightning


@pytest.fixture
def lightning_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("lightning.pytorch")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


@pytest.mark.parametrize("verbose", [False, True])
def test_a_plain_trainer_made_inside_logs_no_banner(verbose, lightning_log):
    level = logging.getLogger("lightning.pytorch").level
    with quiet_lightning(verbose):
        L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False)
    assert ("GPU available" in lightning_log.getvalue()) == verbose
    assert logging.getLogger("lightning.pytorch").level == level  # restored


def test_deprecation_warnings_are_hidden_and_others_kept():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_lightning():
            warnings.warn("old api", DeprecationWarning, stacklevel=1)
            warnings.warn("old behaviour", FutureWarning, stacklevel=1)
            warnings.warn("a corrupt image was skipped", UserWarning, stacklevel=1)
        warnings.warn("after", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["a corrupt image was skipped", "after"]
