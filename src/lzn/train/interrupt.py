"""Ctrl-C (SIGINT) and SIGTERM during training: finish the step in progress, save, stop.

A signal can arrive anywhere in a step: between the optimizer's update of two parameter groups,
between the update and the EMA's. A checkpoint written there would hold a state that no step
produces, and one of the state before the step would lose the step. So the first SIGINT or
SIGTERM only asks the run to stop (`SignalStop.requested`): the step in progress completes, and
at its end `lzn.train.run_checkpoint.RunCheckpoint` writes `last.ckpt` and raises `Interrupted`.
A second signal stops at once, as does a signal before training starts or after its last step
(no step boundary is left to wait for; what is saved stays as it is).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):  # like KeyboardInterrupt: no `except Exception` swallows it
    """Training stopped by signal `signum`; `checkpoint` holds the state after step `step`, or
    is None when it stopped at once without saving."""

    def __init__(self, signum: int, step: int | None = None, checkpoint: str | None = None):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.step = int(signum), step
        self.checkpoint = None if checkpoint is None else Path(checkpoint)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class SignalStop:
    """SIGINT and SIGTERM handlers, while `installed()`, that ask training to stop at the next
    step boundary (`deferring`, set while steps run) or else raise `Interrupted` at once."""

    def __init__(self, announce: bool = True):
        self.requested: int | None = None  # the signal that asked to stop
        self.deferring = False
        self.announce = announce  # say so on stderr (rank 0 only)
        self._pid = os.getpid()
        self._active = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[SignalStop]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # Python handles signals in the main thread only
            return
        previous = {s: signal.getsignal(s) for s in SIGNALS}
        self._pid, self._active = os.getpid(), True
        self.claim()
        try:
            yield self
        finally:
            self._active = False
            for s, handler in previous.items():
                signal.signal(s, signal.SIG_DFL if handler is None else handler)

    def claim(self) -> None:
        """(Re)install the handlers: Lightning puts its own SIGTERM handler in front of ours
        when a fit starts, and that one would stop the run after our save point."""
        if self._active and threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                signal.signal(s, self._handle)

    def _handle(self, signum: int, frame) -> None:
        if os.getpid() != self._pid:
            return  # a data-loader worker forked from the trainer: the trainer stops it
        if self.requested is not None or not self.deferring:
            raise Interrupted(signum)
        self.requested = signum
        if self.announce:
            name = signal.Signals(signum).name
            message = (
                f"\nlzn fit: {name} received: stopping after the step in progress to save a "
                f"checkpoint (send {name} again to stop at once without saving)\n"
            )
            # os.write, not print: a handler that prints while the bar prints raises.
            with contextlib.suppress(OSError):
                os.write(2, message.encode())
