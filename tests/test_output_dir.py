"""A run's output folder is checked before anything is built, and nothing is created."""

import os

import pytest

from lzn.output_dir import check_output_dir


def test_a_folder_that_can_be_made_passes_and_is_not_made(tmp_path):
    assert check_output_dir(tmp_path / "a" / "b", "key") == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_the_way_is_named(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"^key .*/file is a file, not a folder$"):
        check_output_dir(tmp_path / "file", "key")
    with pytest.raises(ValueError, match=r"cannot be created: .*/file is a file, not a folder"):
        check_output_dir(tmp_path / "file" / "run" / "deeper", "key")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_is_refused(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(ValueError, match="ro is not writable"):
        check_output_dir(tmp_path / "ro", "key")
    with pytest.raises(ValueError, match=r"cannot be created: .*ro is not writable"):
        check_output_dir(tmp_path / "ro" / "run", "key")
