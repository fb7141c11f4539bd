"""SIGINT and SIGTERM during training ask to stop at the next step boundary; a second signal, or
one outside the steps, stops at once; a data-loader worker forked from the trainer ignores them."""

import os
import signal

import pytest
import torch

from lzn.train.interrupt import Interrupted, SignalStop


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_steps_asks_to_stop_and_a_second_stops_at_once(signum, capfd):
    stop = SignalStop()
    with stop.installed():
        stop.deferring = True
        os.kill(os.getpid(), signum)  # handled here, before the next line runs
        assert stop.requested == signum
        err = capfd.readouterr().err
        assert f"{signum.name} received: stopping after the step in progress" in err
        with pytest.raises(Interrupted) as stopped:
            os.kill(os.getpid(), signum)
    assert stopped.value.signum == signum and stopped.value.checkpoint is None


def test_a_signal_before_the_steps_stops_at_once_and_the_handlers_are_restored():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    stop = SignalStop()
    with pytest.raises(Interrupted), stop.installed():
        os.kill(os.getpid(), signal.SIGINT)
    assert stop.requested is None
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_forked_data_loader_worker_survives_the_signal():
    """Ctrl-C reaches every process of the terminal's group: a worker that died of it would fail
    the trainer's next fetch before the trainer could save."""
    stop = SignalStop()
    with stop.installed():
        stop.deferring = True
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.kill(os.getpid(), signal.SIGINT)
                code = 0 if stop.requested is None else 2  # ignored: the trainer decides
            except BaseException:
                code = 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert stop.requested is None  # the trainer itself got nothing


def test_a_lightning_without_the_checkpoint_internals_is_refused_before_training(monkeypatch):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from lzn.train.run_checkpoint import RunCheckpoint

    RunCheckpoint(save_last=True)  # this Lightning has them
    monkeypatch.delattr(ModelCheckpoint, "_save_last_checkpoint")
    with pytest.raises(RuntimeError, match=r"needs ModelCheckpoint\._save_last_checkpoint"):
        RunCheckpoint(save_last=True)


class _SignalsItself(torch.utils.data.Dataset):
    """Each item sends SIGTERM to the process that loads it (a cluster's SIGTERM to the job)."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        os.kill(os.getpid(), signal.SIGTERM)
        return torch.tensor(i)


def test_loader_workers_leave_stop_signals_to_the_trainer():
    from torch.utils.data import DataLoader

    from lzn.data.modules import ignore_stop_signals

    def load(**options):
        loader = DataLoader(
            _SignalsItself(), batch_size=2, num_workers=1, multiprocessing_context="spawn",
            **options,
        )  # fmt: skip
        return [batch.tolist() for batch in loader]

    # Spawned workers (macOS's and Windows' default) start with Python's handlers: without the
    # init function the worker dies of the signal and the loader raises.
    assert load(worker_init_fn=ignore_stop_signals) == [[0, 1], [2, 3]]
    with pytest.raises(RuntimeError, match=r"exited unexpectedly|killed by signal"):
        load()
