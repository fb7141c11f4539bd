"""Checkpoints are written atomically: a process killed in the middle of writing one leaves the
previous checkpoint whole and loadable. Their step is read without loading them."""

import subprocess
import sys
import textwrap

import pytest
import torch

from lzn.train.checkpoint_io import AtomicCheckpointIO, saved_step

KILLED_WHILE_SAVING = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from lzn.train import checkpoint_io

    io = checkpoint_io.AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 1, "w": torch.ones(1000)}, sys.argv[1])

    def killed_halfway(obj, path):  # write part of the file, then die without any cleanup
        with open(path, "wb") as f:
            f.write(b"PK" + bytes(100_000))
            f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    checkpoint_io.torch.save = killed_halfway
    io.save_checkpoint({"global_step": 2, "w": torch.zeros(1000)}, sys.argv[1])
    """
)


def test_a_kill_during_a_save_leaves_the_previous_checkpoint_usable(tmp_path):
    path = tmp_path / "last.ckpt"
    done = subprocess.run([sys.executable, "-c", KILLED_WHILE_SAVING, str(path)], check=False)
    assert done.returncode == -9
    checkpoint = AtomicCheckpointIO().load_checkpoint(path)
    assert checkpoint["global_step"] == 1
    assert torch.equal(checkpoint["w"], torch.ones(1000))


def test_a_save_replaces_the_checkpoint_and_leaves_no_temporary_files(tmp_path):
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"global_step": 1}, path)
    io.save_checkpoint({"global_step": 2}, path)
    assert io.load_checkpoint(path)["global_step"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_the_saved_step_is_read_and_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"global_step": 7, "w": torch.ones(10)}, path)
    assert saved_step(path) == 7
    torch.save({"w": torch.ones(1)}, tmp_path / "weights.pt")
    with pytest.raises(ValueError, match=r"weights\.pt is not a Lightning checkpoint"):
        saved_step(tmp_path / "weights.pt")
    (tmp_path / "junk").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk is truncated, corrupt"):
        saved_step(tmp_path / "junk")
