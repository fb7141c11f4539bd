"""Lightning without its chatter: what a user of `lzn fit` or `lzn demo` can act on, nothing else.

Lightning logs banners at INFO level ("GPU available: False, used: False", "Seed set to 0",
"`Trainer.fit` stopped: `max_steps=...` reached", ...) and advertisements ("💡 Tip: ..."), and the
libraries under it raise deprecation warnings about each other (torch's LeafSpec in Lightning,
jsonargparse's) that a user of lzn cannot fix. `quiet_lightning()` hides both while it is
entered; warnings of any other category (e.g. a skipped corrupt image, a PossibleUserWarning)
stay visible, and so do errors.

    with quiet_lightning(verbose=args.verbose):
        trainer = L.Trainer(...)  # the device banner and the tips are logged here...
        trainer.fit(module, data)  # ...and here
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

# Lightning's loggers that set their own level (INFO); every logger under them inherits it.
LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")
# Warnings that speak to the authors of the libraries under lzn, not to its users.
LIBRARY_NOISE = (DeprecationWarning, FutureWarning)


@contextlib.contextmanager
def quiet_lightning(verbose: bool = False) -> Iterator[None]:
    """Inside: Lightning's INFO lines (banners, tips) and deprecation warnings are hidden; all is
    restored on exit. `verbose=True` changes nothing (what `--verbose` asks for)."""
    if verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        for category in LIBRARY_NOISE:
            warnings.filterwarnings("ignore", category=category)
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
